package sense

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// process is what /proc tells of a process, read once and cached.
type process struct {
	exe, cwd  string
	args      []string
	container string
	// gone is true when /proc/<tgid> could not be read (the process exited first).
	gone bool
}

type procKey struct {
	tgid  uint32
	start uint64
	comm  string // a changed comm after execve reads the new program again
}

// procCache holds the processes seen lately, at most max of them: the oldest entry goes
// first when it is full (FIFO, so a steady stream of new processes cannot grow it).
type procCache struct {
	root  string
	max   int
	m     map[procKey]*process
	order []procKey
	head  int
}

func newProcCache(root string, max int) *procCache {
	return &procCache{root: root, max: max, m: make(map[procKey]*process, max)}
}

// get returns the process of r, reading /proc on a miss.
func (c *procCache) get(r *Record) (p *process, miss bool) {
	k := procKey{r.TGID, r.StartTime, r.Comm}
	if p, ok := c.m[k]; ok {
		return p, false
	}
	p = readProc(c.root, r.TGID)
	if len(c.order) < c.max {
		c.order = append(c.order, k)
	} else {
		delete(c.m, c.order[c.head])
		c.order[c.head] = k
		c.head = (c.head + 1) % c.max
	}
	c.m[k] = p
	return p, true
}

func readProc(root string, tgid uint32) *process {
	dir := filepath.Join(root, strconv.FormatUint(uint64(tgid), 10))
	p := &process{}
	var err error
	if p.exe, err = os.Readlink(filepath.Join(dir, "exe")); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			p.gone = true
			return p
		}
	}
	// A deleted executable (replaced by an upgrade, or run from memory) reads "path (deleted)".
	p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
		p.args = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		p.container = containerID(b)
	}
	return p
}

// containerIDPattern is the 64 hex digits Docker, containerd, CRI-O and Podman name a
// container by, as they appear in cgroup paths: /docker/<id>, docker-<id>.scope,
// cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope, kubepods/.../<id>.
var containerIDPattern = regexp.MustCompile(`(?:^|[/\-])([0-9a-f]{64})(?:\.scope)?$`)

// containerID finds a container id in the contents of /proc/<pid>/cgroup; "" for a process
// on the host.
func containerID(cgroup []byte) string {
	for line := range bytes.Lines(cgroup) {
		line = bytes.TrimSpace(line)
		// hierarchy-id:controllers:path; the path may itself hold colons.
		parts := bytes.SplitN(line, []byte(":"), 3)
		if len(parts) != 3 {
			continue
		}
		path := string(parts[2])
		for seg := range strings.SplitSeq(path, "/") {
			if m := containerIDPattern.FindStringSubmatch(seg); m != nil {
				return m[1]
			}
		}
	}
	return ""
}

// userNames maps uids to names from a passwd file, read again when it changes.
type userNames struct {
	path    string
	mtime   time.Time
	checked time.Time
	names   map[uint32]string
}

// lookup returns the name of uid ("" when unknown). The file's time is checked at most once
// a second, so a burst of connects costs one stat.
func (u *userNames) lookup(uid uint32, now time.Time) string {
	if u.path == "" {
		return ""
	}
	if now.Sub(u.checked) >= time.Second {
		u.checked = now
		if fi, err := os.Stat(u.path); err == nil && !fi.ModTime().Equal(u.mtime) {
			u.mtime = fi.ModTime()
			u.names = parsePasswd(u.path)
		}
	}
	return u.names[uid]
}

func parsePasswd(path string) map[uint32]string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	names := map[uint32]string{}
	for line := range strings.Lines(string(b)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 4)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := names[uint32(uid)]; !dup {
			names[uint32(uid)] = f[0]
		}
	}
	return names
}

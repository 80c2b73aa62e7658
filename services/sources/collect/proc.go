package collect

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/event"
)

// tables are the socket tables read in each network namespace.
var tables = [...]struct {
	name      string
	transport Transport
}{{"tcp", TCP}, {"tcp6", TCP}, {"udp", UDP}, {"udp6", UDP}}

// pids lists the numeric entries of the proc root, in ascending order.
func pids(root string) ([]int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(entries))
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out, nil
}

// netNamespaces groups pids by network namespace (the inode of /proc/<pid>/ns/net). Pids
// whose namespace cannot be read (gone, or not ours to inspect) are left out.
func netNamespaces(root string, all []int) map[uint64][]int {
	ns := map[uint64][]int{}
	for _, pid := range all {
		link, err := os.Readlink(filepath.Join(root, strconv.Itoa(pid), "ns", "net"))
		if err != nil {
			continue
		}
		if ino, ok := bracketed(link, "net:["); ok {
			ns[ino] = append(ns[ino], pid)
		}
	}
	return ns
}

// bracketed parses the number of a link target such as "socket:[1234]" or "net:[4026531840]".
func bracketed(link, prefix string) (uint64, bool) {
	rest, ok := strings.CutPrefix(link, prefix)
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// readTables appends the sockets of dir's tables (dir is <root>/<pid>/net or <root>/net).
// It fails only when not one table can be read.
func readTables(dst []Socket, dir string, buf *bytes.Buffer) ([]Socket, int, error) {
	read, bad := 0, 0
	var lastErr error
	for _, t := range tables {
		f, err := os.Open(filepath.Join(dir, t.name))
		if err != nil {
			lastErr = err
			continue
		}
		buf.Reset()
		_, err = buf.ReadFrom(f)
		f.Close()
		if err != nil {
			lastErr = err
			continue
		}
		read++
		if dst, err = ParseTable(dst, buf.Bytes(), t.transport); err != nil {
			bad++
		}
	}
	if read == 0 {
		return dst, bad, lastErr
	}
	return dst, bad, nil
}

// socketOwners finds the process holding each wanted socket inode by the links in
// /proc/<pid>/fd. A socket shared by several processes (inherited across fork) is given to
// the lowest pid. It stops as soon as every socket is found.
func socketOwners(root string, all []int, want map[uint64]bool) map[uint64]int {
	owners := make(map[uint64]int, len(want))
	for _, pid := range all {
		dir := filepath.Join(root, strconv.Itoa(pid), "fd")
		d, err := os.Open(dir)
		if err != nil {
			continue
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, name := range names {
			link, err := os.Readlink(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			ino, ok := bracketed(link, "socket:[")
			if !ok || !want[ino] {
				continue
			}
			if _, dup := owners[ino]; !dup {
				owners[ino] = pid
			}
		}
		if len(owners) == len(want) {
			break
		}
	}
	return owners
}

// readProcess reads what /proc tells of pid: comm, exe, cmdline, cwd, parent and real uid.
// What cannot be read (a process gone meanwhile, or not ours to inspect) stays empty; ok is
// false when not even the name can be read.
func readProcess(root string, pid int) (p event.Process, uid string, ok bool) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	comm, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return p, "", false
	}
	p.Name = strings.TrimSuffix(string(comm), "\n")
	p.PID = int64(pid)
	p.Executable, _ = os.Readlink(filepath.Join(dir, "exe"))
	p.WorkingDirectory, _ = os.Readlink(filepath.Join(dir, "cwd"))
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
		p.Args = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	if f, err := os.Open(filepath.Join(dir, "status")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			switch k {
			case "PPid":
				p.Parent.PID, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			case "Uid":
				if fields := strings.Fields(v); len(fields) > 0 {
					uid = fields[0]
				}
			}
		}
		f.Close()
	}
	return p, uid, true
}

// userNames maps uids to names from a passwd file, read again when it changes.
type userNames struct {
	path  string
	mtime time.Time
	names map[string]string
}

func (u *userNames) lookup(uid string) string {
	if uid == "" || u.path == "" {
		return ""
	}
	if fi, err := os.Stat(u.path); err == nil && !fi.ModTime().Equal(u.mtime) {
		u.mtime = fi.ModTime()
		u.names = parsePasswd(u.path)
	}
	return u.names[uid]
}

func parsePasswd(path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	names := map[string]string{}
	for line := range strings.Lines(string(b)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 4)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if _, dup := names[f[2]]; !dup {
			names[f[2]] = f[0]
		}
	}
	return names
}

// Package tokens reads the token file shared by rarenet's HTTP endpoints (the console, the HTTP
// input): one token per line, kept only as its SHA-256, checked in constant time, and reloaded
// when the file changes or the process gets SIGHUP.
//
// The format, one entry a line ('#' starts a comment, blank lines are skipped):
//
//	NAME SHA256-OF-TOKEN [HOST-PATTERN...] [role=read|triage]
//
// NAME names the holder in logs and audit trails; SHA256-OF-TOKEN is the hex SHA-256 of the
// token (`printf %s "$TOKEN" | sha256sum`), so the file never holds a usable secret. HOST-PATTERN
// words (globs as path.Match reads them: web-*, db-0?) limit the host names a token may send
// events for (the HTTP input); none means any host. Words with '=' are options: role=read or
// role=triage is the token's role in the console (read when absent). Host patterns never
// contain '='.
package tokens

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
)

// Roles of a token in the console.
const (
	// RoleRead may look at signals and their context.
	RoleRead = "read"
	// RoleTriage may also change a signal's status and add exceptions.
	RoleTriage = "triage"
)

// ErrSyntax is wrapped by every error about the file's content; the message names the file,
// the line and what was expected.
var ErrSyntax = errors.New("tokens: bad token file")

// Entry is one token of the file.
type Entry struct {
	// Name is the holder's name.
	Name string
	// Hosts are the host-name patterns the token may speak for; empty allows any host.
	Hosts []string
	// Role is RoleRead or RoleTriage.
	Role string
	hash [sha256.Size]byte
	// hosts caches AllowsHost's answers: a shipper sends many events of few hosts, so the
	// patterns are matched once per host name, not once per event.
	hosts *hostCache
}

// maxCachedHosts bounds an entry's cache of answers, so a client sending ever new host
// names cannot grow it without end; past it, the patterns are matched every time.
const maxCachedHosts = 4096

type hostCache struct {
	mu sync.RWMutex
	m  map[string]bool
}

// AllowsHost reports whether the token may send events for host.
func (e *Entry) AllowsHost(host string) bool {
	if len(e.Hosts) == 0 {
		return true
	}
	if e.hosts == nil {
		return e.matchHost(host)
	}
	e.hosts.mu.RLock()
	ok, cached := e.hosts.m[host]
	e.hosts.mu.RUnlock()
	if cached {
		return ok
	}
	ok = e.matchHost(host)
	e.hosts.mu.Lock()
	if len(e.hosts.m) < maxCachedHosts {
		e.hosts.m[host] = ok
	}
	e.hosts.mu.Unlock()
	return ok
}

func (e *Entry) matchHost(host string) bool {
	for _, p := range e.Hosts {
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}

// CanTriage reports whether the token may change signals' status and add exceptions.
func (e *Entry) CanTriage() bool { return e.Role == RoleTriage }

// Set is a parsed token file. The zero Set accepts no token.
type Set struct {
	entries []Entry
}

// Len is the number of tokens in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.entries)
}

// ByName returns the entry named name, or nil: a source that authenticated some other way
// (its NATS user, which may publish only on subjects naming it) is bound to the host
// patterns of the entry of that name.
func (s *Set) ByName(name string) *Entry {
	if s == nil {
		return nil
	}
	for i := range s.entries {
		if s.entries[i].Name == name {
			return &s.entries[i]
		}
	}
	return nil
}

// Lookup returns the entry of token, or nil. Every entry is compared, each in constant time,
// so the time taken tells nothing of which entry, or how much of a hash, matched.
func (s *Set) Lookup(token string) *Entry {
	if s == nil || token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	var found *Entry
	for i := range s.entries {
		if subtle.ConstantTimeCompare(sum[:], s.entries[i].hash[:]) == 1 && found == nil {
			found = &s.entries[i]
		}
	}
	return found
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]+$`)
	hashPattern = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Parse reads a token file; name is used in error messages.
func Parse(name string, r io.Reader) (*Set, error) {
	s := &Set{}
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		words := strings.Fields(text)
		if len(words) == 0 {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s:%d: %s", ErrSyntax, name, line, fmt.Sprintf(format, args...))
		}
		if len(words) < 2 {
			return nil, bad("want NAME SHA256-OF-TOKEN [HOST-PATTERN...] [role=read|triage], got %d word", len(words))
		}
		e := Entry{Name: words[0], Role: RoleRead}
		if !namePattern.MatchString(e.Name) {
			return nil, bad("name %q: want letters, digits and _.@- only", e.Name)
		}
		if prev, dup := names[e.Name]; dup {
			return nil, bad("name %q is already used on line %d", e.Name, prev)
		}
		if !hashPattern.MatchString(words[1]) {
			return nil, bad("second word: want the token's SHA-256 as 64 hex digits (printf %%s TOKEN | sha256sum), got %d characters", len(words[1]))
		}
		hex.Decode(e.hash[:], []byte(strings.ToLower(words[1])))
		if prev, dup := hashes[e.hash]; dup {
			return nil, bad("the same token hash as line %d: give each holder a token of their own", prev)
		}
		roleSet := false
		for _, w := range words[2:] {
			key, val, isOpt := strings.Cut(w, "=")
			if !isOpt {
				if _, err := path.Match(w, ""); err != nil {
					return nil, bad("host pattern %q: %v", w, err)
				}
				e.Hosts = append(e.Hosts, w)
				continue
			}
			switch key {
			case "role":
				if val != RoleRead && val != RoleTriage {
					return nil, bad("role %q: want read or triage", val)
				}
				if roleSet {
					return nil, bad("role given twice")
				}
				e.Role, roleSet = val, true
			default:
				return nil, bad("option %q: the only option is role=read|triage", key)
			}
		}
		if len(e.Hosts) > 0 {
			e.hosts = &hostCache{m: map[string]bool{}}
		}
		names[e.Name], hashes[e.hash] = line, line
		s.entries = append(s.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens: read %s: %w", name, err)
	}
	return s, nil
}

// Load reads and parses the token file at path.
func Load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return Parse(path, bytes.NewReader(b))
}

// Hash returns the hex SHA-256 of token: the second word of its line in the file.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

package tokens

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	file := strings.Join([]string{
		"# who  sha256(token)  [hosts]  [role]",
		"",
		"alice " + Hash("alice-secret") + " role=triage   # the on-call analyst",
		"shipper-web " + Hash("web-secret") + " web-* db-0?",
		"bob " + strings.ToUpper(Hash("bob-secret")) + " role=read",
		"carol " + Hash("carol-secret"),
	}, "\n")
	s, err := Parse("tokens", strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 {
		t.Fatalf("%d tokens, want 4", s.Len())
	}
	tests := []struct {
		token, name, role string
		hosts             []string
	}{
		{"alice-secret", "alice", RoleTriage, nil},
		{"web-secret", "shipper-web", RoleRead, []string{"web-*", "db-0?"}},
		{"bob-secret", "bob", RoleRead, nil},
		{"carol-secret", "carol", RoleRead, nil},
	}
	for _, tt := range tests {
		e := s.Lookup(tt.token)
		if e == nil {
			t.Errorf("%s: not found", tt.token)
			continue
		}
		if e.Name != tt.name || e.Role != tt.role || strings.Join(e.Hosts, " ") != strings.Join(tt.hosts, " ") {
			t.Errorf("%s: got %+v", tt.token, e)
		}
	}
	for _, bad := range []string{"", "alice", "alice-secret ", Hash("alice-secret"), "ALICE-SECRET"} {
		if e := s.Lookup(bad); e != nil {
			t.Errorf("token %q accepted as %s", bad, e.Name)
		}
	}
	web := s.Lookup("web-secret")
	for host, want := range map[string]bool{"web-1": true, "web-": true, "db-01": true, "db-1": false, "mail": false} {
		if got := web.AllowsHost(host); got != want {
			t.Errorf("web token allows %q: %v, want %v", host, got, want)
		}
	}
	if !s.Lookup("carol-secret").AllowsHost("anything") {
		t.Error("a token without host patterns must allow any host")
	}
	if !s.Lookup("alice-secret").CanTriage() || s.Lookup("bob-secret").CanTriage() {
		t.Error("CanTriage follows role=triage only")
	}
	var zero *Set
	if zero.Lookup("x") != nil || zero.Len() != 0 {
		t.Error("a nil set must accept nothing")
	}
}

func TestParseErrors(t *testing.T) {
	h := Hash("x")
	tests := []struct {
		file, want string
	}{
		{"alice", "tokens:1: want NAME SHA256-OF-TOKEN"},
		{"# c\nalice abc", "tokens:2: second word: want the token's SHA-256 as 64 hex digits"},
		{"alice plain-token-not-a-hash-plain-token-not-a-hash-plain-token-not", "tokens:1: second word"},
		{"al ice " + h, "tokens:1: second word"},
		{"a/b " + h, `tokens:1: name "a/b"`},
		{"a " + h + "\na " + Hash("y"), `tokens:2: name "a" is already used on line 1`},
		{"a " + h + "\nb " + h, "tokens:2: the same token hash as line 1"},
		{"a " + h + " role=admin", `tokens:1: role "admin": want read or triage`},
		{"a " + h + " role=read role=triage", "tokens:1: role given twice"},
		{"a " + h + " expires=2025", `tokens:1: option "expires"`},
		{"a " + h + " web-[", `tokens:1: host pattern "web-["`},
	}
	for _, tt := range tests {
		_, err := Parse("tokens", strings.NewReader(tt.file))
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want ErrSyntax with %q", tt.file, err, tt.want)
		}
	}
}

// waitReload waits for the next reload attempt of f.
func waitReload(t *testing.T, f *File) {
	t.Helper()
	select {
	case <-f.reloaded:
	case <-time.After(3 * PollInterval):
		t.Fatal("the token file was not reloaded")
	}
}

func TestFileReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	write := func(content string) {
		t.Helper()
		// Written aside and renamed over, as editors and secret mounts do.
		tmp := filepath.Join(dir, "tokens.new")
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("alice " + Hash("one") + "\n")
	f, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); f.Watch(ctx) }()
	defer func() { cancel(); <-done }()
	if f.Lookup("one") == nil {
		t.Fatal("token one not accepted")
	}

	// On change.
	write("alice " + Hash("two") + " role=triage\n")
	waitReload(t, f)
	if f.Lookup("one") != nil || f.Lookup("two") == nil || !f.Lookup("two").CanTriage() {
		t.Fatal("the changed file was not taken")
	}

	// On SIGHUP, even when the poll cannot see the change: rewritten in place with the same
	// size, and its time put back.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("alice "+Hash("six")+" role=triage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * PollInterval)
	if f.Lookup("six") != nil {
		t.Fatal("the poll saw a change it cannot see: the SIGHUP check below proves nothing")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitReload(t, f)
	if f.Lookup("six") == nil {
		t.Fatal("not reloaded on SIGHUP")
	}

	// A broken file keeps the tokens in force.
	write("alice not-a-hash\n")
	waitReload(t, f)
	if f.Lookup("six") == nil {
		t.Fatal("a broken file locked the token out")
	}
}

func TestOpenFails(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("a missing file must fail")
	}
	path := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(path, []byte("x y\n"), 0o600)
	if _, err := Open(path, nil); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), path+":1:") {
		t.Errorf("got %v, want ErrSyntax naming %s:1", err, path)
	}
}

func TestHostsAndByName(t *testing.T) {
	s, err := Parse("t", strings.NewReader("shipper-2 "+Hash("a")+" web-* db-0?\nany "+Hash("b")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := s.ByName("shipper-2")
	if e == nil || s.ByName("nobody") != nil || s.ByName("any").Name != "any" {
		t.Fatalf("ByName: %+v", e)
	}
	for host, want := range map[string]bool{"web-1": true, "db-01": true, "db-1": false, "mail": false, "": false} {
		for range 2 { // the second answer comes from the cache
			if got := e.AllowsHost(host); got != want {
				t.Errorf("AllowsHost(%q) = %v, want %v", host, got, want)
			}
		}
	}
	if !s.ByName("any").AllowsHost("anything") {
		t.Error("a token without patterns must allow every host")
	}
	for i := range maxCachedHosts + 10 {
		e.AllowsHost(fmt.Sprintf("web-%d", i))
	}
	if n := len(e.hosts.m); n != maxCachedHosts {
		t.Errorf("the cache holds %d host names, want it bounded at %d", n, maxCachedHosts)
	}
}

func TestGenerate(t *testing.T) {
	tok, line, err := Generate("web-shipper-2", "web-*")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("generated", strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	if e := s.Lookup(tok); e == nil || e.Name != "web-shipper-2" || !e.AllowsHost("web-9") || e.AllowsHost("db-1") {
		t.Fatalf("the generated line %q does not admit its token as web-shipper-2 for web-*", line)
	}
	if strings.Contains(line, tok) {
		t.Fatal("the line holds the token itself")
	}
	if _, _, err := Generate("bad name"); !errors.Is(err, ErrSyntax) {
		t.Errorf("a bad name: err = %v, want ErrSyntax", err)
	}
	if _, _, err := Generate("x", "role=admin"); !errors.Is(err, ErrSyntax) {
		t.Errorf("a bad option: err = %v, want ErrSyntax", err)
	}
}

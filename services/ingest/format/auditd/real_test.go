package auditd

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

func TestRealNormal(t *testing.T) {
	rs := decodeLines(t, "normal.log", readLines(t, "auditd/go-libaudit-normal.log"))
	events, rejects := formattest.Split(rs)
	if len(rejects) != 0 {
		t.Fatalf("rejects: %v", rejects[0].Err)
	}
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}

	t.Run("inet EINPROGRESS", func(t *testing.T) {
		r := events[0]
		e := r.Event
		if r.Line != 1 || e.Origin.Line != 1 || e.Origin.Format != "auditd" || e.Origin.Source != "normal.log" {
			t.Errorf("origin = %+v, result line %d", e.Origin, r.Line)
		}
		if want := time.Date(2017, 4, 12, 22, 48, 9, 295e6, time.UTC); !e.Timestamp.Equal(want) {
			t.Errorf("timestamp = %v, want %v", e.Timestamp, want)
		}
		checks := []struct{ name, got, want string }{
			{"destination.ip", e.Destination.IP, "169.254.169.254"},
			{"event.outcome", e.Event.Outcome, "unknown"},
			{"process.name", e.Process.Name, "google_accounts"},
			{"process.executable", e.Process.Executable, "/usr/bin/python2.7;58d1ccfb (deleted)"},
			{"user.id", e.User.ID, "0"},
			{"user.name", e.User.Name, ""},
			{"network.type", e.Network.Type, "ipv4"},
			{"network.family", e.Network.Family, "inet"},
			{"network.direction", e.Network.Direction, "egress"},
			{"event.action", e.Event.Action, "connected-to"},
			{"host.os.type", e.Host.OS.Type, "linux"},
			{"host.name", e.Host.Name, ""},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if e.Destination.Port != 80 || e.Process.PID != 1172 || e.Process.Parent.PID != 1 {
			t.Errorf("port %d pid %d ppid %d, want 80 1172 1", e.Destination.Port, e.Process.PID, e.Process.Parent.PID)
		}
		if !slices.Equal(e.Event.Type, []string{"connection", "start"}) || !slices.Equal(e.Event.Category, []string{"network"}) {
			t.Errorf("event.type %v event.category %v", e.Event.Type, e.Event.Category)
		}
	})

	t.Run("unix public/pickup", func(t *testing.T) {
		e := events[1].Event
		if e.Destination.Path != "public/pickup" || e.Network.Family != "unix" || e.Destination.IP != "" || e.Network.Type != "" {
			t.Errorf("destination %+v network %+v", e.Destination, e.Network)
		}
		if e.Process.Name != "master" || e.Process.WorkingDirectory != "/var/spool/postfix" || e.Event.Outcome != "success" {
			t.Errorf("process %+v outcome %q", e.Process, e.Event.Outcome)
		}
		if events[1].Line != 13 {
			t.Errorf("line = %d, want 13", events[1].Line)
		}
		// The group holds SYSCALL, SOCKADDR, CWD and PATH.
		if n := len(splitRaw(events[1].Raw)); n != 4 {
			t.Errorf("raw holds %d lines, want 4", n)
		}
	})
}

// TestRealRHEL7 checks the RHEL 7 sample, a file of single records sorted by type, so no
// event is complete: its one connect has no SOCKADDR, and one record has no stamp.
func TestRealRHEL7(t *testing.T) {
	lines := readLines(t, "auditd/go-libaudit-rhel7.log")
	rs := decodeLines(t, "rhel7.log", lines)
	events, rejects := formattest.Split(rs)
	if len(events) != 0 {
		t.Errorf("got %d events, want 0", len(events))
	}
	if len(rejects) != 2 {
		t.Fatalf("got %d rejects, want 2", len(rejects))
	}
	for _, r := range rejects {
		if !errors.Is(r.Err, format.ErrMalformed) {
			t.Errorf("line %d: %v does not wrap ErrMalformed", r.Line, r.Err)
		}
	}
	unknown := rejects[0]
	if string(unknown.Raw) != "type=UNKNOWN[1329] msg=?" || errors.Is(unknown.Err, ErrNoSockaddr) {
		t.Errorf("first reject: line %d raw %q err %v", unknown.Line, unknown.Raw, unknown.Err)
	}
	if got := lines[unknown.Line-1]; got != string(unknown.Raw) {
		t.Errorf("reject line %d is %q, raw %q", unknown.Line, got, unknown.Raw)
	}
	connect := rejects[1]
	if !errors.Is(connect.Err, ErrNoSockaddr) {
		t.Errorf("connect reject: %v, want ErrNoSockaddr", connect.Err)
	}
	if want := lines[connect.Line-1]; string(connect.Raw) != want || !containsAll(want, "syscall=42", "google_ip_forwa") {
		t.Errorf("connect reject raw %q", connect.Raw)
	}
	if connect.Source != "rhel7.log" {
		t.Errorf("source %q", connect.Source)
	}
}

// TestRealUbuntuYAML checks the lines of go-libaudit's aucoalesce fixture, which hold one
// connect (and an accept, a listen and others that are not).
func TestRealUbuntuYAML(t *testing.T) {
	rs := decodeLines(t, "ubuntu.yaml", yamlAuditLines(t))
	events, rejects := formattest.Split(rs)
	if len(rejects) != 0 {
		t.Fatalf("rejects: %v", rejects[0].Err)
	}
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	e := events[0].Event
	if e.Process.Name != "google_ip_forwa" || e.Process.Executable != "/usr/bin/python3.5" ||
		e.Process.Title != "(g_daemon)" || !slices.Equal(e.Process.Args, []string{"(g_daemon)"}) {
		t.Errorf("process %+v", e.Process)
	}
	if e.Destination.IP != "169.254.169.254" || e.Destination.Port != 80 || e.Event.Outcome != "unknown" {
		t.Errorf("destination %+v outcome %q", e.Destination, e.Event.Outcome)
	}
	if want := time.Unix(1492753107, 96e6).UTC(); !e.Timestamp.Equal(want) {
		t.Errorf("timestamp %v, want %v", e.Timestamp, want)
	}
	if n := len(splitRaw(events[0].Raw)); n != 4 {
		t.Errorf("raw holds %d lines, want 4 (with EOE)", n)
	}
}

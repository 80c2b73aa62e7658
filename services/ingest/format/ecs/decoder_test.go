package ecs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// Documents as the three shippers write them.
const (
	auditbeat7 = `{"@timestamp":"2020-04-01T12:00:00.123Z","agent":{"type":"auditbeat","version":"7.7.0"},` +
		`"event":{"action":"connected-to","category":"audit-rule","module":"auditd","outcome":"success","kind":"event"},` +
		`"host":{"name":"web-1","os":{"family":"debian","type":"linux"}},` +
		`"process":{"name":"curl","pid":4242,"ppid":1,"executable":"/usr/bin/curl","args":["curl","example.com"],` +
		`"title":"curl example.com","working_directory":"/root"},"user":{"id":"0","name":"root"},` +
		`"destination":{"ip":"93.184.216.34","port":80},"auditd":{"data":{"syscall":"connect"}}}`
	auditdManager8 = `{"@timestamp":"2023-05-01T10:00:00.000001+02:00","agent":{"type":"auditbeat"},` +
		`"event":{"category":["network"],"type":["connection","start"],"action":"connected-to","outcome":"unknown","module":"auditd","dataset":"auditd_manager.auditd"},` +
		`"host":{"name":"h","id":"abc","os":{"type":"linux","family":"ubuntu"}},` +
		`"process":{"name":"python3","pid":10,"parent":{"pid":1}},"user":{"id":"1000"},` +
		`"source":{"ip":"10.0.0.2","port":50000},"destination":{"ip":"2001:db8::1","port":443},` +
		`"network":{"direction":"egress","type":"ipv6","transport":"tcp"}}`
	defendDotted = `{"@timestamp":1700000000123,"agent.type":"endpoint","event.category":"network","event.type":"start",` +
		`"event.action":"connection_attempted","event.module":"endpoint","event.dataset":"endpoint.events.network",` +
		`"host":{"os.type":"linux"},"process.name":"nc","process.pid":7,"process.parent.pid":"3",` +
		`"destination.ip":"192.0.2.1","destination.port":4444,"network.transport":"tcp","user.name":"alice"}`
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		line string
		want event.Event
	}{
		{
			name: "auditbeat 7 connected-to",
			line: auditbeat7,
			want: event.Event{
				Timestamp: time.Date(2020, 4, 1, 12, 0, 0, 123e6, time.UTC),
				Event:     event.Meta{Kind: "event", Category: []string{"audit-rule"}, Action: "connected-to", Outcome: "success", Module: "auditd"},
				Agent:     event.Agent{Type: "auditbeat"},
				Host:      event.Host{Name: "web-1", OS: event.OS{Type: "linux", Family: "debian"}},
				Process: event.Process{Name: "curl", PID: 4242, Executable: "/usr/bin/curl", Args: []string{"curl", "example.com"},
					Title: "curl example.com", WorkingDirectory: "/root", Parent: event.Parent{PID: 1}},
				User:        event.User{Name: "root", ID: "0"},
				Destination: event.Endpoint{IP: "93.184.216.34", Port: 80},
			},
		},
		{
			name: "auditd manager 8 network start",
			line: auditdManager8,
			want: event.Event{
				Timestamp: time.Date(2023, 5, 1, 8, 0, 0, 1000, time.UTC),
				Event: event.Meta{Category: []string{"network"}, Type: []string{"connection", "start"}, Action: "connected-to",
					Outcome: "unknown", Module: "auditd", Dataset: "auditd_manager.auditd"},
				Agent:       event.Agent{Type: "auditbeat"},
				Host:        event.Host{Name: "h", ID: "abc", OS: event.OS{Type: "linux", Family: "ubuntu"}},
				Process:     event.Process{Name: "python3", PID: 10, Parent: event.Parent{PID: 1}},
				User:        event.User{ID: "1000"},
				Source:      event.Endpoint{IP: "10.0.0.2", Port: 50000},
				Destination: event.Endpoint{IP: "2001:db8::1", Port: 443},
				Network:     event.Network{Type: "ipv6", Transport: "tcp", Direction: "egress"},
			},
		},
		{
			name: "defend with dotted keys and epoch millis",
			line: defendDotted,
			want: event.Event{
				Timestamp: time.UnixMilli(1700000000123).UTC(),
				Event: event.Meta{Category: []string{"network"}, Type: []string{"start"}, Action: "connection_attempted",
					Module: "endpoint", Dataset: "endpoint.events.network"},
				Agent:       event.Agent{Type: "endpoint"},
				Host:        event.Host{OS: event.OS{Type: "linux"}},
				Process:     event.Process{Name: "nc", PID: 7, Parent: event.Parent{PID: 3}},
				User:        event.User{Name: "alice"},
				Destination: event.Endpoint{IP: "192.0.2.1", Port: 4444},
				Network:     event.Network{Transport: "tcp"},
			},
		},
		{
			name: "search hit wrapper",
			line: `{"_index":"auditbeat-7.7.0","_id":"x","_source":{"@timestamp":"2020-04-01T12:00:00Z","process":{"name":"wget"},"event":{"action":"connected-to"}}}`,
			want: event.Event{
				Timestamp: time.Date(2020, 4, 1, 12, 0, 0, 0, time.UTC),
				Event:     event.Meta{Action: "connected-to"},
				Process:   event.Process{Name: "wget"},
			},
		},
		{
			name: "no process name is still an event",
			line: `  {"@timestamp":"1700000000000","destination":{"ip":"192.0.2.1"},"event.module":null}  `,
			want: event.Event{Timestamp: time.UnixMilli(1700000000000).UTC(), Destination: event.Endpoint{IP: "192.0.2.1"}},
		},
		{
			name: "zone-less time is UTC, dotted key wins over nested",
			line: `{"@timestamp":"2024-02-29T23:59:59.5","process.name":"a","process":{"name":"b","pid":1.0}}`,
			want: event.Event{Timestamp: time.Date(2024, 2, 29, 23, 59, 59, 5e8, time.UTC), Process: event.Process{Name: "a", PID: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := decodeLines(t, []string{tt.line})
			if len(rs) != 1 || rs[0].Err != nil {
				t.Fatalf("results %+v", rs)
			}
			r := rs[0]
			want := tt.want
			want.Origin = event.Origin{Source: "test", Line: 1, Format: "ecs"}
			if !reflect.DeepEqual(*r.Event, want) {
				t.Errorf("got  %+v\nwant %+v", *r.Event, want)
			}
			if r.Source != "test" || r.Line != 1 || string(r.Raw) != tt.line {
				t.Errorf("source %q line %d raw %q", r.Source, r.Line, r.Raw)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name, line, msg string
	}{
		{"invalid JSON", `{"@timestamp":`, "expected a JSON object, got invalid JSON"},
		{"trailing garbage", `{"@timestamp":"2020-04-01T12:00:00Z"} x`, "invalid JSON"},
		{"array", `[1,2]`, "expected a JSON object, got an array"},
		{"string", `"hello"`, `expected a JSON object, got "hello"`},
		{"missing timestamp", `{"process":{"name":"a"}}`, "@timestamp: expected RFC 3339 time or epoch milliseconds, got nothing"},
		{"null timestamp", `{"@timestamp":null}`, "@timestamp: expected RFC 3339 time or epoch milliseconds, got nothing"},
		{"bad timestamp", `{"@timestamp":"yesterday"}`, `@timestamp: expected RFC 3339 time or epoch milliseconds, got "yesterday"`},
		{"timestamp object", `{"@timestamp":{}}`, `@timestamp: expected RFC 3339 time or epoch milliseconds, got an object`},
		{"huge epoch", `{"@timestamp":1e300}`, `@timestamp: expected RFC 3339 time or epoch milliseconds, got 1e+300`},
		{"port not a number", `{"@timestamp":"2020-04-01T12:00:00Z","destination":{"port":"http"}}`, `destination.port: expected a port number (0-65535), got "http"`},
		{"port out of range", `{"@timestamp":"2020-04-01T12:00:00Z","destination.port":70000}`, `destination.port: expected a port number (0-65535), got 70000`},
		{"pid fraction", `{"@timestamp":"2020-04-01T12:00:00Z","process.pid":1.5}`, `process.pid: expected a non-negative integer, got 1.5`},
		{"name object", `{"@timestamp":"2020-04-01T12:00:00Z","process":{"name":{"x":1}}}`, `process.name: expected a string, got an object`},
		{"category of objects", `{"@timestamp":"2020-04-01T12:00:00Z","event":{"category":[{}]}}`, `event.category: expected a string or an array of strings, got an array`},
		{"_source not an object", `{"_source":"x"}`, `_source: expected a JSON object, got "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := decodeLines(t, []string{tt.line})
			if len(rs) != 1 {
				t.Fatalf("got %d results", len(rs))
			}
			r := rs[0]
			if !errors.Is(r.Err, format.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", r.Err)
			}
			if !strings.Contains(r.Err.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", r.Err, tt.msg)
			}
			if string(r.Raw) != tt.line || r.Line != 1 || r.Source != "test" {
				t.Errorf("raw %q line %d source %q", r.Raw, r.Line, r.Source)
			}
		})
	}
}

func TestDecodeBlankLinesAndCopies(t *testing.T) {
	d := New()
	var rs []format.Result
	emit := func(r format.Result) { rs = append(rs, r.Clone()) }
	buf := []byte(auditbeat7)
	for i, l := range [][]byte{nil, []byte("   \r"), buf} {
		d.Decode(format.Line{Source: "s", Num: int64(i + 1), Data: l}, emit)
	}
	copy(buf, strings.Repeat("X", len(buf)))
	d.Flush(emit)
	if len(rs) != 1 || rs[0].Line != 3 || rs[0].Event.Origin.Line != 3 {
		t.Fatalf("results %+v", rs)
	}
	if string(rs[0].Raw) != auditbeat7 || rs[0].Event.Process.Name != "curl" {
		t.Errorf("result aliases the input buffer: %q", rs[0].Raw)
	}
}

func TestLookup(t *testing.T) {
	m := map[string]any{
		"a.b.c": "whole",
		"a":     map[string]any{"b.c": "half", "b": map[string]any{"c": "nested"}},
		"x":     map[string]any{"y": map[string]any{"z": "deep"}},
		"x.y":   map[string]any{"w": "mixed"},
		"n":     nil,
	}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"a.b.c", "whole", true},
		{"x.y.z", "deep", true},
		{"x.y.w", "mixed", true},
		{"n", nil, false},
		{"a.q", nil, false},
		{"", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := lookup(m, tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("lookup(%q) = %v %v, want %v %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func decodeLines(t testing.TB, lines []string) []format.Result {
	t.Helper()
	d := New()
	var out []format.Result
	emit := func(r format.Result) {
		if (r.Event == nil) == (r.Err == nil) {
			t.Fatalf("result with Event=%v Err=%v: want exactly one", r.Event, r.Err)
		}
		out = append(out, r.Clone())
	}
	for i, l := range lines {
		d.Decode(format.Line{Source: "test", Num: int64(i + 1), Data: []byte(l)}, emit)
	}
	d.Flush(emit)
	return out
}

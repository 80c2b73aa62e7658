package collect

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/ecs"
	"github.com/rarenet/rarenet/shared/event"
)

const hostNS, containerNS = 4026531840, 4026532999

// fleetProc is a host with sshd (serving one client), curl (connecting out), a resolver on
// connected UDP, and a container whose wget connects out in its own namespace.
func fleetProc(t *testing.T) *fakeProc {
	p := newFakeProc(t)
	p.process(1, hostNS, "systemd", "/usr/lib/systemd/systemd", "/", 0, []string{"/sbin/init"})
	p.process(400, hostNS, "sshd", "/usr/sbin/sshd", "/", 0, []string{"sshd: alice"}, 11, 12)
	p.process(1200, hostNS, "curl", "/usr/bin/curl", "/home/alice", 1000, []string{"curl", "-s", "https://203.0.113.7/"}, 13)
	p.process(1300, hostNS, "resolvectl", "/usr/bin/resolvectl", "/", 101, []string{"resolvectl", "query", "example.org"}, 14)
	p.process(2000, containerNS, "wget", "/usr/bin/wget", "/srv", 0, []string{"wget", "http://[2001:db8::80]/x"}, 21)
	p.tables([]int{1, 400, 1200, 1300},
		tableRow(0, "0.0.0.0:22", "0.0.0.0:0", StateListen, 0, 11)+
			tableRow(1, "10.0.0.5:22", "192.0.2.9:50000", StateEstablished, 0, 12)+
			tableRow(2, "10.0.0.5:51234", "203.0.113.7:443", StateEstablished, 1000, 13),
		"",
		tableRow(0, "10.0.0.5:40000", "192.0.2.53:53", StateEstablished, 101, 14),
		"")
	p.tables([]int{2000}, "",
		tableRow(0, "[2001:db8::5]:41000", "[2001:db8::80]:80", StateSynSent, 0, 21), "", "")
	p.write("passwd", "root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000::/home/alice:/bin/bash\nsystemd-resolve:x:101:103::/run:/usr/sbin/nologin\n")
	return p
}

func newCollector(t *testing.T, p *fakeProc) *Collector {
	t.Helper()
	c, err := New(Config{ProcRoot: p.root, Passwd: filepath.Join(p.root, "passwd"), Host: "web-1", SkipPID: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPollFindsNewOutboundConnections(t *testing.T) {
	p := fleetProc(t)
	c := newCollector(t, p)
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	events, err := c.Poll(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("%d events, want curl, resolvectl and wget: %+v", len(events), events)
	}
	curl := events[0]
	want := event.Event{
		Timestamp: now,
		Event: event.Meta{Kind: "event", Category: []string{"network"}, Type: []string{"connection", "start"},
			Action: "connected-to", Outcome: "success", Module: Module, Dataset: Dataset},
		Agent: event.Agent{Type: "rarenet-collect"},
		Host:  event.Host{Name: "web-1", OS: event.OS{Type: "linux"}},
		Process: event.Process{Name: "curl", PID: 1200, Executable: "/usr/bin/curl", WorkingDirectory: "/home/alice",
			Args: []string{"curl", "-s", "https://203.0.113.7/"}, Parent: event.Parent{PID: 1}},
		User:        event.User{ID: "1000", Name: "alice"},
		Source:      event.Endpoint{IP: "10.0.0.5", Port: 51234},
		Destination: event.Endpoint{IP: "203.0.113.7", Port: 443},
		Network:     event.Network{Type: "ipv4", Transport: "tcp", Direction: "egress", Family: "inet"},
	}
	if got, _ := json.Marshal(curl); !bytes.Equal(got, must(json.Marshal(want))) {
		t.Errorf("curl event\n got %s\nwant %s", got, must(json.Marshal(want)))
	}
	if r := events[1]; r.Process.Name != "resolvectl" || r.Network.Transport != "udp" || r.User.Name != "systemd-resolve" || r.Destination.Port != 53 {
		t.Errorf("resolver event %+v", r)
	}
	if w := events[2]; w.Process.Name != "wget" || w.Destination.IP != "2001:db8::80" || w.Network.Type != "ipv6" || w.Event.Outcome != "unknown" {
		t.Errorf("container event %+v", w)
	}

	// Seen connections are not reported again; a new one is.
	if again, err := c.Poll(now.Add(time.Second)); err != nil || len(again) != 0 {
		t.Fatalf("second poll: %d events (%v), want none", len(again), err)
	}
	p.process(1201, hostNS, "perl", "/usr/bin/perl", "/var/www", 33, []string{"perl", "-e", "..."}, 15)
	p.tables([]int{1, 400, 1200, 1300, 1201},
		tableRow(0, "0.0.0.0:22", "0.0.0.0:0", StateListen, 0, 11)+
			tableRow(2, "10.0.0.5:51234", "203.0.113.7:443", StateEstablished, 1000, 13)+
			tableRow(3, "10.0.0.5:51300", "198.51.100.66:4444", StateEstablished, 33, 15),
		"", "", "")
	third, err := c.Poll(now.Add(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(third) != 1 || third[0].Process.Name != "perl" || third[0].User.Name != "" || third[0].User.ID != "33" {
		t.Fatalf("third poll: %+v, want perl's connection only", third)
	}
}

// The events read back through the ECS decoder and pass the default datafeed filter.
func TestEventsPassIngest(t *testing.T) {
	c := newCollector(t, fleetProc(t))
	events, err := c.Poll(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dec, filter := ecs.New(), datafeed.Default()
	for i, ev := range events {
		line, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		dec.Decode(format.Line{Source: "collect", Num: int64(i + 1), Data: line}, func(r format.Result) {
			if r.Err != nil {
				t.Fatalf("ECS decoder rejects %s: %v", line, r.Err)
			}
			if reason := filter.Reason(r.Event); reason != "" {
				t.Errorf("datafeed filter drops %s: %s", ev.Process.Name, reason)
			}
			if r.Event.Process.Name != ev.Process.Name || r.Event.Destination != ev.Destination || !slices.Equal(r.Event.Process.Args, ev.Process.Args) {
				t.Errorf("decoded %+v, want %+v", r.Event, ev)
			}
		})
	}
}

func TestPollSkipsWhatCannotBeAttributed(t *testing.T) {
	p := newFakeProc(t)
	p.process(10, hostNS, "nc", "/usr/bin/nc", "/", 0, []string{"nc"}, 100)
	p.tables([]int{10}, tableRow(0, "10.0.0.5:50000", "192.0.2.1:80", StateEstablished, 0, 100)+
		tableRow(1, "10.0.0.5:50001", "192.0.2.1:80", StateEstablished, 0, 999), "", "", "")
	c := newCollector(t, p)
	c.cfg.SkipPID = 10
	events, err := c.Poll(time.Now())
	if err != nil || len(events) != 0 {
		t.Fatalf("events %+v (%v), want none: one socket is the collector's, one has no process", events, err)
	}
	if n := c.Stats().Unattributed.Load(); n != 1 {
		t.Errorf("unattributed = %d, want 1", n)
	}
}

func TestPollWithoutNamespaceLinksReadsProcNet(t *testing.T) {
	p := newFakeProc(t)
	p.process(10, hostNS, "nc", "/usr/bin/nc", "/", 0, []string{"nc"}, 100)
	os.Remove(filepath.Join(p.root, "10", "ns", "net"))
	p.write("net/tcp", tableHeader+tableRow(0, "10.0.0.5:50000", "192.0.2.1:80", StateEstablished, 0, 100))
	for _, n := range []string{"tcp6", "udp", "udp6"} {
		p.write("net/"+n, tableHeader)
	}
	events, err := newCollector(t, p).Poll(time.Now())
	if err != nil || len(events) != 1 || events[0].Process.Name != "nc" {
		t.Fatalf("events %+v (%v), want nc's connection", events, err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

package sense

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/sources/collect"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// published is the part of a published document the tests look at.
type published struct {
	Event struct {
		Outcome, Module, Action string
	}
	Host    struct{ Name string }
	Process struct {
		Name, Executable string
		PID              int
		Thread           struct{ ID int }
		Parent           struct{ PID int }
		Args             []string
		WorkingDirectory string `json:"working_directory"`
	}
	User   struct{ ID, Name string }
	Source struct {
		IP   string
		Port int
	}
	Destination struct {
		IP   string
		Port int
	}
	Network struct{ Type, Transport string }
	Error   struct{ Code string }
	Rarenet struct {
		Sense struct {
			Hook     string
			Result   int
			NetNS    uint64 `json:"netns"`
			CgroupID uint64 `json:"cgroup_id"`
		}
	}
}

// runSensor runs the sensor against an embedded NATS server with the pipeline's streams and
// returns the JetStream context the events arrive on.
func runSensor(t *testing.T, s *Sensor) jetstream.JetStream {
	t.Helper()
	return runSensorLogging(t, s, slog.New(slog.DiscardHandler))
}

// runSensorLogging is runSensor with the sensor's log going to log.
func runSensorLogging(t *testing.T, s *Sensor, log *slog.Logger) jetstream.JetStream {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect("", srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 2, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, js, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sensor: %v", err)
		}
	})
	return js
}

// docsOf returns the published documents of process pid.
func docsOf(t *testing.T, js jetstream.JetStream, pid int) []published {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"pid":%d,`, pid)
	var out []published
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != stream.RawSubject("ecs") || !strings.HasPrefix(m.Header.Get(control.HeaderSource), "sense:") {
			t.Fatalf("message on %s from %q, want rarenet.raw.ecs from sense:<host>", m.Subject, m.Header.Get(control.HeaderSource))
		}
		for l := range strings.SplitSeq(natstest.RawText(t, m.Header, m.Data), "\n") {
			if !strings.Contains(l, want) {
				continue
			}
			var d published
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("published line is not JSON: %v\n%s", err, l)
			}
			if d.Process.PID == pid {
				out = append(out, d)
			}
		}
	}
	return out
}

// waitDocs waits until n documents of pid are published.
func waitDocs(t *testing.T, js jetstream.JetStream, pid, n int) []published {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		docs := docsOf(t, js, pid)
		if len(docs) >= n || time.Now().After(deadline) {
			return docs
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func netnsInode(t *testing.T, pid int) uint64 {
	t.Helper()
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// shortConnects is the workload: connects, each closed as soon as it is made.
const shortConnects = 1000

// A process of a known name makes 1,000 connections that each last well under a
// millisecond, inside a network namespace of the test's making. The sensor reports every
// one, with the process's name, executable, user and destination; `rarenet collect`, polling
// /proc every second as it does by default, watches the same workload side by side.
func TestSeesEveryShortConnect(t *testing.T) {
	ns := netns(t)
	s := newSensor(t, Config{Host: "sense-test"})
	bin := helperBinary(t)
	server := startHelper(t, ns, bin, "serve", ":0")
	addr := server.line(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	js := runSensor(t, s)

	col, err := collect.New(collect.Config{Host: "collect-test", Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	burst := startHelper(t, ns, bin, "burst", nsServerAddr+":"+port+" "+strconv.Itoa(shortConnects)+" 2ms")
	pid := burst.cmd.Process.Pid
	// collect polls at its default interval while the burst runs, as `rarenet collect` would.
	stopPoll := make(chan struct{})
	polled := make(chan int)
	go func() {
		seen := 0
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			events, _ := col.Poll(time.Now())
			for _, e := range events {
				if e.Process.PID == int64(pid) {
					seen++
				}
			}
			select {
			case <-stopPoll:
				polled <- seen
				return
			case <-tick.C:
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // the collector's first poll sees the namespace idle
	began := time.Now()
	burst.goAhead(t)
	f := strings.Fields(burst.line(t))
	took := time.Since(began)
	close(stopPoll)
	collectSaw := <-polled
	if f[2] != "0" {
		t.Fatalf("the workload's connects failed: %v", f)
	}
	t.Logf("workload: %d connects in %v, %s of them open less than 1ms (the longest %sµs)", shortConnects, took.Round(time.Millisecond), f[4], f[3])

	docs := waitDocs(t, js, pid, shortConnects)
	t.Logf("sensor: %d of %d connects reported; rarenet collect (1s polls): %d of %d", len(docs), shortConnects, collectSaw, shortConnects)
	if len(docs) != shortConnects {
		t.Fatalf("the sensor reported %d connects of pid %d, want %d (stats: %d records, %d lost)",
			len(docs), pid, shortConnects, s.Stats().Records.Load(), s.Stats().Lost.Load())
	}
	netNS := netnsInode(t, pid)
	ports := map[int]bool{}
	for i, d := range docs {
		bad := func(what string, got, want any) {
			t.Errorf("event %d: %s = %v, want %v", i, what, got, want)
		}
		switch {
		case d.Process.Name != helperName:
			bad("process.name", d.Process.Name, helperName)
		case d.Process.Executable != bin:
			bad("process.executable", d.Process.Executable, bin)
		case d.User.Name != "root" || d.User.ID != "0":
			bad("user", d.User, "root (0)")
		case d.Destination.IP != nsServerAddr || strconv.Itoa(d.Destination.Port) != port:
			bad("destination", d.Destination, nsServerAddr+":"+port)
		case d.Source.IP != nsClientAddr || d.Source.Port == 0:
			bad("source", d.Source, nsClientAddr+":<port>")
		case d.Event.Outcome != "unknown" && d.Event.Outcome != "success":
			bad("event.outcome", d.Event.Outcome, "unknown (EINPROGRESS) or success")
		case d.Event.Module != Module || d.Event.Action != "connected-to" || d.Host.Name != "sense-test":
			bad("event", d.Event, "rarenet_sense connected-to on sense-test")
		case d.Network.Type != "ipv4" || d.Network.Transport != "tcp":
			bad("network", d.Network, "ipv4 tcp")
		case d.Rarenet.Sense.NetNS != netNS:
			bad("rarenet.sense.netns", d.Rarenet.Sense.NetNS, netNS)
		case d.Process.Parent.PID == 0 || d.Process.Thread.ID == 0 || d.Rarenet.Sense.CgroupID == 0:
			bad("parent, thread, cgroup", []any{d.Process.Parent.PID, d.Process.Thread.ID, d.Rarenet.Sense.CgroupID}, "all set")
		case len(d.Process.Args) == 0 || d.Process.Args[0] != bin || d.Process.WorkingDirectory == "":
			bad("args and cwd", []any{d.Process.Args, d.Process.WorkingDirectory}, bin+" ... and a directory")
		}
		if t.Failed() {
			t.FailNow()
		}
		ports[d.Source.Port] = true
	}
	if len(ports) < shortConnects/2 {
		t.Errorf("%d distinct source ports in %d connects: the source port is not the connection's", len(ports), shortConnects)
	}
	if s.Stats().Lost.Load() != 0 {
		t.Errorf("%d records lost", s.Stats().Lost.Load())
	}
}

// The result of each connect as the kernel returned it: success, a refusal (a blocking
// connect(2) to a closed port), and a connect over IPv6; and io_uring's connect where the
// kernel's tracepoints allow it.
func TestResultsIPv6AndIOURing(t *testing.T) {
	ns := netns(t)
	s := newSensor(t, Config{Host: "sense-test"})
	bin := helperBinary(t)
	server := startHelper(t, ns, bin, "serve", ":0")
	addr := server.line(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	js := runSensor(t, s)

	six := startHelper(t, ns, bin, "burst", "["+nsServer6+"]:"+port+" 1 0s")
	six.goAhead(t)
	six.line(t)
	refused := startHelper(t, ns, bin, "refused", nsServerAddr+":1")
	if got := refused.line(t); got != "done -111" {
		t.Fatalf("blocking connect to a closed port: %q, want done -111 (ECONNREFUSED)", got)
	}

	d6 := waitDocs(t, js, six.cmd.Process.Pid, 1)
	if len(d6) != 1 || d6[0].Destination.IP != nsServer6 || d6[0].Network.Type != "ipv6" || strconv.Itoa(d6[0].Destination.Port) != port || d6[0].Source.Port == 0 {
		t.Errorf("IPv6 connect: %+v, want one to [%s]:%s with a source port", d6, nsServer6, port)
	}
	dr := waitDocs(t, js, refused.cmd.Process.Pid, 1)
	if len(dr) != 1 || dr[0].Event.Outcome != "failure" || dr[0].Error.Code != "ECONNREFUSED" || dr[0].Rarenet.Sense.Result != -111 || dr[0].Rarenet.Sense.Hook != "syscall" {
		t.Errorf("refused connect: %+v, want outcome failure, ECONNREFUSED", dr)
	}

	if !strings.HasPrefix(s.IOURing(), "seen") {
		t.Logf("io_uring connects not checked: %s", s.IOURing())
		return
	}
	ring := startHelper(t, ns, bin, "uring", nsServerAddr+":"+port)
	if got := ring.line(t); got != "done 0" {
		t.Fatalf("io_uring connect: %q, want done 0", got)
	}
	du := waitDocs(t, js, ring.cmd.Process.Pid, 1)
	if len(du) != 1 || du[0].Rarenet.Sense.Hook == "syscall" || du[0].Destination.IP != nsServerAddr || du[0].Event.Outcome != "success" || du[0].Process.Name != helperName {
		t.Errorf("io_uring connect: %+v, want one successful connect to %s:%s seen outside the syscall", du, nsServerAddr, port)
	}
}

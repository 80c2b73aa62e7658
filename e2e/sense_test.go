package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sys/unix"

	"github.com/rarenet/rarenet/e2e/history"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
)

// The sensor test's namespace: a private /30 that exists only inside it. No traffic leaves.
const (
	senseServerAddr = "10.200.79.1"
	senseClientAddr = "10.200.79.2"
	// senseNovel is the name of the process that connects for the first time: bash, copied
	// under a name no history holds, opening /dev/tcp as a reverse shell does.
	senseNovel = "rn-beacon"
)

// senseNetns makes a network namespace with a veth pair, or skips the test.
func senseNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: the eBPF sensor and ip netns need root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: `ip` (iproute2) is not installed")
	}
	ns := fmt.Sprintf("rarenet-e2e-sense-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("skipped: ip netns is unavailable here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "re0", "type", "veth", "peer", "name", "re1"},
		{"addr", "add", senseServerAddr + "/30", "dev", "re0"},
		{"addr", "add", senseClientAddr + "/30", "dev", "re1"},
		{"link", "set", "re0", "up"},
		{"link", "set", "re1", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
		}
	}
	return ns
}

// listenInNetns listens on addr inside namespace ns (from a thread that entered it) and
// accepts and closes every connection until the test ends.
func listenInNetns(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open(filepath.Join("/var/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		ln, err := net.Listen("tcp4", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	go func() {
		for {
			c, err := r.ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return r.ln
}

// publishECS publishes events as ECS NDJSON on rarenet.raw.ecs, many lines a message.
func publishECS(t *testing.T, nc *nats.Conn, source string, events []history.Event) {
	t.Helper()
	var buf bytes.Buffer
	if err := history.WriteECS(&buf, events); err != nil {
		t.Fatal(err)
	}
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for first := 0; first < len(lines); first += 1000 {
		m := nats.NewMsg("rarenet.raw.ecs")
		m.Header.Set("Rarenet-Source", source)
		m.Header.Set("Rarenet-Line", strconv.Itoa(first+1))
		m.Data = []byte(strings.Join(lines[first:min(first+1000, len(lines))], "\n"))
		if _, err := js.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
}

// The live path end to end: the all-in-one pipeline, a background history of three days of a fleet
// (published as ECS, ending where the current 15-minute bucket begins), then `rarenet sense`
// on this host while a process that never used the network before (bash renamed, opening
// /dev/tcp three times, each connection closed at once) connects inside a namespace of the
// test's making. The sensor's live events, stamped with the time of the connects, fall in
// the current bucket; one later event of a regular process (32 minutes past the bucket's
// start) moves the event-time watermark past that bucket and past the rule's next runs, so
// the signal comes without waiting for the wall clock.
func TestSenseEventsSignalThroughRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the rarenet binary; skipped with -short")
	}
	ns := senseNetns(t)
	bin := binaries(t)
	began := time.Now()
	ln := listenInNetns(t, ns, senseServerAddr+":0")
	port := ln.Addr().(*net.TCPAddr).Port

	// The all-in-one pipeline as `rarenet run` starts it, on an embedded server that listens
	// for the sensor, but with buckets closed and the rule run by event time (as replays do):
	// live, they follow the wall clock too, and the rule runs on wall-clock quarter hours only.
	natsPort := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(natsPort)
	o := defaultOptions(4)
	o.Listen = "127.0.0.1:" + strconv.Itoa(natsPort)
	o.Scorer.Clock = scorer.ClockWatermark
	o.Windower.Clock = windower.ClockWatermark
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := rarenet.Start(ctx, o, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	signals, err := nc.SubscribeSync(stream.SignalsSubject)
	if err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	cur := now.Truncate(15 * time.Minute)
	spec := history.Spec{Seed: 7, Start: cur.Add(-72 * time.Hour), Days: 3, Hosts: 3, Regulars: 30, PerBucket: 1}
	background := history.Events(spec)
	publishECS(t, nc, "background-history", background)
	t.Logf("%v: background: %d events from %s to %s", time.Since(began).Round(time.Millisecond), len(background), background[0].Time.Format(time.RFC3339), background[len(background)-1].Time.Format(time.RFC3339))

	raw, err := nc.SubscribeSync("rarenet.raw.ecs")
	if err != nil {
		t.Fatal(err)
	}
	sensor := start(t, filepath.Join(bin, "rarenet"), "sense", "--nats-url", url, "--host", "sensed-01", "--flush-interval", "100ms")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(sensor.out.String(), "msg=sensing") {
		select {
		case <-sensor.done:
			if strings.Contains(sensor.out.String(), "none of the ways it knows") {
				t.Skipf("skipped: the kernel refuses BPF here:\n%s", sensor.out.String())
			}
			t.Fatalf("rarenet sense stopped: %v\n%s", sensor.err, sensor.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rarenet sense did not start:\n%s", sensor.out.String())
		}
	}

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipped: no bash for the workload")
	}
	novel := filepath.Join(t.TempDir(), senseNovel)
	copyFile(t, bash, novel)
	script := fmt.Sprintf("for i in 1 2 3; do exec 3<>/dev/tcp/%s/%d; exec 3>&-; done", senseServerAddr, port)
	if out, err := exec.Command("ip", "netns", "exec", ns, novel, "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("workload: %v: %s", err, out)
	}

	// Wait until the sensor's events are in RAW, then close the bucket by event time.
	waitSensed(t, raw, senseNovel, 3)
	t.Logf("%v: the sensor published the workload's 3 connects", time.Since(began).Round(time.Millisecond))
	closing := history.Event{Time: cur.Add(32 * time.Minute), Host: "web-01", Name: "sshd", Exe: "/usr/sbin/sshd", User: "root",
		PID: 1000, DestIP: "10.10.0.1", Port: 22, Args: []string{"/usr/sbin/sshd"}, Cwd: "/", Outcome: "success"}
	publishECS(t, nc, "closing-event", []history.Event{closing})

	deadline = time.Now().Add(90 * time.Second)
	var others []any
	for {
		m, err := signals.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("no signal for %s within 90s (signals for others: %v): %v", senseNovel, others, err)
		}
		var sig map[string]any
		if err := json.Unmarshal(m.Data, &sig); err != nil {
			t.Fatalf("signal is not JSON: %v: %s", err, m.Data)
		}
		if sig["by_field_value"] != senseNovel {
			others = append(others, sig["by_field_value"])
			continue
		}
		hosts, _ := sig["host.name"].([]any)
		if len(hosts) != 1 || hosts[0] != "sensed-01" {
			t.Errorf("signal host.name %v, want [sensed-01]", sig["host.name"])
		}
		if score, _ := sig["record_score"].(float64); score < 50 {
			t.Errorf("signal with record_score %v below the rule's 50", score)
		}
		t.Logf("%v: signal: %s scored %v: %v (signals for the background's processes: %v)", time.Since(began).Round(time.Millisecond), senseNovel, sig["record_score"], sig["kibana.alert.reason"], others)
		return
	}
}

// waitSensed waits until the sensor has published n events of process name, as seen on
// sub (a core subscription to rarenet.raw.ecs: RAW is a work queue that ingest empties).
func waitSensed(t *testing.T, sub *nats.Subscription, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	want := `"name":"` + name + `"`
	seen := 0
	for seen < n {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("the sensor published %d events of %s in 30s, want %d: %v", seen, name, n, err)
		}
		if !strings.HasPrefix(m.Header.Get("Rarenet-Source"), "sense:") {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(natstest.RawText(t, m.Header, m.Data)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				seen++
			}
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

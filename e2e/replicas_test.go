package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/e2e/history"
	"github.com/rarenet/rarenet/shared/stream"
)

// cluster is a NATS cluster of standalone nats-server processes on loopback.
type cluster struct {
	nodes []*proc
	urls  []string
	// profiles are the nodes' profiling addresses (BENCH_PPROF=1), one a node, else none.
	profiles []string
}

// startCluster starts n nats-server nodes with JetStream, routed to each other, and waits
// until the cluster answers JetStream requests (it has elected its meta leader).
func startCluster(t testing.TB, bin string, n int) *cluster {
	t.Helper()
	clientPorts, routePorts := make([]int, n), make([]int, n)
	var routes []string
	for i := range n {
		clientPorts[i], routePorts[i] = freePort(t), freePort(t)
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(routePorts[i]))
	}
	c := &cluster{}
	for i := range n {
		args := []string{"-js", "-a", "127.0.0.1",
			"-p", strconv.Itoa(clientPorts[i]), "-sd", t.TempDir(), "-n", "node-" + strconv.Itoa(i+1),
			"--cluster_name", "rarenet", "--cluster", "nats://127.0.0.1:" + strconv.Itoa(routePorts[i]),
			"--routes", strings.Join(routes, ",")}
		if benchProfiles() { // see docs/performance.md, the benchmarks' switches
			port := freePort(t)
			args = append(args, "--profile", strconv.Itoa(port))
			c.profiles = append(c.profiles, "http://127.0.0.1:"+strconv.Itoa(port))
			t.Logf("nats-server node-%d serves its profiles on http://127.0.0.1:%d/debug/pprof/", i+1, port)
		}
		c.nodes = append(c.nodes, start(t, filepath.Join(bin, "nats-server"), args...))
		c.urls = append(c.urls, "nats://127.0.0.1:"+strconv.Itoa(clientPorts[i]))
	}
	for i := range n {
		waitPort(t, clientPorts[i])
	}
	nc, err := nats.Connect(c.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// A replicated stream can be created once the cluster has elected its meta leader and
	// every node takes part: create and delete one to know.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "E2E_READY", Replicas: n, Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "E2E_READY")
		}
		cancel()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never took a stream of %d replicas: %v", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *cluster) url() string { return strings.Join(c.urls, ",") }

// waitOutput waits until p has written want.
func waitOutput(t testing.TB, p *proc, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never wrote %q", p.name, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to end.
func kill(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL %s: %v", p.name, err)
	}
	<-p.done
}

// action is a step of a test's plan, due once the windower has published afterRuns rule-run
// statuses; do carries it out and says what it did.
type action struct {
	afterRuns int64
	do        func() string
}

// runPlan runs replay while it carries out plan in the order of afterRuns, and returns how many
// actions were done and replay's error. The actions are placed from the windower-status
// subscription itself, which waits until each is done: the windower runs the rule in bursts
// when it catches up after a stall (over a hundred runs at once was seen), and an action placed
// by polling the count came after the end of the replay. nc must be a connection to a node the
// plan never stops: a reconnect would miss statuses. The actions run on the test's goroutine,
// so they may call t.Fatal.
func runPlan(t *testing.T, nc *nats.Conn, plan []action, replay func() error) (int, error) {
	t.Helper()
	plan = slices.Clone(plan)
	slices.SortStableFunc(plan, func(a, b action) int { return cmp.Compare(a.afterRuns, b.afterRuns) })
	due, finished, stop := make(chan int), make(chan struct{}), make(chan struct{})
	defer close(stop)
	var runs int64 // the subscription's one goroutine is the only one to touch these two
	pending := 0
	sub, err := nc.Subscribe(stream.StatusSubject("windower"), func(*nats.Msg) {
		runs++
		for ; pending < len(plan) && plan[pending].afterRuns <= runs; pending++ {
			select {
			case due <- pending:
			case <-stop:
				return
			}
			select {
			case <-finished:
			case <-stop: // the action failed the test
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil { // subscribed on the server before the replay starts
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() { result <- replay() }()
	done := 0
	for {
		select {
		case err := <-result:
			return done, err
		case i := <-due:
			t.Logf("after %d rule runs: %s", plan[i].afterRuns, plan[i].do())
			done++
			finished <- struct{}{}
		}
	}
}

// TestReplicasSurviveKills runs two of every stage as separate processes against a 3-node
// NATS cluster (R3 streams, KV buckets and object store), replays a history, and SIGKILLs one
// NATS node and one replica of each stage (the active windower and the scorer that started
// first, which holds the model) along the way. The signals must be exactly those of the
// all-in-one run: nothing lost, nothing doubled.
func TestReplicasSurviveKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs a 3-node cluster with eight stage processes; skipped with -short")
	}
	bin := binaries(t)
	spec := history.Default()
	file := writeHistory(t, "ecs", spec)
	want, _ := replay(t, defaultOptions(8), "ecs", file)
	checkInjectedSignals(t, spec, want)

	c := startCluster(t, bin, 3)
	common := []string{"--nats-url", c.url(), "--partitions", "8", "--replicas", "3", "--http-addr", ""}
	// Short leases and ack waits make the takeovers of the test quick; the defaults suit
	// production (seconds of silence are not a death there).
	ingestArgs := append(slices.Clone(common), "--ack-wait", "3s")
	scorerArgs := append(slices.Clone(common), "--clock", "watermark", "--lease-ttl", "1s")
	enricherArgs := append(slices.Clone(common), "--ack-wait", "3s", "--lease-ttl", "1s")
	windowerArgs := append(slices.Clone(common), "--clock", "watermark", "--lease-ttl", "1s")
	type replicas struct{ first, second *proc }
	startTwo := func(name string, args []string, firstReady string) replicas {
		first := start(t, filepath.Join(bin, name), args...)
		waitOutput(t, first, firstReady)
		return replicas{first, start(t, filepath.Join(bin, name), args...)}
	}
	ingest := startTwo("ingest", ingestArgs, "started")
	scorer := startTwo("scorer", scorerArgs, "started")
	enricher := startTwo("enricher", enricherArgs, "started")
	windower := startTwo("windower", windowerArgs, "msg=active")

	// The history has 288 fifteen-minute intervals, each a rule run and one status.
	var plan []action
	for i, k := range []struct {
		what string
		p    *proc
	}{
		{"NATS node 3", c.nodes[2]},
		{"an ingest", ingest.first},
		{"the scorer holding the model", scorer.first},
		{"an enricher", enricher.first},
		{"the active windower", windower.first},
	} {
		plan = append(plan, action{int64(30 * (i + 1)), func() string { kill(t, k.p); return "SIGKILL " + k.what }})
	}
	nc, err := nats.Connect(c.urls[0]) // node 1, which is never killed
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	dir := t.TempDir()
	out, statsFile := filepath.Join(dir, "signals.ndjson"), filepath.Join(dir, "stats.json")
	next, replayErr := runPlan(t, nc, plan, func() error {
		_, err := runErr(filepath.Join(bin, "rarenet"), "replay", "--nats-url", c.url(), "--partitions", "8",
			"--replicas", "3", "--driver-only", "--timeout", "5m", "--out", out, "--stats", statsFile, file)
		return err
	})
	if replayErr != nil {
		dumpJetStream(t, nc)
		// A Go process dumps every goroutine's stack on SIGQUIT: where a stuck stage waits.
		for _, p := range []*proc{ingest.first, ingest.second, scorer.first, scorer.second,
			enricher.first, enricher.second, windower.first, windower.second} {
			select {
			case <-p.done:
			default:
				_ = p.cmd.Process.Signal(syscall.SIGQUIT)
				<-p.done
			}
		}
		t.Fatalf("replay with %d of %d kills done: %v", next, len(plan), replayErr)
	}
	if next < len(plan) {
		t.Fatalf("the replay ended after %d of %d kills: the test proved less than it claims", next, len(plan))
	}
	for _, p := range []*proc{ingest.second, scorer.second, enricher.second, windower.second} {
		select {
		case <-p.done:
			t.Errorf("the surviving %s exited: %v", p.name, p.err)
		default:
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeSignals(t, b)
	if a, b := canonical(t, want), canonical(t, got); !slices.Equal(a, b) {
		// The stages' counters (events late, rejected, filtered) tell lost input from a model
		// that diverged.
		stats, _ := os.ReadFile(statsFile)
		t.Fatalf("signals with replicas and kills differ from the all-in-one: %s\nthe replay's counters: %s", signalDiff(want, got), stats)
	}
}

// signalDiff names, signal by signal, the fields that differ (wall-clock fields aside).
func signalDiff(want, got []map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d signals, want %d", len(got), len(want))
	for i := range max(len(want), len(got)) {
		if i >= len(want) || i >= len(got) {
			fmt.Fprintf(&b, "\nsignal %d: only in one run", i)
			continue
		}
		for k := range want[i] {
			if wallClock[k] {
				continue
			}
			w, _ := json.Marshal(want[i][k])
			g, _ := json.Marshal(got[i][k])
			if string(w) != string(g) {
				fmt.Fprintf(&b, "\nsignal %d %s:\n  want %s\n  got  %s", i, k, w, g)
			}
		}
		for k := range got[i] {
			if _, ok := want[i][k]; !ok && !wallClock[k] {
				fmt.Fprintf(&b, "\nsignal %d %s: only in the replicas' run", i, k)
			}
		}
	}
	return b.String()
}

// dumpJetStream logs every stream's and consumer's state: where a stuck pipeline stopped.
func dumpJetStream(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Logf("no JetStream context: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Logf("stream %s: %v", name, err)
			continue
		}
		st := s.CachedInfo().State
		t.Logf("stream %s: %d messages, seq %d..%d", name, st.Msgs, st.FirstSeq, st.LastSeq)
		cl := s.ListConsumers(ctx)
		for ci := range cl.Info() {
			t.Logf("  consumer %s: delivered %d, ack floor %d, ack pending %d, pending %d, redelivered %d, waiting %d",
				ci.Name, ci.Delivered.Stream, ci.AckFloor.Stream, ci.NumAckPending, ci.NumPending, ci.NumRedelivered, ci.NumWaiting)
		}
	}
	if err := names.Err(); err != nil {
		t.Logf("stream names: %v", err)
	}
}

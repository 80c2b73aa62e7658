package windower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

// fakeClock is a wall clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(s string)   { c.mu.Lock(); defer c.mu.Unlock(); c.t = clock(s) }
func newClock(s string) *fakeClock  { return &fakeClock{t: clock(s)} }
func testConfig(clk string) Config {
	return Config{Rule: DefaultRule(), Clock: clk, LeaseTTL: 300 * time.Millisecond}
}
func (h *harness) noStatusFor(t *testing.T, r *reader, d time.Duration) {
	t.Helper()
	if m, err := r.it.Next(jetstream.NextMaxWait(d)); err == nil {
		t.Fatalf("unexpected status %s", m.Data())
	}
}

// start runs a windower with cfg until the returned stop (a graceful stop; crash stops like a
// killed process, keeping its lease).
func (h *harness) start(t *testing.T, cfg Config, clk *fakeClock) (svc *Service, stop, crash func()) {
	t.Helper()
	nc, err := natsutil.Connect("", h.srv, Stage)
	if err != nil {
		t.Fatal(err)
	}
	h.announce(t, cfg.Rule.JobIDs...)
	svc, err = New(h.ctx, cfg, nc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if clk != nil {
		svc.now = clk.now
	}
	runCtx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("windower Run: %v", err)
			}
			nc.Close()
		})
	}
	crash = func() { svc.noRelease = true; stop() }
	t.Cleanup(stop)
	return svc, stop, crash
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextStatus reads the next run status.
func (r *reader) status(t *testing.T) Status {
	t.Helper()
	var st Status
	if err := json.Unmarshal(r.next(t).Data(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// signalDocs reads n signals, checks each against the schema, and returns them.
func (r *reader) signalDocs(t *testing.T, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for range n {
		m := r.next(t)
		validateSignal(t, m.Data())
		var d map[string]any
		if err := json.Unmarshal(m.Data(), &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func recOn(bucket, process string, score float64, host string) record.Record {
	r := rec(bucket, process, score)
	r.ID = record.ID(job, clock(bucket), 15*time.Minute, 0, process+"@"+host)
	r.Function, r.FunctionDesc, r.Probability = "rare", "rare", 0.001
	r.InitialRecordScore = score
	r.Typical, r.Actual = []float64{0.001}, []float64{1}
	r.Influencers = []record.Influencer{{FieldName: "host.name", FieldValues: []string{host}},
		{FieldName: "process.name", FieldValues: []string{process}}}
	return r
}

func TestServiceOneActiveByLeaseAndTakeover(t *testing.T) {
	h := startServer(t)
	status := h.reader(t, stream.Status)
	a, _, crashA := h.start(t, testConfig(ClockWatermark), nil)
	waitFor(t, "the first windower to be active", a.Active)
	b, stopB, _ := h.start(t, testConfig(ClockWatermark), nil)
	time.Sleep(time.Second) // three lease lifetimes: b must stay standing by
	if b.Active() || !a.Active() {
		t.Fatalf("active: a %v, b %v; want only a", a.Active(), b.Active())
	}

	h.publishRecord(t, recOn("10:00", "nc", 80, "h1"))
	h.marker(t, wmAt("10:30"))
	for _, want := range []string{"10:15 in=1 match=1 sig=1 dup=0 trunc=0", "10:30 in=1 match=1 sig=0 dup=1 trunc=0"} {
		if got := runSummary(status.status(t)); got != want {
			t.Errorf("run %s, want %s", got, want)
		}
	}
	h.waitConsumed(t)
	if a.Stats().Runs.Load() != 2 || b.Stats().Runs.Load() != 0 || b.Stats().Records.Load() != 0 {
		t.Errorf("runs: a %d, b %d (b read %d records)", a.Stats().Runs.Load(), b.Stats().Runs.Load(), b.Stats().Records.Load())
	}

	// a dies without giving its lease up: b takes over once the lease expires, and goes on
	// from a's last run (10:30) and a's waiting records, in replay mode too.
	crashA()
	waitFor(t, "the standby to take over", b.Active)
	h.publishRecord(t, recOn("10:00", "nc", 80, "h1")) // redelivered or republished: no second signal
	h.publishRecord(t, recOn("10:30", "perl", 90, "h2"))
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("11:00"), Replay: "x"})
	sts := status.statuses(t)
	var got []string
	for _, st := range sts[:len(sts)-1] {
		got = append(got, runSummary(st))
	}
	want := []string{"10:45 in=2 match=2 sig=1 dup=1 trunc=0", "11:00 in=1 match=1 sig=0 dup=1 trunc=0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("runs after takeover\n got %q\nwant %q", got, want)
	}
	if n := h.streamMsgs(t, stream.Signals); n != 2 {
		t.Errorf("SIGNALS holds %d messages, want 2 (one per record)", n)
	}
	h.reader(t, stream.Signals).signalDocs(t, 2)

	// A graceful stop releases the lease: a new windower is active at once.
	stopB()
	c, _, _ := h.start(t, Config{Rule: DefaultRule(), Clock: ClockWatermark, LeaseTTL: time.Hour}, nil)
	waitFor(t, "a new windower to take the released lease", c.Active)
}

// TestServiceReplayEndForgetsItsMemory: a replay's memory (last run, waiting records) is in
// the KV bucket for a standby to take over, and is forgotten at the replay's end, so the next
// replay may start earlier in event time without its records being too late.
func TestServiceReplayEndForgetsItsMemory(t *testing.T) {
	h := startServer(t)
	status := h.reader(t, stream.Status)
	a, _, _ := h.start(t, testConfig(ClockWatermark), nil)
	waitFor(t, "the windower to be active", a.Active)
	h.publishRecord(t, recOn("10:00", "nc", 80, "h1"))
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("10:30"), Replay: "first"})
	if sts := status.statuses(t); len(sts) < 2 {
		t.Fatalf("first replay: %d statuses, want its runs and its end", len(sts))
	}
	if _, err := h.kvGet(t, "lastrun."+ruleKey(DefaultRule().ID)); err == nil {
		t.Error("the last run of a finished replay is still in the KV bucket")
	}

	h.publishRecord(t, recOn("08:00", "perl", 90, "h2"))
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("08:30"), Replay: "second"})
	sts := status.statuses(t)
	var got []string
	for _, st := range sts[:len(sts)-1] {
		got = append(got, runSummary(st))
	}
	if len(got) == 0 || got[0] != "08:15 in=1 match=1 sig=1 dup=0 trunc=0" {
		t.Errorf("second replay's runs %q, want a first run at 08:15 signalling perl", got)
	}
	if a.Stats().TooLate.Load() != 0 {
		t.Errorf("%d records too late, want none", a.Stats().TooLate.Load())
	}
}

func TestServiceExceptionsAndSuppression(t *testing.T) {
	h := startServer(t)
	if err := ensureStateBuckets(h.ctx, h.js, stream.Config{Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	kv, err := ExceptionsKV(h.ctx, h.js)
	if err != nil {
		t.Fatal(err)
	}
	rule := DefaultRule()
	x := Exception{RuleID: rule.ID, Comment: "teleport on the web tier"}
	for _, s := range []string{"process.name is teleport", "host.name is one of web-1,web-2"} {
		e, err := ParseEntry(s)
		if err != nil {
			t.Fatal(err)
		}
		x.Entries = append(x.Entries, e)
	}
	if _, err := AddException(h.ctx, kv, &x); err != nil {
		t.Fatal(err)
	}
	other := Exception{RuleID: "another-rule", Entries: []Entry{{Field: "process.name", Operator: OpIs, Values: []string{"nc"}}}}
	if _, err := AddException(h.ctx, kv, &other); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(ClockWatermark)
	cfg.SuppressFor = time.Hour
	svc, _, _ := h.start(t, cfg, nil)
	status := h.reader(t, stream.Status)

	h.publishRecord(t, recOn("10:00", "teleport", 90, "web-1")) // excepted
	h.publishRecord(t, recOn("10:00", "teleport", 90, "db-1"))  // signalled: not on the web tier
	h.publishRecord(t, recOn("10:00", "nc", 80, "h1"))          // signalled: first of its group
	h.publishRecord(t, recOn("10:00", "nc", 70, "h2"))          // signalled: another host, another group
	h.marker(t, wmAt("10:15"))
	h.publishRecord(t, recOn("10:15", "nc", 85, "h1")) // suppressed: h1/nc signalled 15 minutes ago
	h.publishRecord(t, recOn("11:15", "nc", 85, "h1")) // signalled: the hour has passed
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("12:00"), Replay: "x"})
	sts := status.statuses(t)
	type counts struct{ sig, exc, sup int }
	got := map[string]counts{}
	for _, st := range sts[:len(sts)-1] {
		got[st.RunTime.Format("15:04")] = counts{st.Signals, st.Excepted, st.Suppressed}
	}
	want := map[string]counts{"10:15": {3, 1, 0}, "10:30": {0, 1, 1}, "10:45": {0, 1, 0}, "11:00": {0, 0, 0}, "11:15": {0, 0, 0},
		"11:30": {1, 0, 0}, "11:45": {0, 0, 0}, "12:00": {0, 0, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("signals, excepted, suppressed per run\n got %v\nwant %v", got, want)
	}
	if svc.Stats().Suppressed.Load() != 1 || svc.Stats().Signals.Load() != 4 {
		t.Errorf("stats: %d suppressed, %d signals", svc.Stats().Suppressed.Load(), svc.Stats().Signals.Load())
	}
	var signalled []string
	for _, d := range h.reader(t, stream.Signals).signalDocs(t, 4) {
		signalled = append(signalled, fmt.Sprintf("%v %v %v", d["by_field_value"], d["host.name"], d["kibana.alert.original_time"]))
	}
	if w := "[teleport [db-1] 2024-01-01T10:00:00Z nc [h1] 2024-01-01T10:00:00Z nc [h2] 2024-01-01T10:00:00Z nc [h1] 2024-01-01T11:15:00Z]"; fmt.Sprint(signalled) != w {
		t.Errorf("signals %v, want %s", signalled, w)
	}

	// Exceptions are listed per rule and removed by id.
	xs, err := ListExceptions(h.ctx, kv, rule.ID)
	if err != nil || len(xs) != 1 || xs[0].ID != x.ID || xs[0].Comment != x.Comment || len(xs[0].Entries) != 2 {
		t.Fatalf("ListExceptions = %+v, %v", xs, err)
	}
	if all, _ := ListExceptions(h.ctx, kv, ""); len(all) != 2 {
		t.Errorf("%d exceptions in all, want 2", len(all))
	}
	if err := RemoveException(h.ctx, kv, "", x.ID); err != nil {
		t.Fatal(err)
	}
	if err := RemoveException(h.ctx, kv, "", x.ID); !errors.Is(err, ErrExceptionNotFound) {
		t.Errorf("second remove: %v", err)
	}
	waitFor(t, "the windower to see the removal", func() bool { return len(svc.ex.current()) == 0 })
}

func TestServiceSignalLateIn7xShape(t *testing.T) {
	h := startServer(t)
	cfg := testConfig(ClockWatermark)
	cfg.SignalLate, cfg.SignalFormat = true, Format7x
	svc, _, _ := h.start(t, cfg, nil)
	status := h.reader(t, stream.Status)
	h.publishRecord(t, recOn("10:00", "nc", 80, "h1"))
	h.marker(t, wmAt("10:30"))
	late := recOn("09:45", "perl", 99, "h2")
	h.publishRecord(t, late)
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("10:30"), Replay: "x"})
	sts := status.statuses(t)
	if len(sts) != 4 || sts[2].LateSignals != 1 || sts[2].Signals != 1 || sts[2].RunTime != clock("10:45") {
		t.Fatalf("statuses %+v", sts)
	}
	if svc.Stats().TooLate.Load() != 1 {
		t.Errorf("too late %d", svc.Stats().TooLate.Load())
	}
	docs := h.reader(t, stream.Signals).signalDocs(t, 2)
	sig := docs[1]["signal"].(map[string]any)
	if docs[1]["rarenet.late"] != true || docs[1]["by_field_value"] != "perl" || sig["status"] != "open" ||
		sig["original_time"] != "2024-01-01T09:45:00Z" || docs[0]["rarenet.late"] != nil {
		t.Errorf("late signal %v", docs[1])
	}
	m := h.reader(t, stream.DLQ).next(t)
	if r := m.Headers().Get(control.HeaderReason); !strings.Contains(r, "signalled by the next run") {
		t.Errorf("dead letter reason %q", r)
	}
}

// TestServiceLiveCatchUp stops a live windower, lets records arrive while it is down, and
// restarts it later: it runs every missed boundary over them, as Elastic's gap handling does.
func TestServiceLiveCatchUp(t *testing.T) {
	h := startServer(t)
	clk := newClock("10:07")
	status := h.reader(t, stream.Status)
	_, stopA, _ := h.start(t, testConfig(ClockWall), clk)
	if st := status.status(t); st.RunTime != clock("10:00") || st.CatchUp {
		t.Fatalf("first live run %+v", st)
	}
	h.publishRecord(t, recOn("10:00", "nc", 80, "h1"))
	h.waitConsumed(t)
	clk.set("10:16")
	if st := status.status(t); runSummary(st) != "10:15 in=1 match=1 sig=1 dup=0 trunc=0" {
		t.Fatalf("run %s", runSummary(st))
	}
	stopA()

	// Down from 10:16 to 11:20; a record of 10:30 arrives meanwhile, and the one of 10:00 is
	// still waiting for its runs in the windower's memory.
	h.publishRecord(t, recOn("10:30", "perl", 90, "h2"))
	clk.set("10:20")
	b, _, _ := h.start(t, testConfig(ClockWall), clk)
	h.waitConsumed(t)
	h.noStatusFor(t, status, 200*time.Millisecond)
	if len(b.win.pending) != 2 {
		t.Fatalf("%d records pending after the restart, want the restored one and the new one", len(b.win.pending))
	}
	clk.set("11:20")
	var got []string
	for range 4 {
		st := status.status(t)
		got = append(got, fmt.Sprintf("%s catch-up=%v", runSummary(st), st.CatchUp))
	}
	want := []string{
		"10:30 in=1 match=1 sig=0 dup=1 trunc=0 catch-up=true",
		"10:45 in=2 match=2 sig=1 dup=1 trunc=0 catch-up=true",
		"11:00 in=1 match=1 sig=0 dup=1 trunc=0 catch-up=true",
		"11:15 in=1 match=1 sig=0 dup=1 trunc=0 catch-up=false",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("catch-up\n got %q\nwant %q", got, want)
	}
	if n := h.streamMsgs(t, stream.Signals); n != 2 {
		t.Errorf("%d signals, want 2", n)
	}
}

func TestServiceLiveCatchUpBounded(t *testing.T) {
	h := startServer(t)
	clk := newClock("10:07")
	status := h.reader(t, stream.Status)
	_, stopA, _ := h.start(t, testConfig(ClockWall), clk)
	status.status(t)
	stopA()
	clk.set("13:20")
	cfg := testConfig(ClockWall)
	cfg.MaxCatchUp = time.Hour
	h.start(t, cfg, clk)
	var runs []string
	for range 4 {
		st := status.status(t)
		runs = append(runs, st.RunTime.Format("15:04"))
		if len(runs) == 1 && (len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "longer than the max catch-up of 1h0m0s")) {
			t.Errorf("first catch-up run warnings %q", st.Warnings)
		}
	}
	if fmt.Sprint(runs) != "[12:30 12:45 13:00 13:15]" {
		t.Errorf("runs %v", runs)
	}
}

func TestServiceRefusesShortEmittedTTL(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect("", srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := natsutil.JetStream(nc)
	ctx := context.Background()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 1, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(ClockWall)
	cfg.EmittedTTL = 45 * time.Minute
	_, err = New(ctx, cfg, nc, slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrEmittedTTL) {
		t.Fatalf("New with an emitted TTL equal to the look-back: %v, want ErrEmittedTTL", err)
	}
}

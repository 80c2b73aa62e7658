package windower

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

type harness struct {
	srv *server.Server
	js  jetstream.JetStream
	ctx context.Context
}

func startServer(t *testing.T) *harness {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, 4)
	srv, ctx, js := ts.Srv, ts.Ctx, ts.JS
	return &harness{srv: srv, js: js, ctx: ctx}
}

// announce writes the scorer's announcement of the given jobs, as a scorer does when it
// starts: the windower waits for it.
func (h *harness) announce(t *testing.T, jobs ...string) {
	t.Helper()
	kv := natstest.KeyValue(t, h.ctx, h.js, stream.ScorerBucket)
	a := stream.Jobs{Holder: "test"}
	for _, j := range jobs {
		a.Jobs = append(a.Jobs, stream.JobInfo{ID: j, BucketSpan: "15m0s", ByField: "process.name", ResultsIndex: ".ml-anomalies-shared"})
	}
	if err := stream.AnnounceJobs(h.ctx, kv, a); err != nil {
		t.Fatal(err)
	}
}

// startWindower runs a windower until the returned stop is called (or the test ends).
func (h *harness) startWindower(t *testing.T, rule Rule) (*Service, func()) {
	t.Helper()
	nc, err := natsutil.Connect("", h.srv, Stage)
	if err != nil {
		t.Fatal(err)
	}
	h.announce(t, rule.JobIDs...)
	svc, err := New(h.ctx, Config{Rule: rule, Clock: ClockWatermark}, nc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("windower Run: %v", err)
		}
		nc.Close()
	}
	t.Cleanup(stop)
	return svc, stop
}

func (h *harness) publishRecord(t *testing.T, r record.Record) []byte {
	t.Helper()
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.js.Publish(h.ctx, stream.EnrichedSubject, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) marker(t *testing.T, m control.Marker) {
	t.Helper()
	if _, err := h.js.PublishMsg(h.ctx, m.Msg(stream.EnrichedSubject)); err != nil {
		t.Fatal(err)
	}
}

type reader struct{ it jetstream.MessagesContext }

func (h *harness) reader(t *testing.T, name string) *reader {
	t.Helper()
	c, err := h.js.OrderedConsumer(h.ctx, name, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.Messages()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(it.Stop)
	return &reader{it}
}

func (r *reader) next(t *testing.T) jetstream.Msg {
	t.Helper()
	m, err := r.it.Next(jetstream.NextMaxWait(30 * time.Second))
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	return m
}

// statuses reads status reports up to and including the next end-of-input one.
func (r *reader) statuses(t *testing.T) []Status {
	t.Helper()
	var out []Status
	for {
		var st Status
		if err := json.Unmarshal(r.next(t).Data(), &st); err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
		if st.EOF {
			return out
		}
	}
}

// runs reads status reports up to the next end-of-input one and summarises each run
// (runSummary).
func (r *reader) runs(t *testing.T) []string {
	t.Helper()
	sts := r.statuses(t)
	var out []string
	for _, st := range sts[:len(sts)-1] {
		out = append(out, runSummary(st))
	}
	return out
}

// runSummary writes a run status as "HH:MM in=N match=N sig=N dup=N trunc=N".
func runSummary(st Status) string {
	return fmt.Sprintf("%s in=%d match=%d sig=%d dup=%d trunc=%d", st.RunTime.Format("15:04"), st.InWindow, st.Matches,
		st.Signals, st.Duplicates, st.Truncated)
}

func (h *harness) streamMsgs(t *testing.T, name string) uint64 {
	t.Helper()
	s, err := h.js.Stream(h.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

func wmAt(s string) control.Marker {
	return control.Marker{Kind: control.KindWatermark, Watermark: clock(s)}
}

func TestServiceOneSignalPerRecordAcrossRunsAndRestarts(t *testing.T) {
	h := startServer(t)
	rule := DefaultRule()
	first, stop := h.startWindower(t, rule)
	status := h.reader(t, stream.Status)

	nc := rec("10:00", "nc", 80)
	ssh := rec("10:00", "ssh", 49.9)
	socat := rec("10:15", "socat", 50)
	input := func() {
		h.publishRecord(t, nc)
		h.publishRecord(t, ssh)
		h.marker(t, wmAt("10:15"))
		h.publishRecord(t, socat)
		for _, at := range []string{"10:30", "10:45", "11:00"} {
			h.marker(t, wmAt(at))
		}
		h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("11:00"), Replay: "r1",
			Stats: map[string]string{"scorer": `{"records":3}`}})
	}
	input()

	wantRuns := []string{
		"10:15 in=2 match=1 sig=1 dup=0 trunc=0",
		"10:30 in=3 match=2 sig=1 dup=1 trunc=0",
		"10:45 in=3 match=2 sig=0 dup=2 trunc=0",
		"11:00 in=1 match=1 sig=0 dup=1 trunc=0",
	}
	sts := status.statuses(t)
	var got []string
	for _, st := range sts[:len(sts)-1] {
		got = append(got, runSummary(st))
		if st.RuleID != rule.ID || !st.WindowStart.Equal(st.RunTime.Add(-45*time.Minute)) || !st.WindowEnd.Equal(st.RunTime) {
			t.Errorf("status %+v", st)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(wantRuns) {
		t.Fatalf("runs\n got %q\nwant %q", got, wantRuns)
	}
	eof := sts[len(sts)-1]
	if eof.Replay != "r1" || string(eof.Stages["scorer"]) != `{"records":3}` {
		t.Errorf("end-of-input status %+v", eof)
	}
	var own map[string]int64
	if err := json.Unmarshal(eof.Stages[Stage], &own); err != nil {
		t.Fatal(err)
	}
	wantOwn := map[string]int64{"records": 3, "runs": 4, "signals": 2, "duplicates": 4, "excepted": 0, "suppressed": 0,
		"truncated": 0, "too_late": 0, "late_signals": 0}
	if fmt.Sprint(own) != fmt.Sprint(wantOwn) {
		t.Errorf("windower stats %v, want %v", own, wantOwn)
	}

	t.Run("signals", func(t *testing.T) {
		if n := h.streamMsgs(t, stream.Signals); n != 2 {
			t.Fatalf("SIGNALS holds %d messages, want 2", n)
		}
		signals := h.reader(t, stream.Signals)
		for _, w := range []struct {
			r   record.Record
			run string
		}{{nc, "2024-01-01T10:15:00Z"}, {socat, "2024-01-01T10:30:00Z"}} {
			m := signals.next(t)
			var doc map[string]any
			if err := json.Unmarshal(m.Data(), &doc); err != nil {
				t.Fatal(err)
			}
			id := SignalID(rule.ID, w.r.ID)
			if doc["kibana.alert.uuid"] != id || m.Headers().Get(nats.MsgIdHdr) != id {
				t.Errorf("signal id %v, Nats-Msg-Id %q, want %s", doc["kibana.alert.uuid"], m.Headers().Get(nats.MsgIdHdr), id)
			}
			if doc["by_field_value"] != w.r.ByFieldValue || doc["rarenet.rule_run"] != w.run ||
				doc["kibana.alert.original_time"] != w.r.BucketStart().Format(time.RFC3339) {
				t.Errorf("signal of %s: by_field_value %v, rule_run %v, original_time %v", w.r.ByFieldValue,
					doc["by_field_value"], doc["rarenet.rule_run"], doc["kibana.alert.original_time"])
			}
			if _, err := h.kvGet(t, id); err != nil {
				t.Errorf("signal %s not remembered in %s: %v", id, stream.EmittedBucket, err)
			}
		}
	})

	t.Run("restart", func(t *testing.T) {
		h.waitConsumed(t)
		stop()
		if n := first.Stats().Signals.Load(); n != 2 {
			t.Errorf("first windower published %d signals, want 2", n)
		}
		// A new windower meets the same records again (a replay, a redelivery, a takeover):
		// with an empty memory, it must find every signal in the key-value bucket.
		second, _ := h.startWindower(t, rule)
		input()
		got := status.runs(t)
		want := []string{
			"10:15 in=2 match=1 sig=0 dup=1 trunc=0",
			"10:30 in=3 match=2 sig=0 dup=2 trunc=0",
			"10:45 in=3 match=2 sig=0 dup=2 trunc=0",
			"11:00 in=1 match=1 sig=0 dup=1 trunc=0",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("runs after restart\n got %q\nwant %q", got, want)
		}
		if n := second.Stats().Signals.Load(); n != 0 {
			t.Errorf("second windower published %d signals, want 0", n)
		}
		if n := h.streamMsgs(t, stream.Signals); n != 2 {
			t.Errorf("SIGNALS holds %d messages, want 2", n)
		}
	})
}

// TestServiceTakesOverWhatADeadWindowerHeld checks a takeover from a windower killed between
// handling its input and committing it: what it held unacknowledged comes first to the new
// windower, in stream order. It came back only after the consumer's ack wait (a minute), behind
// the later markers, whose runs had passed the record by: the record was never signalled
// (TestReplicasSurviveKills, once its kill landed in a burst of catch-up runs).
func TestServiceTakesOverWhatADeadWindowerHeld(t *testing.T) {
	h := startServer(t)
	rule := DefaultRule()
	status := h.reader(t, stream.Status)
	nc := rec("10:00", "nc", 80)
	h.publishRecord(t, nc)
	h.marker(t, wmAt("10:15"))
	// The dead windower: the record and the first marker delivered to it, never acknowledged.
	dead, err := natsutil.DurableConsumer(h.ctx, h.js, stream.Enriched, stream.WindowerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := dead.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for range batch.Messages() {
		held++
	}
	if held != 2 {
		t.Fatalf("the dead windower was delivered %d messages, want 2", held)
	}
	for _, at := range []string{"10:30", "10:45", "11:00"} {
		h.marker(t, wmAt(at))
	}
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("11:00"), Replay: "r1"})

	svc, _ := h.startWindower(t, rule)
	got := status.runs(t)
	want := []string{
		"10:15 in=1 match=1 sig=1 dup=0 trunc=0",
		"10:30 in=1 match=1 sig=0 dup=1 trunc=0",
		"10:45 in=1 match=1 sig=0 dup=1 trunc=0",
		"11:00 in=0 match=0 sig=0 dup=0 trunc=0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("runs after the takeover\n got %q\nwant %q", got, want)
	}
	if n := svc.Stats().Signals.Load(); n != 1 {
		t.Errorf("the new windower published %d signals, want 1 (the record the dead one held)", n)
	}
}

// waitConsumed waits until the windower's consumer has acknowledged everything on ENRICHED.
func (h *harness) waitConsumed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := h.js.Consumer(h.ctx, stream.Enriched, stream.WindowerConsumer)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("windower never acknowledged its input: %d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) kvGet(t *testing.T, key string) (jetstream.KeyValueEntry, error) {
	t.Helper()
	kv, err := h.js.KeyValue(h.ctx, stream.EmittedBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv.Get(h.ctx, key)
}

func TestServiceMaxSignalsAndTooLate(t *testing.T) {
	h := startServer(t)
	rule := DefaultRule()
	rule.MaxSignals = 2
	svc, _ := h.startWindower(t, rule)
	status := h.reader(t, stream.Status)

	a, b, c := rec("10:00", "a", 90), rec("10:00", "b", 70), rec("10:00", "c", 60)
	for _, r := range []record.Record{c, a, b} {
		h.publishRecord(t, r)
	}
	h.marker(t, wmAt("10:15"))
	h.marker(t, wmAt("10:30"))
	// After the run at 10:30 the next run covers buckets from 10:00: 09:45 is too late.
	late := h.publishRecord(t, rec("09:45", "late", 99))
	h.marker(t, control.Marker{Kind: control.KindEOF, Watermark: clock("10:30"), Replay: "r2"})

	sts := status.statuses(t)
	if len(sts) != 3 {
		t.Fatalf("%d statuses, want 2 runs and the end of input: %+v", len(sts), sts)
	}
	want := []string{"10:15 in=3 match=3 sig=2 dup=0 trunc=1", "10:30 in=3 match=3 sig=1 dup=2 trunc=0"}
	for i, w := range want {
		if got := runSummary(sts[i]); got != w {
			t.Errorf("run %d: %s, want %s", i, got, w)
		}
	}
	if len(sts[0].Warnings) != 1 || !strings.Contains(sts[0].Warnings[0], "max signals reached: 1 ") {
		t.Errorf("warnings of the capped run %q", sts[0].Warnings)
	}
	if len(sts[1].Warnings) != 0 {
		t.Errorf("warnings of the second run %q", sts[1].Warnings)
	}
	if n := svc.Stats().TooLate.Load(); n != 1 {
		t.Errorf("too late = %d, want 1", n)
	}

	signals := h.reader(t, stream.Signals)
	var order []any
	for range 3 {
		var doc map[string]any
		if err := json.Unmarshal(signals.next(t).Data(), &doc); err != nil {
			t.Fatal(err)
		}
		order = append(order, doc["by_field_value"])
	}
	if fmt.Sprint(order) != "[a b c]" {
		t.Errorf("signals %v, want [a b c]: highest score first, the capped one in the next run", order)
	}

	dlq := h.reader(t, stream.DLQ)
	m := dlq.next(t)
	if m.Subject() != "rarenet.dlq.windower" || !bytes.Equal(m.Data(), late) {
		t.Errorf("dead letter on %s: %q", m.Subject(), m.Data())
	}
	if r := m.Headers().Get(control.HeaderReason); !strings.HasPrefix(r, "too late for rule "+rule.ID) {
		t.Errorf("reason %q", r)
	}
}

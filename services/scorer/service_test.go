package scorer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/partition"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

const testPartitions = 4

// harness is an embedded server with the pipeline's streams and a running scorer.
type harness struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	svc *Service
	ctx context.Context
}

func startScorer(t *testing.T) *harness {
	t.Helper()
	return startScorerWith(t, nil)
}

// startScorerWith starts a scorer after letting set change its service before it runs.
func startScorerWith(t *testing.T, set func(*Service)) *harness {
	t.Helper()
	ts, h := newPipeline(t)
	svc, stop := runScorerWith(t, ts, set)
	t.Cleanup(stop)
	h.svc = svc
	return h
}

// newPipeline is an embedded server with the pipeline's streams, and a harness on it with no
// scorer running yet.
func newPipeline(t *testing.T) (*natstest.Server, *harness) {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, testPartitions)
	return ts, &harness{nc: ts.NC, js: ts.JS, ctx: ts.Ctx}
}

// runScorer runs a scorer on ts until the returned function stops it (as a replica that
// shuts down does).
func runScorer(t *testing.T, ts *natstest.Server) (stop func()) {
	t.Helper()
	_, stop = runScorerWith(t, ts, nil)
	return stop
}

// runScorerWith is runScorer after letting set change the service before it runs.
func runScorerWith(t *testing.T, ts *natstest.Server, set func(*Service)) (*Service, func()) {
	t.Helper()
	svc, err := New(ts.Ctx, Config{Job: DefaultJob(), Clock: ClockWatermark, AllowedLateness: time.Minute},
		ts.Conn(t, Stage), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(svc)
	}
	ctx, cancel := context.WithCancel(ts.Ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	return svc, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scorer Run: %v", err)
		}
	}
}

func (h *harness) publish(t *testing.T, m *nats.Msg) {
	t.Helper()
	if _, err := h.js.PublishMsg(h.ctx, m); err != nil {
		t.Fatalf("publish on %s: %v", m.Subject, err)
	}
}

// publishEvents sends events as one event batch per partition, as ingest does.
func (h *harness) publishEvents(t *testing.T, evs ...*event.Event) {
	t.Helper()
	batches := make([]event.BatchBuilder, testPartitions)
	for _, e := range evs {
		batches[partition.Of(e.Process.Name, testPartitions)].Add(e)
	}
	for p := range batches {
		if batches[p].Len() > 0 {
			data, err := batches[p].AppendMsg(nil)
			if err != nil {
				t.Fatal(err)
			}
			m := nats.NewMsg(stream.EventsSubject(p))
			m.Data = data
			h.publish(t, m)
		}
	}
}

// watermark announces wm on every partition, as ingest does.
func (h *harness) watermark(t *testing.T, wm time.Time) {
	t.Helper()
	for p := range testPartitions {
		h.publish(t, control.Marker{Kind: control.KindWatermark, Watermark: wm}.Msg(stream.EventsSubject(p)))
	}
}

func (h *harness) eof(t *testing.T, replay string, p int) {
	t.Helper()
	// Ingest's end-of-input markers carry the replay's latest event time, so that every
	// partition closes through the same bucket.
	m := control.Marker{Kind: control.KindEOF, Replay: replay, Partition: p, Watermark: at(22),
		Stats: map[string]string{"ingest": `{"lines":` + strconv.Itoa(p) + `}`}}
	h.publish(t, m.Msg(stream.EventsSubject(p)))
}

// reader receives what a stage publishes on a subject through a core subscription, which
// sees every message whatever the stream's retention. Create it before publishing input.
type reader struct {
	sub *nats.Subscription
}

func newReader(t *testing.T, h *harness, subject string) *reader {
	t.Helper()
	sub, err := h.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return &reader{sub: sub}
}

func (r *reader) next(t *testing.T) *nats.Msg {
	t.Helper()
	m, err := r.sub.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no message on %s: %v", r.sub.Subject, err)
	}
	return m
}

// untilEOF describes (describe) every message up to and including the end of input.
func (r *reader) untilEOF(t *testing.T) []string {
	t.Helper()
	var got []string
	for {
		got = append(got, describe(t, r.next(t)))
		if strings.HasPrefix(got[len(got)-1], "eof") {
			return got
		}
	}
}

// describe names an ANOMALIES message: "wm HH:MM", "rec <value>@HH:MM" or "eof".
func describe(t *testing.T, m *nats.Msg) string {
	t.Helper()
	if control.IsControl(m.Header) {
		mk, err := control.Parse(m.Header)
		if err != nil {
			t.Fatal(err)
		}
		if mk.Kind == control.KindEOF {
			return "eof " + mk.Watermark.Format("15:04")
		}
		return "wm " + mk.Watermark.Format("15:04")
	}
	if m.Header.Get(control.HeaderEncoding) == control.EncodingMsgpack {
		var sum record.BucketSummary
		if _, err := sum.UnmarshalMsg(m.Data); err != nil {
			t.Fatal(err)
		}
		if sum.ResultType != record.ResultTypeBucketSummary {
			t.Fatalf("msgpack message of result type %q", sum.ResultType)
		}
		return fmt.Sprintf("sum %d@%s", len(sum.Values), time.UnixMilli(sum.Timestamp).UTC().Format("15:04"))
	}
	var r record.Record
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatal(err)
	}
	return "rec " + r.ByFieldValue + "@" + r.BucketStart().Format("15:04")
}

func TestServiceEndToEnd(t *testing.T) {
	h := startScorer(t)
	anomalies := newReader(t, h, stream.AnomaliesSubject)
	dlq := newReader(t, h, stream.DLQSubject(Stage))

	events := 0
	// 10 regular names in each of buckets 0..19.
	for b := range 20 {
		var evs []*event.Event
		for n := range 10 {
			evs = append(evs, ev(at(b).Add(time.Duration(n)*time.Second), regular(n)))
		}
		h.publishEvents(t, evs...)
		events += len(evs)
		h.watermark(t, at(b+1))
	}
	// Bucket 20: the regulars and a new name.
	var evs []*event.Event
	for n := range 10 {
		evs = append(evs, ev(at(20), regular(n)))
	}
	nc := ev(at(20).Add(time.Minute), "nc")
	nc.Host.Name, nc.User.Name, nc.Destination.IP = "web1", "www-data", "198.51.100.9"
	evs = append(evs, nc)
	h.publishEvents(t, evs...)
	events += len(evs)
	h.watermark(t, at(21))

	// A late event, in one message with an event of the open bucket 21.
	late := ev(at(5).Add(time.Minute), regular(3))
	late.Origin = event.Origin{Source: "late.log", Line: 3, Format: "ecs"}
	// The dead letter holds the late event as the normalized event's JSON.
	lateLine, err := json.Marshal(late)
	if err != nil {
		t.Fatal(err)
	}
	data, err := event.EncodeBatch(ev(at(21), regular(3)), late)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(stream.EventsSubject(partition.Of(regular(3), testPartitions)))
	m.Data = data
	h.publish(t, m)
	events += 2

	// The end of the replay on three partitions of four, then a watermark that closes
	// bucket 21: its marker on ANOMALIES proves the scorer handled the three EOFs.
	for p := range testPartitions - 1 {
		h.eof(t, "r1", p)
	}
	h.eof(t, "r1", 0) // a repeated EOF does not count for another partition
	h.watermark(t, at(22))
	// Bucket 22 holds a new name, closed only by the last EOF.
	h.publishEvents(t, ev(at(22), "socat"))
	events++
	h.eof(t, "r1", testPartitions-1)

	// Each closed bucket's summary of every value comes before its records, for the enricher.
	var want []string
	for b := 1; b <= 20; b++ {
		want = append(want, "sum 10@"+at(b-1).Format("15:04"), "wm "+at(b).Format("15:04"))
	}
	want = append(want, "sum 11@05:00", "rec nc@05:00", "wm 05:15", "sum 1@05:15", "wm 05:30",
		"sum 1@05:30", "rec socat@05:30", "wm 05:45", "eof 05:45")
	var got []string
	var msgs []*nats.Msg
	for len(got) < len(want) {
		m := anomalies.next(t)
		msgs = append(msgs, m)
		got = append(got, describe(t, m))
		if strings.HasPrefix(got[len(got)-1], "eof") {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ANOMALIES\n got %v\nwant %v", got, want)
	}

	t.Run("record", func(t *testing.T) {
		m := msgs[41]
		var r record.Record
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		wantID := record.ID(DefaultJob().ID, at(20), span, 0, "nc")
		if r.ID != wantID || m.Header.Get(nats.MsgIdHdr) != wantID {
			t.Errorf("record id %q, Nats-Msg-Id %q, want %q", r.ID, m.Header.Get(nats.MsgIdHdr), wantID)
		}
		if r.Probability >= 0.035 || !r.Explanation.FirstOccurrence || r.Explanation.EventCount != 1 {
			t.Errorf("record %+v", r)
		}
		if len(r.Examples) != 1 || r.Examples[0].HostName != "web1" || r.Examples[0].DestinationIP != "198.51.100.9" {
			t.Errorf("examples %+v", r.Examples)
		}
	})

	t.Run("EOF marker", func(t *testing.T) {
		mk, err := control.Parse(msgs[len(msgs)-1].Header)
		if err != nil {
			t.Fatal(err)
		}
		if mk.Replay != "r1" {
			t.Errorf("replay %q, want r1", mk.Replay)
		}
		// The stats of the marker that completed the replay travel on, with the scorer's.
		if mk.Stats["ingest"] != `{"lines":3}` {
			t.Errorf("ingest stats %q, want those of the last EOF", mk.Stats["ingest"])
		}
		var st StatsSnapshot
		if err := json.Unmarshal([]byte(mk.Stats[Stage]), &st); err != nil {
			t.Fatalf("scorer stats %q: %v", mk.Stats[Stage], err)
		}
		if want := (StatsSnapshot{Events: int64(events), Late: 1, Records: 2}); st != want {
			t.Errorf("scorer stats %+v, want %+v", st, want)
		}
	})

	t.Run("late event on the DLQ", func(t *testing.T) {
		m := dlq.next(t)
		if m.Subject != "rarenet.dlq.scorer" {
			t.Errorf("subject %q", m.Subject)
		}
		if !bytes.Equal(m.Data, lateLine) {
			t.Errorf("data %q, want the original line %q", m.Data, lateLine)
		}
		hd := m.Header
		checks := map[string]string{control.HeaderStage: "scorer", control.HeaderSource: "late.log",
			control.HeaderLine: "3", control.HeaderFormat: "ecs"}
		for k, v := range checks {
			if hd.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, hd.Get(k), v)
			}
		}
		if r := hd.Get(control.HeaderReason); !strings.Contains(r, "late event") {
			t.Errorf("reason %q does not say late", r)
		}
		info, err := h.js.Stream(h.ctx, stream.DLQ)
		if err != nil {
			t.Fatal(err)
		}
		if n := info.CachedInfo().State.Msgs; n != 1 {
			t.Errorf("DLQ holds %d messages, want 1", n)
		}
	})
}

// TestServiceUndecodableEvent checks that an event message that is no batch, or that says it
// is S2-compressed and does not decompress, is dead-lettered as it came, saying why.
func TestServiceUndecodableEvent(t *testing.T) {
	for _, c := range []struct {
		name, data string
		compressed bool
		because    string // in the reason, after "undecodable event"
	}{
		{"not a batch", "{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"process\":{\"name\":\"ok\"}}\n", false, ""},
		{"corrupt S2", "not S2 data at all, though the header says it is", true, "s2: corrupt compressed data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startScorer(t)
			dlq := newReader(t, h, stream.DLQSubject(Stage))
			m := nats.NewMsg(stream.EventsSubject(2))
			m.Data = []byte(c.data)
			if c.compressed {
				rawdata.Mark(m)
			}
			h.publish(t, m)
			got := dlq.next(t)
			if !bytes.Equal(got.Data, m.Data) {
				t.Errorf("data %q, want the message as it came", got.Data)
			}
			if r := got.Header.Get(control.HeaderReason); !strings.HasPrefix(r, "undecodable event") || !strings.Contains(r, c.because) {
				t.Errorf("reason %q, want it to say undecodable event and %q", r, c.because)
			}
		})
	}
}

// TestModelCheckpointsAtMostEverySecond: under closes that come in bursts, each committed on
// its own, the model writes its checkpoint at most once every modelCheckpointEvery, keeps the
// closes unacknowledged until a checkpoint covers them, and acks them all once one does.
func TestModelCheckpointsAtMostEverySecond(t *testing.T) {
	h := startScorer(t)
	var cons jetstream.Consumer
	var obj jetstream.ObjectStore
	waitFor(t, "the model's consumer and store", func() bool {
		var err error
		if cons == nil {
			cons, _ = h.js.Consumer(h.ctx, stream.Buckets, stream.ModelConsumer)
		}
		if obj == nil {
			obj, err = h.js.ObjectStore(h.ctx, stream.ModelStore)
		}
		return cons != nil && err == nil && obj != nil
	})
	// Count the checkpoints: each put gives the object a new id. A poll every 5 ms sees every
	// put of one a second; it would miss some of puts at every commit, and still count more.
	ctx, stop := context.WithCancel(h.ctx)
	counted := make(chan int)
	go func() {
		ids := map[string]bool{}
		for ctx.Err() == nil {
			if info, err := obj.GetInfo(ctx, CheckpointObject); err == nil {
				ids[info.NUID] = true
			}
			time.Sleep(5 * time.Millisecond)
		}
		counted <- len(ids)
	}()
	began := time.Now()
	held := 0
	for b := range 40 {
		h.publishEvents(t, ev(at(b), regular(b%3)))
		h.watermark(t, at(b+1))
		// Longer than the loop's idle time: each bucket's closes make a commit of their own.
		time.Sleep(80 * time.Millisecond)
		info, err := cons.Info(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = max(held, info.NumAckPending)
	}
	took := time.Since(began)
	stop()
	n := <-counted
	if most := int(took/modelCheckpointEvery) + 2; n < 1 || n > most {
		t.Errorf("%d checkpoints in %s of closes, want 1..%d", n, took.Round(time.Millisecond), most)
	}
	if held == 0 {
		t.Error("no close was ever held unacknowledged between checkpoints")
	}
	// Once the input stops, a checkpoint covers every close and the loop acks them all.
	waitFor(t, "every close acknowledged", func() bool {
		info, err := cons.Info(h.ctx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
}

// watermarkOn announces wm on partitions ps only.
func (h *harness) watermarkOn(t *testing.T, wm time.Time, ps ...int) {
	t.Helper()
	for _, p := range ps {
		h.publish(t, control.Marker{Kind: control.KindWatermark, Watermark: wm}.Msg(stream.EventsSubject(p)))
	}
}

// TestModelKeepsWaitingClosesInTheStream: the summaries that wait for a slower partition are
// not in the model's checkpoint (writing them at every checkpoint cost seconds of CPU when a
// replica's partitions ran ahead of another's); their closes stay unacknowledged until every
// bucket they hold is scored. A successor that restores the checkpoint takes them again and
// keeps only the buckets after the checkpoint's: its output is an uninterrupted scorer's,
// each bucket scored once. Past maxHeldCloses the checkpoint holds them after all.
func TestModelKeepsWaitingClosesInTheStream(t *testing.T) {
	const slow = testPartitions - 1 // the partition whose watermark lags
	fast := []int{0, 1, 2}
	// first: 20 buckets of regular names, every partition closed through each; then buckets
	// 20..22 with new names, the fast partitions closed through 22 in one close each, the
	// slow one through 20 only.
	first := func(t *testing.T, h *harness) {
		for b := range 20 {
			var evs []*event.Event
			for n := range 10 {
				evs = append(evs, ev(at(b).Add(time.Duration(n)*time.Second), regular(n)))
			}
			h.publishEvents(t, evs...)
			h.watermark(t, at(b+1))
		}
		for b := 20; b < 23; b++ {
			var evs []*event.Event
			for n := range 10 {
				evs = append(evs, ev(at(b), regular(n)))
			}
			h.publishEvents(t, append(evs, ev(at(b).Add(time.Minute), fmt.Sprintf("new%d", b)))...)
		}
		h.watermarkOn(t, at(23), fast...)
		h.watermarkOn(t, at(21), slow)
	}
	// then: the slow partition catches up, and the replay ends.
	then := func(t *testing.T, h *harness) {
		h.watermarkOn(t, at(23), slow)
		for p := range testPartitions {
			h.eof(t, "r1", p)
		}
	}

	ref, hr := newPipeline(t)
	refOut := newReader(t, hr, stream.AnomaliesSubject)
	stopRef := runScorer(t, ref)
	first(t, hr)
	then(t, hr)
	want := refOut.untilEOF(t)
	stopRef()

	// held: the fast partitions' closes stay unacknowledged. Over maxHeldCloses (below their
	// three), the checkpoint holds their summaries instead, as it did before, and they are
	// acked.
	for _, held := range []bool{true, false} {
		t.Run(fmt.Sprintf("held=%v", held), func(t *testing.T) {
			if !held {
				defer func(n int) { maxHeldCloses = n }(maxHeldCloses)
				maxHeldCloses = len(fast) - 1
			}
			ts, h := newPipeline(t)
			out := newReader(t, h, stream.AnomaliesSubject)
			stop := runScorer(t, ts)
			first(t, h)
			obj := natstest.ObjectStore(t, ts.Ctx, ts.JS, stream.ModelStore)
			// The model's consumer, looked up each time: the model recreates it when it starts.
			model := func() (*jetstream.ConsumerInfo, error) {
				c, err := ts.JS.Consumer(ts.Ctx, stream.Buckets, stream.ModelConsumer)
				if err != nil {
					return nil, err
				}
				return c.Info(ts.Ctx)
			}
			k20, k22 := at(20).UnixNano()/int64(span), at(22).UnixNano()/int64(span)
			wantHeld, wantClosed := len(fast), []int64{k20, k20, k20, k20}
			if !held {
				wantHeld, wantClosed = 0, []int64{k22, k22, k22, k20}
			}
			var cp modelCheckpoint
			waitFor(t, "a checkpoint through bucket 20 and the fast partitions' closes held or acked", func() bool {
				b, err := natsutil.GetObject(ts.Ctx, obj, CheckpointObject)
				if err != nil || json.Unmarshal(b, &cp) != nil || cp.Announced != k20 {
					return false
				}
				info, err := model()
				return err == nil && info.NumPending == 0 && info.NumAckPending == wantHeld
			})
			if got := len(cp.Pending); held && got != 0 || !held && got != 2 {
				t.Errorf("the checkpoint holds the waiting summaries of buckets %v", slices.Collect(maps.Keys(cp.Pending)))
			}
			if fmt.Sprint(cp.Closed) != fmt.Sprint(wantClosed) {
				t.Errorf("checkpoint closed %v, want %v", cp.Closed, wantClosed)
			}
			stop()
			stop = runScorer(t, ts)
			defer stop()
			then(t, h)
			if got := out.untilEOF(t); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("ANOMALIES with a successor\n got %v\nwant %v", got, want)
			}
			waitFor(t, "every close acknowledged", func() bool {
				info, err := model()
				return err == nil && info.NumAckPending == 0 && info.NumPending == 0
			})
		})
	}
}

// TestModelRestoresWaitingSummariesOfAnEarlierCheckpoint: a checkpoint of the earlier layout
// holds the summaries waiting for a slower partition (their closes were acknowledged); a
// scorer that restores it scores them once the slow partition catches up, and keeps them in
// its own checkpoints until then, with those of the closes it handles meanwhile, which such a
// checkpoint covers and the loop acks.
func TestModelRestoresWaitingSummariesOfAnEarlierCheckpoint(t *testing.T) {
	ts, h := newPipeline(t)
	r, err := NewRarity(DefaultJob())
	if err != nil {
		t.Fatal(err)
	}
	k := func(b int) int64 { return at(b).UnixNano() / int64(span) }
	old := modelCheckpoint{Rarity: r.Snapshot(), Closed: []int64{k(5), k(5), k(5), k(3)}, Announced: k(3),
		Pending: map[int64][]ValueSummary{k(5): {{Value: "curl", Count: 1}}}}
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureStores(ts.Ctx, ts.JS); err != nil {
		t.Fatal(err)
	}
	obj := natstest.ObjectStore(t, ts.Ctx, ts.JS, stream.ModelStore)
	if _, err := obj.PutBytes(ts.Ctx, CheckpointObject, b); err != nil {
		t.Fatal(err)
	}
	out := newReader(t, h, stream.AnomaliesSubject)
	defer runScorer(t, ts)()
	checkpointed := func(what string, ok func(modelCheckpoint) bool) {
		waitFor(t, what, func() bool {
			// A handle of its own: the scorer changed the store's stream since the put's.
			obj, err := ts.JS.ObjectStore(ts.Ctx, stream.ModelStore)
			if err != nil {
				return false
			}
			b, err := natsutil.GetObject(ts.Ctx, obj, CheckpointObject)
			var cp modelCheckpoint
			return err == nil && json.Unmarshal(b, &cp) == nil && ok(cp)
		})
	}
	// Partition 0 closes through bucket 7 with a new name in bucket 6: its close is covered by
	// a checkpoint of the earlier layout (the model still waits for bucket 5) and acked.
	name := ""
	for i := 0; name == ""; i++ {
		if n := fmt.Sprintf("new%d", i); partition.Of(n, testPartitions) == 0 {
			name = n
		}
	}
	h.publishEvents(t, ev(at(6), name))
	h.watermarkOn(t, at(8), 0)
	checkpointed("a checkpoint with partition 0 closed through bucket 7", func(cp modelCheckpoint) bool {
		return cp.Closed[0] == k(7) && len(cp.Pending[k(6)]) == 1 && len(cp.Pending[k(5)]) == 1
	})
	// The slow partition closes through bucket 5: bucket 5 is scored; bucket 6 waits, and
	// its close is gone, so the checkpoint must still hold it.
	h.watermarkOn(t, at(6), 3)
	var got []string
	for len(got) < 2 {
		got = append(got, describe(t, out.next(t)))
	}
	if want := []string{"sum 1@" + at(5).Format("15:04"), "wm " + at(6).Format("15:04")}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("once the slow partition closes through bucket 5: %v, want %v", got, want)
	}
	checkpointed("a checkpoint through bucket 5 that still holds bucket 6", func(cp modelCheckpoint) bool {
		return cp.Announced == k(5) && len(cp.Pending[k(6)]) == 1
	})
	h.watermarkOn(t, at(8), 1, 2, 3)
	got = got[:0]
	for len(got) < 3 {
		got = append(got, describe(t, out.next(t)))
	}
	if want := []string{"sum 1@" + at(6).Format("15:04"), "wm " + at(7).Format("15:04"), "wm " + at(8).Format("15:04")}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("once every partition closes through bucket 7: %v, want %v", got, want)
	}
}

// TestModelWaitsForTheCloseAnEarlyOneFollows: when a partition's close is stored before the
// one it follows (that one's publish was lost with a NATS node and published again), the
// model holds it until the other comes, and scores what a model fed in order scores. Taken
// at once, it made the other look like a redelivery, and that close's buckets were lost.
func TestModelWaitsForTheCloseAnEarlyOneFollows(t *testing.T) {
	k := func(b int) int64 { return at(b).UnixNano() / int64(span) }
	first := int64(noBucket)
	closeMsg := func(t *testing.T, p int, after *int64, through int64, eof bool, buckets ...BucketSummary) *nats.Msg {
		pc := PartitionClose{Partition: p, ClosedThrough: through, After: after, Buckets: buckets, EOF: eof}
		if eof {
			pc.Replay = "r1"
		}
		var enc msgpackEncoder
		data, err := enc.marshal(&pc)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(stream.BucketsSubject(p))
		m.Data = bytes.Clone(data)
		return m
	}
	bucket := func(b int, values ...string) BucketSummary {
		s := BucketSummary{Bucket: k(b)}
		for _, v := range values {
			s.Values = append(s.Values, ValueSummary{Value: v, Count: 1})
		}
		return s
	}
	k0, k2, k4 := k(0), k(2), k(4)
	// Every partition closes through bucket 0, then through 4; partition 0 in two closes, the
	// first of which (through 2) holds bucket 1's "curl".
	var closes []*nats.Msg
	for p := range testPartitions {
		closes = append(closes, closeMsg(t, p, &first, k0, false, bucket(0, fmt.Sprintf("sshd%d", p))))
	}
	early := closeMsg(t, 0, &k0, k2, false, bucket(1, "curl"))
	late := closeMsg(t, 0, &k2, k4, false, bucket(3, "wget"))
	closes = append(closes, early, late)
	for p := 1; p < testPartitions; p++ {
		closes = append(closes, closeMsg(t, p, &k0, k4, false, bucket(2, fmt.Sprintf("cron%d", p))))
	}
	for p := range testPartitions {
		closes = append(closes, closeMsg(t, p, &k4, k4, true))
	}
	run := func(t *testing.T, msgs []*nats.Msg) []string {
		ts, h := newPipeline(t)
		out := newReader(t, h, stream.AnomaliesSubject)
		defer runScorer(t, ts)()
		for _, m := range msgs {
			h.publish(t, m)
		}
		got := out.untilEOF(t)
		waitFor(t, "every close acknowledged", func() bool {
			c, err := ts.JS.Consumer(ts.Ctx, stream.Buckets, stream.ModelConsumer)
			if err != nil {
				return false
			}
			info, err := c.Info(ts.Ctx)
			return err == nil && info.NumAckPending == 0 && info.NumPending == 0
		})
		return got
	}
	want := run(t, closes)
	if !slices.Contains(want, "sum 1@"+at(1).Format("15:04")) {
		t.Fatalf("in order, bucket 1's summary is missing: %v", want)
	}
	// The same closes with partition 0's second stored before its first.
	swapped := slices.Clone(closes)
	i := slices.Index(swapped, early)
	swapped[i], swapped[i+1] = late, early
	if got := run(t, swapped); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partition 0's closes stored out of order\n got %v\nwant %v", got, want)
	}
}

// TestPartitionClosesFollowOneAnother: each close a partition publishes names the close it
// follows (After), from the partition's first close (after no bucket) to its end of input.
func TestPartitionClosesFollowOneAnother(t *testing.T) {
	h := startScorer(t)
	closes := newReader(t, h, stream.BucketsSubject(0))
	name := ""
	for i := 0; name == ""; i++ {
		if n := fmt.Sprintf("proc%d", i); partition.Of(n, testPartitions) == 0 {
			name = n
		}
	}
	for _, b := range []int{0, 1, 4} {
		h.publishEvents(t, ev(at(b), name))
		h.watermarkOn(t, at(b+1), 0)
	}
	h.eof(t, "r1", 0)
	prev := int64(noBucket)
	var raw rawdata.Decoder
	for i := 0; ; i++ {
		m := closes.next(t)
		var pc PartitionClose
		if err := decodeClose(&raw, m.Header, m.Data, &pc); err != nil {
			t.Fatal(err)
		}
		if pc.After == nil || *pc.After != prev {
			t.Fatalf("close %d (through %d) follows %v, want %d", i, pc.ClosedThrough, pc.After, prev)
		}
		prev = pc.ClosedThrough
		if pc.EOF {
			return
		}
	}
}

package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// testTTL is the replicas' lease TTL: short, so that takeovers happen within the test.
const testTTL = 300 * time.Millisecond

// replicaServer is an embedded server with the pipeline's streams, on which scorer replicas
// start and stop, and an explicit-ack consumer reading everything the scorers publish on
// ANOMALIES (a work queue, so no other kind of consumer may read it).
type replicaServer struct {
	*harness
	ts  *natstest.Server
	out jetstream.Consumer
}

func startReplicaServer(t *testing.T) *replicaServer {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, testPartitions)
	out, err := natsutil.DurableConsumer(ts.Ctx, ts.JS, stream.Anomalies, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &replicaServer{harness: &harness{nc: ts.NC, js: ts.JS, ctx: ts.Ctx}, ts: ts, out: out}
}

// replicaProc is one running scorer replica.
type replicaProc struct {
	name string
	svc  *Service
	// stop is a graceful stop; crash stops like a killed process, keeping the leases and
	// the membership for the others to time out.
	stop, crash func()
}

func (rs *replicaServer) startReplica(t *testing.T, name string) *replicaProc {
	t.Helper()
	nc := rs.ts.Conn(t, Stage)
	svc, err := New(rs.ctx, Config{Job: DefaultJob(), Clock: ClockWatermark, AllowedLateness: time.Minute, LeaseTTL: testTTL},
		nc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(rs.ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("scorer %s: Run: %v", name, err)
			}
		})
	}
	t.Cleanup(stop)
	return &replicaProc{name: name, svc: svc, stop: stop, crash: func() { svc.noRelease = true; stop() }}
}

func (p *replicaProc) String() string {
	return fmt.Sprintf("%s owns %v, model %v", p.name, p.svc.Partitions(), p.svc.ModelActive())
}

// waitOwnership waits until the replicas own the given numbers of partitions, every partition
// once, and exactly one runs the model. It returns how long that took.
func waitOwnership(t *testing.T, within time.Duration, want map[*replicaProc]int) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		var all []int
		ok, models := true, 0
		for p, n := range want {
			owned := p.svc.Partitions()
			all = append(all, owned...)
			ok = ok && len(owned) == n
			if p.svc.ModelActive() {
				models++
			}
		}
		slices.Sort(all)
		if ok && models == 1 && slices.Equal(all, []int{0, 1, 2, 3}) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			var got []string
			for p := range want {
				got = append(got, p.String())
			}
			t.Fatalf("after %s: %s; want %v partitions each, all of them, one model", within, strings.Join(got, "; "), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// input is the events of the replica tests: a dozen regular names in every bucket, and new
// names now and then, some of them seen again. publishBuckets sends buckets [from, to), each
// followed by a watermark that closes it, as ingest would. Each bucket's messages also carry
// an event of the next bucket, so a message stays unacknowledged after its first bucket
// closes: a replica that takes the partition over gets it again and must not count that
// bucket's events twice, nor take them for late.
func (rs *replicaServer) publishBuckets(t *testing.T, from, to int) {
	t.Helper()
	for b := from; b < to; b++ {
		var evs []*event.Event
		for n := range 12 {
			evs = append(evs, ev(at(b).Add(time.Duration(n)*time.Second), regular(n)),
				ev(at(b+1).Add(time.Duration(n)*time.Second), regular(n)))
		}
		if b >= 20 && b%3 == 0 {
			evs = append(evs, ev(at(b).Add(time.Minute), fmt.Sprintf("new%02d", b)))
		}
		if b >= 20 && b%5 == 0 {
			evs = append(evs, ev(at(b).Add(2*time.Minute), "again"))
		}
		rs.publishEvents(t, evs...)
		rs.watermark(t, at(b+1))
	}
}

const testBuckets = 40

func (rs *replicaServer) publishEOF(t *testing.T) {
	t.Helper()
	for p := range testPartitions {
		m := control.Marker{Kind: control.KindEOF, Replay: "r1", Partition: p, Watermark: at(testBuckets)}
		rs.publish(t, m.Msg(stream.EventsSubject(p)))
	}
}

// output reads what the scorers stored on ANOMALIES up to the end-of-input marker: the
// records and bucket summaries, as "id data", in order. Markers are left out: after a
// takeover a watermark may come twice (markers carry no id), which is harmless downstream.
func (rs *replicaServer) output(t *testing.T) []string {
	t.Helper()
	var out []string
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		batch, err := rs.out.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			_ = m.Ack()
			if control.IsControl(m.Headers()) {
				if mk, err := control.Parse(m.Headers()); err == nil && mk.Kind == control.KindEOF {
					return out
				}
				continue
			}
			out = append(out, m.Headers().Get(nats.MsgIdHdr)+" "+string(m.Data()))
		}
	}
	t.Fatalf("no end-of-input marker on ANOMALIES within a minute (%d records and summaries before)", len(out))
	return nil
}

// closedThrough returns the least bucket (counted from at(0)) through which the partitions of
// p are closed, as stored in the KV bucket; -1 before the first close.
func (rs *replicaServer) closedThrough(t *testing.T, p *replicaProc) int64 {
	t.Helper()
	least := int64(math.MaxInt64)
	for _, part := range p.svc.Partitions() {
		e, err := p.svc.kv.Get(rs.ctx, partitionKey(part))
		if err != nil {
			return noBucket
		}
		var st partitionState
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			t.Fatal(err)
		}
		if st.Closed == noBucket {
			return -1
		}
		least = min(least, st.Closed-at(0).UnixNano()/int64(span))
	}
	return least
}

// noDeadLetters checks that no event was taken for late: after a takeover, redelivered events
// of buckets already published must be recognised as counted.
func (rs *replicaServer) noDeadLetters(t *testing.T) {
	t.Helper()
	s, err := rs.js.Stream(rs.ctx, stream.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("DLQ holds %d messages, want none", n)
	}
}

var (
	singleOnce sync.Once
	singleOut  []string
)

// singleScorer is the output of one scorer over the whole input, which any number of
// replicas, stopping and starting, must reproduce exactly.
func singleScorer(t *testing.T) []string {
	t.Helper()
	singleOnce.Do(func() {
		rs := startReplicaServer(t)
		a := rs.startReplica(t, "single")
		rs.publishBuckets(t, 0, testBuckets)
		rs.publishEOF(t)
		singleOut = rs.output(t)
		a.stop()
		rs.noDeadLetters(t)
	})
	if len(singleOut) == 0 {
		t.Fatal("the single scorer produced nothing")
	}
	return singleOut
}

func sameOutput(t *testing.T, got, want []string) {
	t.Helper()
	records := 0
	for _, s := range want {
		if !strings.Contains(s, "_summary_") {
			records++
		}
	}
	if records == 0 {
		t.Fatal("the input gives no record: the comparison proves nothing")
	}
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("got %d records and summaries, a single scorer %d (%d records)", len(got), len(want), records)
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("first difference at %d:\n got %.300s\nwant %.300s", i, g, w)
		}
	}
}

// TestReplicasDividePartitions: two replicas on one server each own half the partitions, one
// runs the model, and together they publish exactly what one scorer publishes.
func TestReplicasDividePartitions(t *testing.T) {
	want := singleScorer(t)
	rs := startReplicaServer(t)
	a := rs.startReplica(t, "a")
	b := rs.startReplica(t, "b")
	waitOwnership(t, 10*time.Second, map[*replicaProc]int{a: 2, b: 2})
	rs.publishBuckets(t, 0, testBuckets)
	rs.publishEOF(t)
	sameOutput(t, rs.output(t), want)
	rs.noDeadLetters(t)
	waitOwnership(t, 0, map[*replicaProc]int{a: 2, b: 2}) // no churn while they worked
	if a.svc.Stats().Events.Load() == 0 || b.svc.Stats().Events.Load() == 0 {
		t.Errorf("events counted: a %d, b %d; want both to have worked", a.svc.Stats().Events.Load(), b.svc.Stats().Events.Load())
	}
}

// TestReplicaCrashTakeover: the replica running the model crashes mid-stream, without giving
// anything up; the other takes its partitions and the model once the leases expire, and the
// output is still exactly a single scorer's: nothing lost, nothing counted twice.
func TestReplicaCrashTakeover(t *testing.T) {
	want := singleScorer(t)
	rs := startReplicaServer(t)
	a := rs.startReplica(t, "a")
	b := rs.startReplica(t, "b")
	waitOwnership(t, 10*time.Second, map[*replicaProc]int{a: 2, b: 2})
	victim, survivor := a, b
	if b.svc.ModelActive() {
		victim, survivor = b, a
	}
	// The crash comes while the first half is being published and worked on: the victim has
	// stored some closes, holds events it has not acknowledged, and may have published
	// closes not in its state yet.
	rs.publishBuckets(t, 0, testBuckets/2)
	waitFor(t, "the victim to store closes", func() bool { return rs.closedThrough(t, victim) >= testBuckets/2-1 })
	rs.publishBuckets(t, testBuckets/2, testBuckets/2+3)
	victim.crash()
	crashed := time.Now()
	rs.publishBuckets(t, testBuckets/2+3, testBuckets)
	waitOwnership(t, 20*testTTL, map[*replicaProc]int{survivor: 4})
	t.Logf("%s, %s after the crash (lease TTL %s)", survivor, time.Since(crashed).Round(time.Millisecond), testTTL)
	rs.publishEOF(t)
	sameOutput(t, rs.output(t), want)
	rs.noDeadLetters(t)
}

// TestReplicaJoinsAndLeaves: a replica that joins gets half the partitions from the one
// running alone; one that stops gracefully gives everything up at once. The output does not
// change.
func TestReplicaJoinsAndLeaves(t *testing.T) {
	want := singleScorer(t)
	rs := startReplicaServer(t)
	a := rs.startReplica(t, "a")
	waitOwnership(t, 10*time.Second, map[*replicaProc]int{a: 4})
	rs.publishBuckets(t, 0, testBuckets/3)
	b := rs.startReplica(t, "b")
	waitOwnership(t, 20*testTTL, map[*replicaProc]int{a: 2, b: 2})
	rs.publishBuckets(t, testBuckets/3, 2*testBuckets/3)
	a.stop()
	// A graceful stop deletes the leases: b takes them at its next tick, without waiting for
	// them to expire.
	for _, key := range []string{partitionLeaseKey(0), partitionLeaseKey(1), partitionLeaseKey(2), partitionLeaseKey(3), modelLeaseKey} {
		if e, err := a.svc.kv.Get(rs.ctx, key); err == nil && strings.Contains(string(e.Value()), a.svc.holder) {
			t.Errorf("%s still names a after its graceful stop: %s", key, e.Value())
		}
	}
	waitOwnership(t, 10*testTTL, map[*replicaProc]int{b: 4})
	rs.publishBuckets(t, 2*testBuckets/3, testBuckets)
	rs.publishEOF(t)
	sameOutput(t, rs.output(t), want)
	rs.noDeadLetters(t)
}

func TestQuota(t *testing.T) {
	tests := []struct {
		partitions, members int
		want                []int // by rank
	}{
		{4, 1, []int{4}},
		{4, 2, []int{2, 2}},
		{4, 3, []int{2, 1, 1}},
		{8, 3, []int{3, 3, 2}},
		{2, 3, []int{1, 1, 0}},
	}
	for _, tt := range tests {
		var got []int
		sum := 0
		for rank := range tt.members {
			q := quota(tt.partitions, tt.members, rank)
			got = append(got, q)
			sum += q
		}
		if !slices.Equal(got, tt.want) || sum != tt.partitions {
			t.Errorf("quota(%d partitions, %d members) = %v, want %v", tt.partitions, tt.members, got, tt.want)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package enricher

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/syncbuf"
)

// replicaAnomalies is what the scorer would publish over many buckets: each bucket's summary
// split into several messages (one value each), then records of processes whose history
// changes from bucket to bucket (hosts come and go, a new user), each telling how many
// summaries its bucket had, and a watermark every few buckets; a bad message; the end of a
// replay. A record enriched before its bucket's summaries, after a later bucket's, or from a
// replica's stale copy of the history would read differently.
func replicaAnomalies(t *testing.T, buckets int) []*nats.Msg {
	var msgs []*nats.Msg
	data := func(v any, summaries int) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(stream.AnomaliesSubject)
		m.Data = b
		if summaries > 0 {
			m.Header.Set(control.HeaderSummaries, strconv.Itoa(summaries))
		}
		msgs = append(msgs, m)
	}
	names := []string{"sshd", "curl", "perl", "nc", "python3"}
	for k := range int64(buckets) {
		var values []record.ValueSummary
		for i, name := range names {
			if (int(k)+i)%3 == 0 && name != "sshd" {
				continue // not active in this bucket
			}
			hosts := []string{fmt.Sprintf("web-%02d", (int(k)+i)%4), fmt.Sprintf("db-%02d", int(k)%3)}
			values = append(values, record.ValueSummary{Value: name, EventCount: k + 1, Hosts: hosts,
				Users: []string{fmt.Sprintf("u%d", (int(k)*i)%5)}, Destinations: []record.Endpoint{{IP: fmt.Sprintf("198.51.100.%d", k%7), Port: 443 + i}}})
		}
		for _, v := range values {
			data(summary(bk(k), v), 0)
		}
		for _, v := range values {
			if v.Value == "sshd" {
				continue
			}
			data(record.Record{ID: fmt.Sprintf("job_record_%d_%s", bk(k), v.Value), JobID: "job", ResultType: "record", Timestamp: bk(k), BucketSpan: 900,
				ByFieldName: "process.name", ByFieldValue: v.Value, Probability: 1e-3, RecordScore: 60,
				Influencers: []record.Influencer{{FieldName: "host.name", FieldValues: v.Hosts}, {FieldName: "user.name", FieldValues: v.Users}},
				Examples: []record.Example{{HostName: v.Hosts[0], UserName: v.Users[0], Executable: "/usr/bin/" + v.Value,
					DestinationIP: v.Destinations[0].IP, DestinationPort: v.Destinations[0].Port}}}, len(values))
		}
		if k == 3 {
			bad := nats.NewMsg(stream.AnomaliesSubject)
			bad.Data = []byte("{not json")
			msgs = append(msgs, bad)
		}
		if k%3 == 2 {
			msgs = append(msgs, control.Marker{Kind: control.KindWatermark, Watermark: time.UnixMilli(bk(k + 1))}.Msg(stream.AnomaliesSubject))
		}
	}
	msgs = append(msgs, control.Marker{Kind: control.KindEOF, Replay: "r", Watermark: time.UnixMilli(bk(int64(buckets)))}.Msg(stream.AnomaliesSubject))
	return msgs
}

// enrichedOut is ENRICHED in order: between markers, the records (sorted: replicas may write
// the records of a bucket in any order), and the markers.
type enrichedOut []string

// replicaRun is how runEnrichers runs its enrichers.
type replicaRun struct {
	n int
	// crashAfter > 0 crashes the first enricher after that many messages (with shared, that
	// many between the replicas): it stops without committing, acking or giving its lease up.
	crashAfter int
	// stealAfter > 0 overwrites the lease, once the first enricher handled that many messages,
	// as a replica that took it over would: the first must stand by.
	stealAfter int
	// shared runs every enricher at once, without the lease, as happens while a holder has not
	// yet noticed that its lease was taken over: the rules of order.go alone keep the output.
	shared bool
	// progressReads, when set, counts the reads of the history's progress key (Store.Sync).
	progressReads *atomic.Int64
}

// runEnrichers runs enrichers on one server over msgs as run says and reads ENRICHED once the
// input is all acked. With the lease, only the first works until it crashes or loses the lease.
func runEnrichers(t *testing.T, msgs []*nats.Msg, run replicaRun) enrichedOut {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, 1)
	for _, m := range msgs {
		if _, err := ts.JS.PublishMsg(ts.Ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if run.progressReads != nil {
		// A read of a key is a get of the last message on its subject, from the leader.
		sub, err := ts.NC.Subscribe("$JS.API.STREAM.MSG.GET.KV_"+stream.HistoryBucket, func(m *nats.Msg) {
			if strings.Contains(string(m.Data), "."+progressKey+`"`) {
				run.progressReads.Add(1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	var handled [2]atomic.Int64
	crashed, stolen := make(chan struct{}), make(chan struct{})
	logs := make([]*syncbuf.Buffer, run.n)
	for i := range run.n {
		nc := ts.Conn(t, fmt.Sprintf("%s-%d", Stage, i))
		logs[i] = &syncbuf.Buffer{}
		s, err := New(Config{AckWait: time.Second, LeaseTTL: 200 * time.Millisecond}, nc, slog.New(slog.NewTextHandler(logs[i], nil)))
		if err != nil {
			t.Fatal(err)
		}
		s.maxBatch = 1 // one message per pull, so that working replicas take turns
		s.shared = run.shared
		ctx, stop := context.WithCancel(ts.Ctx)
		started := make(chan struct{})
		didCrash := false
		s.onHandle = func(ctx context.Context) {
			c := handled[i].Add(1)
			if i == 0 && c == 1 {
				close(started)
			}
			if i > 0 && run.shared && run.crashAfter > 0 && handled[0].Load()+handled[1].Load() >= int64(run.crashAfter) {
				// The other replica may take most of the input, so the first might never reach
				// its count: past it, this one pauses (holding its message) until the first took
				// another message and crashed. Should the first wait on this one's message, the
				// ack wait hands that message to it.
				select {
				case <-crashed:
				case <-ctx.Done():
				case <-time.After(10 * time.Second):
				}
			}
			due := c == int64(run.crashAfter) || run.shared && c+handled[1].Load() >= int64(run.crashAfter)
			if i == 0 && run.crashAfter > 0 && due && !didCrash {
				didCrash = true
				s.noRelease = true
				stop() // a crash: nothing more is committed or acked
				nc.Close()
				close(crashed)
			}
			if i == 0 && c == int64(run.stealAfter) {
				kv, err := ts.JS.KeyValue(ts.Ctx, stream.HistoryBucket)
				if err == nil {
					_, err = kv.Put(ts.Ctx, leaseKey, []byte(`{"holder":"a replica that took over"}`))
				}
				if err != nil {
					t.Errorf("overwriting the lease: %v", err)
				}
				close(stolen)
				// Stop here until the lease's loss is noticed: the message stays unacked.
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Second):
					t.Error("the first enricher never noticed that its lease was taken")
				}
			}
		}
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil && !(i == 0 && run.crashAfter > 0) {
				t.Errorf("enricher %d: %v", i, err)
			}
		})
		if i == 0 && run.n > 1 {
			<-started // the others start once the first holds input
		}
	}
	anomalies, err := ts.JS.Stream(ts.Ctx, stream.Anomalies)
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := anomalies.Info(ts.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		select {
		case <-ts.Ctx.Done():
			t.Fatalf("%d anomaly messages never acknowledged", info.State.Msgs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	for what, ch := range map[string]chan struct{}{"crash": crashed, "lose its lease": stolen} {
		if run.crashAfter == 0 && what == "crash" || run.stealAfter == 0 && what == "lose its lease" {
			continue
		}
		select {
		case <-ch:
		default:
			t.Fatalf("the enricher meant to %s never did", what)
		}
	}
	for i := range run.n {
		// A standby works only once the first stopped working.
		idle := !run.shared && i > 0 && run.crashAfter == 0 && run.stealAfter == 0
		switch h := handled[i].Load(); {
		case run.stealAfter > 0 && i > 0:
			// Either replica may take the lease next.
		case idle && h > 0:
			t.Errorf("enricher %d handled %d messages while the first held the lease", i, h)
		case !idle && h == 0:
			t.Errorf("enricher %d handled nothing: the test did not share the input", i)
		}
	}
	if run.stealAfter > 0 && !strings.Contains(logs[0].String(), "lease lost: standing by") {
		t.Errorf("the first enricher never said it lost its lease; its log:\n%s", logs[0])
	}
	enriched, err := ts.JS.Stream(ts.Ctx, stream.Enriched)
	if err != nil {
		t.Fatal(err)
	}
	info, err := enriched.Info(ts.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out enrichedOut
	var segment []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := enriched.GetMsg(ts.Ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if !control.IsControl(m.Header) {
			segment = append(segment, string(m.Data))
			continue
		}
		slices.Sort(segment)
		out = append(out, segment...)
		segment = nil
		mk, err := control.Parse(m.Header)
		if err != nil {
			t.Fatal(err)
		}
		// The end's counters are each replica's own; the rest of the marker is passed on.
		out = append(out, fmt.Sprintf("marker %s %s %s", mk.Kind, mk.Watermark.UTC().Format(time.RFC3339), mk.Replay))
	}
	return append(out, segment...)
}

func compareEnriched(t *testing.T, one, got enrichedOut) {
	t.Helper()
	records := 0
	for _, s := range one {
		if !strings.HasPrefix(s, "marker") {
			records++
		}
	}
	if records < 20 {
		t.Fatalf("one enricher wrote %d records: the input is not what the test means", records)
	}
	if len(got) != len(one) {
		t.Errorf("%d records and markers, one enricher %d", len(got), len(one))
	}
	for i := range min(len(got), len(one)) {
		if got[i] != one[i] {
			t.Fatalf("message %d differs:\n got %s\none enricher %s", i, got[i], one[i])
		}
	}
}

// TestReplicasMatchOneEnricher runs two enrichers with the lease: the second stands by.
func TestReplicasMatchOneEnricher(t *testing.T) {
	one := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 1})
	two := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 2})
	compareEnriched(t, one, two)
}

// TestWorkingEnricherReadsProgressOnce: the enricher holding the lease reads the history's
// progress once, when it begins to work, not once a bucket: while its lease is exclusive no
// one else writes the history. (Under load a renewal may come late and cost a read; one a
// bucket, as before, would be 30.)
func TestWorkingEnricherReadsProgressOnce(t *testing.T) {
	const buckets = 30
	var reads atomic.Int64
	runEnrichers(t, replicaAnomalies(t, buckets), replicaRun{n: 1, progressReads: &reads})
	if n := reads.Load(); n < 1 || n > buckets/5 {
		t.Errorf("the history's progress was read %d times over %d buckets; want once (a few at most)", n, buckets)
	}
	var shared atomic.Int64
	runEnrichers(t, replicaAnomalies(t, buckets), replicaRun{n: 1, shared: true, progressReads: &shared})
	if n := shared.Load(); n < buckets {
		t.Errorf("without the lease, the progress was read %d times over %d buckets; want once a bucket at least", n, buckets)
	}
}

// TestEnricherCrashSurvivorFinishes crashes the active enricher: the standby takes its lease
// over, and the crashed one's messages once their ack wait passed.
func TestEnricherCrashSurvivorFinishes(t *testing.T) {
	one := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 1})
	got := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 2, crashAfter: 7})
	compareEnriched(t, one, got)
}

// TestEnricherLeaseLostStandsBy takes the active enricher's lease away right after it handled
// a summary (the 9th message) or passed a watermark on (the 20th): it stops at once and stands
// by, and whichever replica takes the lease next goes on from the history and the message it
// left unacked, which comes again after the ack wait. The watermark is then published twice,
// once after records of the next bucket: the second copy must be dropped.
func TestEnricherLeaseLostStandsBy(t *testing.T) {
	one := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 1})
	for _, after := range []int{9, 20} {
		t.Run(fmt.Sprintf("after %d", after), func(t *testing.T) {
			got := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 2, stealAfter: after})
			compareEnriched(t, one, got)
		})
	}
}

// TestWorkingReplicasMatchOneEnricher runs two enrichers at once, taking turns at the input,
// as two holders do for a moment after a takeover: the rules of order.go keep the output.
func TestWorkingReplicasMatchOneEnricher(t *testing.T) {
	one := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 1})
	two := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 2, shared: true})
	compareEnriched(t, one, two)
}

// TestWorkingReplicasCrashSurvivorFinishes crashes one of two enrichers working at once.
func TestWorkingReplicasCrashSurvivorFinishes(t *testing.T) {
	one := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 1})
	got := runEnrichers(t, replicaAnomalies(t, 12), replicaRun{n: 2, crashAfter: 7, shared: true})
	compareEnriched(t, one, got)
}

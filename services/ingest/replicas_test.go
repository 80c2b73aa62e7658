package ingest

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
	"github.com/rarenet/rarenet/shared/stream"
)

const (
	testSpan     = 15 * time.Minute
	testLateness = time.Minute
	testReplay   = "replica-test"
)

var testStart = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// replicaInput is a history of raw messages built so that a watermark overtaking events would
// make them late. Around every bucket end B, one raw message takes the watermark just short
// of B (an event at B+40s), the next holds an event at B-10s (not late: B is still open),
// and the one after takes the watermark past B (an event at B+3m): if its watermark reached
// the scorer before the event at B-10s, that event would be late. Auditd messages hold whole
// events, one without its EOE record. Then the replay's end.
func replicaInput(buckets int) []*nats.Msg {
	var msgs []*nats.Msg
	ecs := func(source string, evs ...string) {
		m := nats.NewMsg(stream.RawSubject("ecs"))
		m.Header.Set(control.HeaderSource, source)
		m.Header.Set(control.HeaderLine, strconv.Itoa(len(msgs)*10+1))
		m.Header.Set(control.HeaderReplay, testReplay)
		m.Data = []byte(strings.Join(evs, "\n"))
		msgs = append(msgs, m)
	}
	ev := func(at time.Time, name, host string) string {
		return fmt.Sprintf(`{"@timestamp":%q,"event":{"category":["network"],"type":["start"]},"host":{"name":%q,"os":{"type":"linux"}},"process":{"name":%q,"pid":7},"destination":{"ip":"198.51.100.%d","port":443}}`,
			at.Format(time.RFC3339Nano), host, name, 1+len(msgs)%200)
	}
	connect := func(at time.Time, serial int, comm string, eoe bool) string {
		stamp := fmt.Sprintf("%d.%03d:%d", at.Unix(), at.Nanosecond()/1e6, serial)
		lines := []string{
			"node=db-01 type=SYSCALL msg=audit(" + stamp + "): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=4242 uid=0 comm=\"" + comm + "\" exe=\"/usr/bin/" + comm + "\" key=(null)",
			"node=db-01 type=SOCKADDR msg=audit(" + stamp + "): saddr=0200005DC0A8010A0000000000000000",
		}
		if eoe {
			lines = append(lines, "node=db-01 type=EOE msg=audit("+stamp+"):")
		}
		return strings.Join(lines, "\n")
	}
	for k := range buckets {
		b := testStart.Add(time.Duration(k+1) * testSpan) // the end of bucket k
		ecs("web.ndjson", ev(b.Add(-5*time.Minute), "curl", "web-01"), ev(b.Add(-4*time.Minute), "sshd", "web-02"))
		audit := nats.NewMsg(stream.RawSubject("auditd"))
		audit.Header.Set(control.HeaderSource, "audit.log")
		audit.Header.Set(control.HeaderLine, strconv.Itoa(k*7+1))
		audit.Header.Set(control.HeaderReplay, testReplay)
		audit.Data = []byte(connect(b.Add(-3*time.Minute), 2*k, "nc", true) + "\n" + connect(b.Add(-3*time.Minute), 2*k+1, "wget", false))
		msgs = append(msgs, audit)
		ecs("web.ndjson", ev(b.Add(40*time.Second), "sshd", "web-01"))
		ecs("web.ndjson", ev(b.Add(-10*time.Second), "perl", "web-03"))
		ecs("web.ndjson", ev(b.Add(3*time.Minute), "sshd", "web-02"), "{not json")
	}
	msgs = append(msgs, control.Marker{Kind: control.KindEOF, Replay: testReplay}.Msg(stream.RawSubject("control")))
	return msgs
}

// eventsOut is what ingest wrote on EVENTS, in stream order, per partition: event lines and
// markers.
type eventsOut struct {
	events  map[int][]string // sorted event lines per partition
	late    int              // events behind a watermark that closed their bucket
	eofs    []control.Marker
	markers int
}

// runReplicas runs n ingest replicas on one server over msgs (a replica crashes after
// crashAfter raw messages when crashAfter > 0) and reads EVENTS once every replica is done.
func runReplicas(t *testing.T, msgs []*nats.Msg, n int, crashAfter int) eventsOut {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, testPartitions)
	for _, m := range msgs {
		if _, err := ts.JS.PublishMsg(ts.Ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Datafeed: "rarenet", BucketSpan: testSpan, AllowedLateness: testLateness, AckWait: time.Second}
	type replica struct {
		svc  *Service
		done chan error
		nc   *nats.Conn
	}
	var reps []replica
	stops := make([]context.CancelFunc, n)
	for i := range n {
		nc := ts.Conn(t, fmt.Sprintf("%s-%d", Stage, i))
		svc, err := New(ts.Ctx, cfg, nc, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		svc.maxBatch = 1 // one raw message per pull, so the replicas take turns
		ctx, stop := context.WithCancel(ts.Ctx)
		stops[i] = stop
		started := make(chan struct{})
		if i == 0 && crashAfter > 0 {
			// The survivor starts once this replica holds input, so it has some when it dies.
			var handled atomic.Int64
			svc.onHandle = func() {
				n := handled.Add(1)
				if n == 1 {
					close(started)
				}
				if n == int64(crashAfter) {
					// A crash: the loop stops without committing or acking what it holds,
					// and the connection goes with its pull requests.
					stop()
					nc.Close()
				}
			}
		}
		r := replica{svc: svc, done: make(chan error, 1), nc: nc}
		go func() { r.done <- svc.Run(ctx) }()
		reps = append(reps, r)
		if i == 0 && crashAfter > 0 {
			<-started
		}
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	if crashAfter > 0 {
		select {
		case <-reps[0].done: // its error, if any, is the crash's
		case <-time.After(30 * time.Second):
			t.Fatal("the replica meant to crash never handled enough input")
		}
	}
	raw, err := ts.JS.Stream(ts.Ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	for { // until every raw message is acked (the work queue is then empty)
		info, err := raw.Info(ts.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			break
		}
		select {
		case <-ts.Ctx.Done():
			t.Fatalf("%d raw messages never acknowledged", info.State.Msgs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	for i, r := range reps {
		if crashAfter > 0 && i == 0 {
			continue
		}
		if r.svc.Stats().Lines.Load() == 0 {
			t.Errorf("replica %d handled nothing: the test did not share the input", i)
		}
	}
	return readEvents(t, ts)
}

// readEvents reads EVENTS in stream order, as the scorer would, and counts the events that
// a watermark before them on their partition made late.
func readEvents(t *testing.T, ts *natstest.Server) eventsOut {
	t.Helper()
	s, err := ts.JS.Stream(ts.Ctx, stream.Events)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ts.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := eventsOut{events: map[int][]string{}}
	closed := map[int]time.Time{} // per partition: the highest watermark so far
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ts.Ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(strings.TrimPrefix(m.Subject, stream.EventsPrefix))
		if err != nil {
			t.Fatal(err)
		}
		if control.IsControl(m.Header) {
			mk, err := control.Parse(m.Header)
			if err != nil {
				t.Fatal(err)
			}
			out.markers++
			if mk.Kind == control.KindEOF {
				out.eofs = append(out.eofs, mk)
			} else if mk.Watermark.After(closed[p]) {
				closed[p] = mk.Watermark
			}
			continue
		}
		evs := natstest.Batch(t, m.Header, m.Data)
		for _, ev := range evs {
			if end := ev.Timestamp.Truncate(testSpan).Add(testSpan); !end.After(closed[p]) {
				out.late++
			}
			line, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			out.events[p] = append(out.events[p], string(line))
		}
	}
	for p := range out.events {
		slices.Sort(out.events[p])
	}
	return out
}

// compareOut checks that replicas wrote what one ingest wrote: the same events, none late, and
// the same end of input on every partition.
func compareOut(t *testing.T, one, got eventsOut, exactStats bool) {
	t.Helper()
	if one.late != 0 {
		t.Fatalf("one ingest made %d events late: the input is not what the test means", one.late)
	}
	if got.late != 0 {
		t.Errorf("%d events late: a watermark overtook them", got.late)
	}
	for p := range testPartitions {
		if !slices.Equal(one.events[p], got.events[p]) {
			t.Errorf("partition %d: %d events, one ingest %d; they differ", p, len(got.events[p]), len(one.events[p]))
		}
	}
	if len(got.eofs) != testPartitions {
		t.Fatalf("%d end-of-input markers, want one per partition", len(got.eofs))
	}
	for i, mk := range got.eofs {
		want := one.eofs[i]
		var st, wst StatsSnapshot
		if err := json.Unmarshal([]byte(mk.Stats[Stage]), &st); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(want.Stats[Stage]), &wst); err != nil {
			t.Fatal(err)
		}
		// After a crash, what the dead replica stored of its share but did not ack is
		// counted again by the survivor: the counters are at least those of one ingest.
		statsOK := st == wst || !exactStats && st.Lines >= wst.Lines && st.Accepted >= wst.Accepted
		if mk.Partition != want.Partition || !mk.Watermark.Equal(want.Watermark) || !statsOK {
			t.Errorf("end of input on partition %d: watermark %s stats %s; one ingest: %s %s",
				mk.Partition, mk.Watermark, mk.Stats[Stage], want.Watermark, want.Stats[Stage])
		}
	}
}

func TestReplicasMatchOneIngest(t *testing.T) {
	msgs := replicaInput(12)
	one := runReplicas(t, msgs, 1, 0)
	if one.markers < 12*testPartitions {
		t.Fatalf("one ingest wrote %d markers: the input does not move the watermark", one.markers)
	}
	two := runReplicas(t, replicaInput(12), 2, 0)
	compareOut(t, one, two, true)
}

func TestReplicaCrashSurvivorFinishes(t *testing.T) {
	one := runReplicas(t, replicaInput(8), 1, 0)
	got := runReplicas(t, replicaInput(8), 2, 3)
	compareOut(t, one, got, false)
}

package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/partition"
	"github.com/rarenet/rarenet/shared/stream"
)

const testPartitions = 4

func startIngest(t *testing.T) (*nats.Conn, jetstream.JetStream, *Service, context.Context) {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, testPartitions)
	ctx, nc, js := ts.Ctx, ts.NC, ts.JS
	snc := ts.Conn(t, Stage)
	cfg := Config{Datafeed: "rarenet", BucketSpan: 15 * time.Minute, AllowedLateness: time.Minute}
	svc, err := New(ctx, cfg, snc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("ingest Run: %v", err)
		}
	})
	return nc, js, svc, ctx
}

// subscribe receives what ingest publishes on subject through a core subscription, which sees
// every message whatever the stream's retention.
func subscribe(t *testing.T, nc *nats.Conn, subject string) *nats.Subscription {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub
}

func rawMsg(format, source string, line int, data string) *nats.Msg {
	m := nats.NewMsg(stream.RawSubject(format))
	m.Header.Set(control.HeaderSource, source)
	m.Header.Set(control.HeaderLine, fmt.Sprint(line))
	m.Data = []byte(data)
	return m
}

func TestService(t *testing.T) {
	nc, js, svc, ctx := startIngest(t)
	eventsSub := subscribe(t, nc, stream.EventsWildcard)
	dlqSub := subscribe(t, nc, stream.DLQSubject(Stage))
	publish := func(m *nats.Msg) {
		t.Helper()
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	audit, err := os.ReadFile(filepath.Join(realDir(t), "auditd", "go-libaudit-normal.log"))
	if err != nil {
		t.Fatal(err)
	}
	publish(rawMsg("auditd", "normal.log", 1, string(audit))) // RAW seq 1: 17 lines
	curl := `{"@timestamp":"2024-01-01T00:20:00Z","event":{"category":["network"],"type":["start"]},"host":{"name":"web1","os":{"type":"linux"}},"process":{"name":"curl","pid":42},"destination":{"ip":"93.184.216.34","port":443}}`
	loop := `{"@timestamp":"2024-01-01T00:21:00Z","event":{"category":["network"],"type":["start"]},"host":{"os":{"type":"linux"}},"process":{"name":"curl"},"destination":{"ip":"127.0.0.1","port":80}}`
	bad := `{"@timestamp": "2024-01-01T00:22:00Z", "process":`
	publish(rawMsg("ecs", "hosts.ndjson", 10, curl+"\r\n"+loop+"\n"+bad+"\n")) // RAW seq 2: lines 10-12
	wget := `{"@timestamp":"2024-01-01T00:40:00Z","event.action":"connected-to","host.os.type":"linux","process.name":"wget","destination.ip":"1.1.1.1"}`
	publish(rawMsg("ecs", "hosts.ndjson", 20, wget)) // RAW seq 3: line 20
	eof := control.Marker{Kind: control.KindEOF, Replay: "r1"}.Msg(stream.RawSubject("ecs"))
	publish(eof)

	// Read EVENTS until every partition has its EOF marker.
	got := make([][]string, testPartitions)
	events := map[string]*event.Event{}
	msgIDs := map[string]string{}
	var eofs []control.Marker
	for len(eofs) < testPartitions {
		m, err := eventsSub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("after %d EOF markers: %v", len(eofs), err)
		}
		var p int
		if _, err := fmt.Sscanf(m.Subject, "rarenet.events.%d", &p); err != nil {
			t.Fatal(err)
		}
		if control.IsControl(m.Header) {
			mk, err := control.Parse(m.Header)
			if err != nil {
				t.Fatal(err)
			}
			got[p] = append(got[p], mk.Kind+" "+mk.Watermark.Format("15:04:05"))
			if mk.Kind == control.KindEOF {
				if mk.Partition != p {
					t.Errorf("EOF marker of partition %d on subject %s", mk.Partition, m.Subject)
				}
				eofs = append(eofs, mk)
			}
			continue
		}
		evs := natstest.Batch(t, m.Header, m.Data)
		for _, ev := range evs {
			got[p] = append(got[p], "event "+ev.Process.Name)
			events[ev.Process.Name] = ev
			msgIDs[ev.Process.Name] = m.Header.Get(nats.MsgIdHdr)
		}
	}

	// Hand-built expectation: events on their partition, a watermark (latest event time
	// minus one minute) to every partition each time it enters a new bucket, and the
	// auditd events completed at the end of their raw message (a raw message holds whole
	// events).
	want := make([][]string, testPartitions)
	for p := range want {
		if p == partition.Of("google_accounts", testPartitions) {
			want[p] = append(want[p], "event google_accounts")
		}
		want[p] = append(want[p], "watermark 22:47:09") // the auditd sample's time
		if p == partition.Of("curl", testPartitions) {
			want[p] = append(want[p], "event curl")
		}
		want[p] = append(want[p], "watermark 00:19:00")
		if p == partition.Of("wget", testPartitions) {
			want[p] = append(want[p], "event wget")
		}
		want[p] = append(want[p], "watermark 00:39:00", "eof 00:40:00")
	}
	for p := range want {
		if fmt.Sprint(got[p]) != fmt.Sprint(want[p]) {
			t.Errorf("partition %d\n got %q\nwant %q", p, got[p], want[p])
		}
	}

	t.Run("events", func(t *testing.T) {
		e := events["curl"]
		if e == nil {
			t.Fatal("no curl event")
		}
		if e.Origin != (event.Origin{Source: "hosts.ndjson", Line: 10, Format: "ecs"}) || e.Host.Name != "web1" || e.Process.PID != 42 ||
			e.Destination.IP != "93.184.216.34" || !e.Timestamp.Equal(time.Date(2024, 1, 1, 0, 20, 0, 0, time.UTC)) {
			t.Errorf("curl event %+v", e)
		}
		if w := events["wget"]; w == nil || w.Origin.Line != 20 {
			t.Errorf("wget event %+v", w)
		}
		if g := events["google_accounts"]; g == nil || g.Origin != (event.Origin{Source: "normal.log", Line: 1, Format: "auditd"}) {
			t.Errorf("auditd event %+v", g)
		}
		// Message ids derive from the raw message's stream sequence and the partition.
		pc, pw := partition.Of("curl", testPartitions), partition.Of("wget", testPartitions)
		if msgIDs["curl"] != fmt.Sprintf("raw-2-%d", pc) || msgIDs["wget"] != fmt.Sprintf("raw-3-%d", pw) ||
			msgIDs["google_accounts"] != fmt.Sprintf("raw-1-%d", partition.Of("google_accounts", testPartitions)) {
			t.Errorf("message ids %v", msgIDs)
		}
	})

	t.Run("EOF stats", func(t *testing.T) {
		want := StatsSnapshot{Lines: 17 + 3 + 1, Accepted: 3, Filtered: 2, Rejected: 1}
		for _, mk := range eofs {
			var st StatsSnapshot
			if err := json.Unmarshal([]byte(mk.Stats[Stage]), &st); err != nil {
				t.Fatalf("stats %q: %v", mk.Stats[Stage], err)
			}
			if st != want || mk.Replay != "r1" {
				t.Errorf("partition %d: replay %q stats %+v, want r1 %+v", mk.Partition, mk.Replay, st, want)
			}
		}
		if got := svc.Stats().Snapshot(); got != want {
			t.Errorf("Stats %+v, want %+v", got, want)
		}
	})

	t.Run("dead letter", func(t *testing.T) {
		m, err := dlqSub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "rarenet.dlq.ingest" || string(m.Data) != bad {
			t.Errorf("dead letter on %s: %q, want the original line %q", m.Subject, m.Data, bad)
		}
		h := m.Header
		for k, v := range map[string]string{control.HeaderStage: "ingest", control.HeaderSource: "hosts.ndjson", control.HeaderLine: "12", control.HeaderFormat: "ecs"} {
			if h.Get(k) != v {
				t.Errorf("%s = %q, want %q", k, h.Get(k), v)
			}
		}
		if r := h.Get(control.HeaderReason); !strings.HasPrefix(r, "hosts.ndjson:12: malformed input") {
			t.Errorf("reason %q", r)
		}
		s, err := js.Stream(ctx, stream.DLQ)
		if err != nil {
			t.Fatal(err)
		}
		if n := s.CachedInfo().State.Msgs; n != 1 {
			t.Errorf("DLQ holds %d messages, want 1", n)
		}
	})
}

package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
)

// TestParallelDecodingIsSequential checks that ingest cutting large raw messages into parts
// for several decoders publishes exactly what one decoder does: the same event batches (bytes
// and message ids), the same dead letters in the same order, the same counters, whichever
// worker took which part.
func TestParallelDecodingIsSequential(t *testing.T) {
	// Three raw messages of one source: a small first one (the source's format is detected
	// on it), then two large ones with blank lines, CRLF, rejects and filtered events among
	// the events, the second ending on an empty line.
	var lines []string
	for i := range 3000 {
		ts := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 700 * time.Millisecond)
		switch {
		case i%97 == 5:
			lines = append(lines, `{"@timestamp": "not a time", "process":{"name":"x"}}`)
		case i%89 == 3:
			lines = append(lines, "")
		case i%83 == 7:
			lines = append(lines, fmt.Sprintf(`{"@timestamp":%q,"event":{"category":["network"],"type":["start"]},"process":{"name":"p%d"},"destination":{"ip":"127.0.0.1","port":80}}`, ts.Format(time.RFC3339Nano), i%7))
		default:
			line := fmt.Sprintf(`{"@timestamp":%q,"event":{"category":["network"],"type":["start"]},"host":{"name":"h%d","os":{"type":"linux"}},"process":{"name":"p%d","args":["p%d","-x","%d"]},"user":{"name":"u%d"},"destination":{"ip":"10.0.%d.%d","port":443}}`,
				ts.Format(time.RFC3339Nano), i%5, i%11, i%11, i, i%3, i%4, i%250)
			if i%61 == 0 {
				line += "\r"
			}
			lines = append(lines, line)
		}
	}
	msgs := []string{strings.Join(lines[:10], "\n"), strings.Join(lines[10:1600], "\n"), strings.Join(lines[1600:], "\n") + "\n"}

	run := func(decoders int) (events, dlq []string, st StatsSnapshot) {
		ts := natstest.Start(t)
		ts.Pipeline(t, testPartitions)
		cfg := Config{Datafeed: "rarenet", BucketSpan: 15 * time.Minute, AllowedLateness: time.Minute, Decoders: decoders}
		svc, err := New(ts.Ctx, cfg, ts.Conn(t, Stage), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		evSub := subscribe(t, ts.NC, stream.EventsWildcard)
		dlqSub := subscribe(t, ts.NC, stream.DLQSubject(Stage))
		ctx, stop := context.WithCancel(ts.Ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		line := 1
		for _, m := range msgs {
			if _, err := ts.JS.PublishMsg(ts.Ctx, rawMsg("auto", "fleet.ndjson", line, m)); err != nil {
				t.Fatal(err)
			}
			line += strings.Count(m, "\n") + 1
		}
		deadline := time.Now().Add(30 * time.Second)
		for svc.Stats().Snapshot().Lines < int64(len(lines)) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // the last publishes reach the subscriptions
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		for {
			m, err := evSub.NextMsg(100 * time.Millisecond)
			if err != nil {
				break
			}
			events = append(events, m.Subject+" "+m.Header.Get(nats.MsgIdHdr)+" "+m.Header.Get("Rarenet-Control")+" "+string(m.Data))
		}
		for {
			m, err := dlqSub.NextMsg(100 * time.Millisecond)
			if err != nil {
				break
			}
			dlq = append(dlq, m.Header.Get("Rarenet-Reason")+" "+string(m.Data))
		}
		if decoders > 1 && svc.workers == nil {
			t.Fatalf("%d decoders: no raw message was decoded in parts", decoders)
		}
		if decoders > 1 && len(svc.parts) <= decoders {
			t.Fatalf("%d decoders: %d parts at most, so no worker took a second part: the test does not cover what it should", decoders, len(svc.parts))
		}
		return events, dlq, svc.Stats().Snapshot()
	}
	wantEvents, wantDLQ, wantStats := run(1)
	if wantStats.Lines != int64(len(lines)) || wantStats.Rejected == 0 || wantStats.Filtered == 0 || len(wantEvents) < 3*testPartitions {
		t.Fatalf("sequential run: %+v, %d event messages: the input does not test what it should", wantStats, len(wantEvents))
	}
	for _, decoders := range []int{2, 3, 8} {
		events, dlq, st := run(decoders)
		if st != wantStats {
			t.Errorf("%d decoders: counters %+v, want %+v", decoders, st, wantStats)
		}
		if strings.Join(events, "\n") != strings.Join(wantEvents, "\n") {
			t.Errorf("%d decoders: the EVENTS messages differ from one decoder's (%d and %d messages)", decoders, len(events), len(wantEvents))
		}
		if strings.Join(dlq, "\n") != strings.Join(wantDLQ, "\n") {
			t.Errorf("%d decoders: dead letters\n got %q\nwant %q", decoders, dlq, wantDLQ)
		}
	}
}

func TestSplitLines(t *testing.T) {
	for _, data := range []string{"", "a", "a\n", "\n", "\nabc", "abc\n\n", "a\nb\nc\nd\ne", strings.Repeat("line\n", 100)} {
		for n := 1; n <= 5; n++ {
			parts := splitLines([]byte(data), n)
			var joined []string
			for _, p := range parts {
				joined = append(joined, string(p))
			}
			if got := strings.Join(joined, "\n"); got != data {
				t.Errorf("splitLines(%q, %d) = %q: joined %q", data, n, joined, got)
			}
			if len(parts) > n {
				t.Errorf("splitLines(%q, %d): %d parts", data, n, len(parts))
			}
		}
	}
}

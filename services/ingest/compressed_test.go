package ingest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// TestCompressedRaw checks that a raw message compressed as rarenet replay sends them
// decodes as its plain text does, and that one that does not decompress is dead-lettered
// whole, with its bytes and a reason naming the header.
func TestCompressedRaw(t *testing.T) {
	nc, js, _, ctx := startIngest(t)
	eventsSub := subscribe(t, nc, stream.EventsWildcard)
	dlqSub := subscribe(t, nc, stream.DLQSubject(Stage))
	audit, err := os.ReadFile(filepath.Join(realDir(t), "auditd", "go-libaudit-normal.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := rawMsg("auditd", "normal.log", 1, "")
	m.Data = s2.Encode(nil, audit)
	m.Header.Set(control.HeaderCompression, control.CompressionS2)
	corrupt := rawMsg("ecs", "broken.ndjson", 7, "not s2: "+strings.Repeat("x", 100))
	corrupt.Header.Set(control.HeaderCompression, control.CompressionS2)
	for _, m := range []*nats.Msg{m, corrupt} {
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	var got *event.Event
	for got == nil {
		msg, err := eventsSub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("no event from the compressed message: %v", err)
		}
		if control.IsControl(msg.Header) {
			continue
		}
		evs := natstest.Batch(t, msg.Header, msg.Data)
		for _, ev := range evs {
			got = ev
		}
	}
	if got.Process.Name != "google_accounts" || got.Origin != (event.Origin{Source: "normal.log", Line: 1, Format: "auditd"}) {
		t.Errorf("event %+v from the compressed auditd sample", got)
	}

	dl, err := dlqSub.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dl.Data, corrupt.Data) {
		t.Errorf("dead letter %q, want the message's bytes", dl.Data)
	}
	if r := dl.Header.Get(control.HeaderReason); !strings.HasPrefix(r, "broken.ndjson:7: ") || !strings.Contains(r, control.HeaderCompression) ||
		!strings.Contains(r, rawdata.ErrCorrupt.Error()) {
		t.Errorf("reason %q, want the place, the header and what is wrong", r)
	}
}

// TestBatchesCompressed checks that an event batch large enough to pay is published
// S2-compressed, marked so, and holds every event of its raw message.
func TestBatchesCompressed(t *testing.T) {
	nc, js, _, ctx := startIngest(t)
	eventsSub := subscribe(t, nc, stream.EventsWildcard)
	var lines strings.Builder
	const n = 200 // one host: one partition, ~60 bytes an event encoded, well past MinCompress
	for i := range n {
		fmt.Fprintf(&lines, `{"@timestamp":"2024-01-01T00:%02d:%02dZ","event":{"category":["network"],"type":["start"]},"host":{"name":"web1","os":{"type":"linux"}},"process":{"name":"curl","pid":%d},"destination":{"ip":"93.184.216.%d","port":443}}`+"\n",
			i/60, i%60, 1000+i, i%250)
	}
	if _, err := js.PublishMsg(ctx, rawMsg("ecs", "many.ndjson", 1, lines.String())); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := eventsSub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("no event batch: %v", err)
		}
		if control.IsControl(m.Header) {
			continue
		}
		if c := m.Header.Get(control.HeaderCompression); c != control.CompressionS2 {
			t.Errorf("batch of %d bytes: %s %q, want %q", len(m.Data), control.HeaderCompression, c, control.CompressionS2)
		}
		evs := natstest.Batch(t, m.Header, m.Data)
		if len(evs) != n {
			t.Fatalf("%d events in the batch, want %d", len(evs), n)
		}
		for i, ev := range evs {
			if ev.Process.PID != int64(1000+i) || ev.Origin.Line != int64(1+i) {
				t.Fatalf("event %d: pid %d line %d", i, ev.Process.PID, ev.Origin.Line)
			}
		}
		return
	}
}

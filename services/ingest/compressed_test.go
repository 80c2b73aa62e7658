package ingest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
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
		evs, err := event.DecodeBatch(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
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

package e2e

import (
	"bytes"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
)

// TestLiveLoadDecodes checks the live benchmark's load without running it (make bench does):
// a body of each format has the lines it claims and every line decodes with ingest's own
// decoder into one event per generated event, stamped now, with no reject.
func TestLiveLoadDecodes(t *testing.T) {
	for _, name := range []string{"ecs", "auditd"} {
		t.Run(name, func(t *testing.T) {
			gen := newLiveLoad(t, name)
			for _, finalNewline := range []bool{true, false} {
				body := gen.body(nil, finalNewline)
				if got := bytes.HasSuffix(body, []byte{'\n'}); got != finalNewline {
					t.Fatalf("final newline %v, want %v", got, finalNewline)
				}
				lines := bytes.Split(bytes.TrimSuffix(body, []byte{'\n'}), []byte{'\n'})
				if len(lines) != gen.lines {
					t.Fatalf("%d lines, want %d", len(lines), gen.lines)
				}
				dec, err := formats.New(name)
				if err != nil {
					t.Fatal(err)
				}
				var events int
				emit := func(r format.Result) {
					if r.Err != nil {
						t.Fatalf("line %d rejected: %v\n%s", r.Line, r.Err, r.Raw)
					}
					if at := r.Event.Timestamp; time.Since(at).Abs() > time.Minute {
						t.Fatalf("line %d: event at %s, want now", r.Line, at)
					}
					events++
				}
				for i, l := range lines {
					dec.Decode(format.Line{Source: "live", Num: int64(i + 1), Data: l}, emit)
				}
				dec.Flush(emit)
				if events != gen.perBody {
					t.Fatalf("%d events decoded, want %d", events, gen.perBody)
				}
			}
		})
	}
}

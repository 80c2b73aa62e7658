package falco

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// FuzzDecode feeds arbitrary text, split into lines, and checks that the decoder never
// panics and that every result is an event or a reject wrapping ErrMalformed.
func FuzzDecode(f *testing.F) {
	fixture := formattest.Lines(f, "testdata/alerts.jsonl")
	for _, l := range fixture {
		f.Add(l)
	}
	f.Add(strings.Join(fixture, "\n"))
	f.Add(`{"rule":"r","output_fields":{"evt.time":"17","fd.name":"[::1]:1->[::ffff:1.2.3.4]:2","fd.sport":null}}`)
	f.Fuzz(func(t *testing.T, data string) {
		formattest.Fuzz(t, New(), data)
	})
}

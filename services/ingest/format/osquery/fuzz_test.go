package osquery

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// FuzzDecode feeds arbitrary text, split into lines, and checks that the decoder never
// panics and that every result is an event or a reject wrapping ErrMalformed.
func FuzzDecode(f *testing.F) {
	fixture := formattest.Lines(f, "testdata/results.log")
	for _, l := range fixture {
		f.Add(l)
	}
	f.Add(strings.Join(fixture, "\n"))
	f.Add(`{"calendarTime":"Tue Feb  3 08:20:05 2026 UTC","columns":{"pid":1.0,"remote_address":"::ffff:192.0.2.1","remote_port":8e1,"family":"1"},"action":"added"}`)
	f.Fuzz(func(t *testing.T, data string) {
		formattest.Fuzz(t, New(), data)
	})
}

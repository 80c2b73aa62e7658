package tetragon

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// FuzzDecode feeds arbitrary text, split into lines, and checks that the decoder never
// panics and that every result is an event or a reject wrapping ErrMalformed.
func FuzzDecode(f *testing.F) {
	for _, name := range realFiles {
		f.Add(realLine(f, name))
	}
	fixture := formattest.Lines(f, "testdata/kprobe.jsonl")
	for _, l := range fixture {
		f.Add(l)
	}
	f.Add(strings.Join(fixture, "\n"))
	f.Add(`{"process_kprobe":{"function_name":"tcp_connect","args":[{"sock_arg":{"daddr":"::ffff:1.2.3.4","dport":"443"}}]},"time":"2026-02-10T08:15:30Z"}`)
	f.Fuzz(func(t *testing.T, data string) {
		formattest.Fuzz(t, New(), data)
	})
}

// Package formattest holds the test helpers the decoders share: locating the real samples,
// feeding lines to a decoder, and separating events from rejects. It is imported by tests
// only.
package formattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// RealDir returns the shared directory of real samples: ../shared/testdata/real next to the
// directory that holds go.work.
func RealDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			real := filepath.Join(dir, "..", "shared", "testdata", "real")
			if _, err := os.Stat(real); err != nil {
				t.Fatalf("real test data not found at %s (next to the go.work in %s): %v", real, dir, err)
			}
			return real
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work found above the working directory; cannot locate ../shared/testdata/real")
		}
		dir = parent
	}
}

// ReadReal reads a file of the real samples.
func ReadReal(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RealDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Lines reads a file (relative to the test's package directory, e.g. testdata/x.jsonl) as
// lines.
func Lines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// Compact returns a pretty-printed JSON document as one NDJSON line.
func Compact(t testing.TB, pretty []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, pretty); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// Decode feeds lines to d, numbered from 1, flushes it and returns every result. It fails
// the test on a result that is neither exactly an event nor exactly a reject, or whose Raw
// is not the line it names.
func Decode(t testing.TB, d format.Decoder, source string, lines []string) []format.Result {
	t.Helper()
	var out []format.Result
	emit := func(r format.Result) {
		t.Helper()
		if (r.Event == nil) == (r.Err == nil) {
			t.Fatalf("result with Event=%v Err=%v: want exactly one", r.Event, r.Err)
		}
		if r.Source != source || r.Line < 1 || r.Line > int64(len(lines)) || string(r.Raw) != lines[r.Line-1] {
			t.Fatalf("result source %q line %d raw %q does not name its input", r.Source, r.Line, r.Raw)
		}
		out = append(out, r.Clone())
	}
	for i, l := range lines {
		d.Decode(format.Line{Source: source, Num: int64(i + 1), Data: []byte(l)}, emit)
	}
	d.Flush(emit)
	return out
}

// Split separates results into events and rejects.
func Split(rs []format.Result) (events, rejects []format.Result) {
	for _, r := range rs {
		if r.Err != nil {
			rejects = append(rejects, r)
		} else {
			events = append(events, r)
		}
	}
	return events, rejects
}

// Expect reports every check whose value differs; a check is {field name, got, want}.
func Expect(t testing.TB, checks [][3]string) {
	t.Helper()
	for _, c := range checks {
		if c[1] != c[2] {
			t.Errorf("%s = %q, want %q", c[0], c[1], c[2])
		}
	}
}

// Fuzz feeds data, split into lines, to d and fails on a panic (by not recovering) or on a
// result that is not exactly an event or a reject, or a reject that does not wrap
// format.ErrMalformed.
func Fuzz(t *testing.T, d format.Decoder, data string) {
	emit := func(r format.Result) {
		if (r.Event == nil) == (r.Err == nil) {
			t.Fatalf("result with Event=%v Err=%v: want exactly one", r.Event, r.Err)
		}
		if r.Err != nil && !errors.Is(r.Err, format.ErrMalformed) {
			t.Fatalf("reject %v does not wrap ErrMalformed", r.Err)
		}
		if r.Event != nil && (r.Event.Origin.Format == "" || r.Event.Event.Module == "" || r.Event.Event.Dataset == "") {
			t.Fatalf("event without origin format, module or dataset: %+v", r.Event)
		}
	}
	for i, l := range strings.Split(data, "\n") {
		d.Decode(format.Line{Source: "fuzz", Num: int64(i + 1), Data: []byte(l)}, emit)
	}
	d.Flush(emit)
}

// Benchmark decodes data as one line per iteration and reports events per second and
// allocations: the benchmark every decoder of one-line events runs.
func Benchmark(b *testing.B, d format.Decoder, data []byte) {
	events := 0
	emit := func(r format.Result) {
		if r.Event != nil {
			events++
		}
	}
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		n++
		d.Decode(format.Line{Source: "bench", Num: n, Data: data}, emit)
	}
	if events == 0 {
		b.Fatal("no events decoded")
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

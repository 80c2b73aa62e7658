package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// BenchmarkLine is ingest's whole work per line of a replay, in one worker: decoding (ECS,
// the bundled sample's documents), the datafeed filter and the event's batch. It is what
// figure 1 of docs/performance.md spends most of its CPU on; cpu-ns/op is the process's CPU
// time per line.
//
//	go test -run '^$' -bench BenchmarkLine -benchmem .
func BenchmarkLine(b *testing.B) {
	lines := sampleLines(b)
	dec, err := NewDecoding(format.ECS, datafeed.Default())
	if err != nil {
		b.Fatal(err)
	}
	out := partOutput{partitions: 8, batches: make([]event.BatchBuilder, 8)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%len(lines) == 0 {
			out.reset() // as a raw message's batches go out
		}
		dec.Line(format.ECS, "sample", int64(i), lines[i%len(lines)], &out)
		i++
	}
	if out.stats.Accepted == 0 && b.N > len(lines) {
		b.Fatal("no event accepted")
	}
}

// sampleLines reads the bundled sample history's first 8192 lines.
func sampleLines(b *testing.B) [][]byte {
	b.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "sample", "fleet-3d.ndjson.gz"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && len(lines) < 8192 {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return lines
}

package tetragon

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// BenchmarkDecode decodes one process_kprobe tcp_connect line per iteration, the event
// current Tetragon releases write.
func BenchmarkDecode(b *testing.B) {
	formattest.Benchmark(b, New(), []byte(formattest.Lines(b, "testdata/kprobe.jsonl")[1]))
}

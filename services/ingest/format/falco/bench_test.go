package falco

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// BenchmarkDecode decodes one connect alert with every field per iteration.
func BenchmarkDecode(b *testing.B) {
	formattest.Benchmark(b, New(), []byte(formattest.Lines(b, "testdata/alerts.jsonl")[0]))
}

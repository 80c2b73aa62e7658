package osquery

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// BenchmarkDecode decodes one socket_events connect result in event format per iteration.
func BenchmarkDecode(b *testing.B) {
	formattest.Benchmark(b, New(), []byte(formattest.Lines(b, "testdata/results.log")[0]))
}

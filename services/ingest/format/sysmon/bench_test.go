package sysmon

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// BenchmarkDecode decodes one syslog line holding an outbound EventID 3 per iteration.
func BenchmarkDecode(b *testing.B) {
	formattest.Benchmark(b, New(), []byte(formattest.Lines(b, "testdata/syslog.log")[1]))
}

package osquery

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// BenchmarkDecode decodes one socket_events connect result in event format per iteration.
func BenchmarkDecode(b *testing.B) {
	data := []byte(formattest.Lines(b, "testdata/results.log")[0])
	d := New()
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

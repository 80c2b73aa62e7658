package auditd

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// BenchmarkDecode decodes a typical connect group (SYSCALL, SOCKADDR, CWD, PROCTITLE, EOE)
// per iteration.
func BenchmarkDecode(b *testing.B) {
	lines := connectLines("node=web-1 ", "1700000000.123:42", -115, saddrV4)
	data := make([][]byte, len(lines))
	for i, l := range lines {
		data[i] = []byte(l)
	}
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
		for _, l := range data {
			n++
			d.Decode(format.Line{Source: "bench", Num: n, Data: l}, emit)
		}
	}
	if events == 0 {
		b.Fatal("no events decoded")
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

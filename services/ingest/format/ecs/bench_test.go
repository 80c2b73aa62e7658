package ecs

import (
	"bytes"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/valyala/fastjson"
)

// benchMix is a realistic stream of documents: the bundled sample history (Auditbeat's
// shape, what a replay decodes) with one document in sixteen in another shipper's shape
// (Auditbeat 6 and 7, Auditd Manager, Elastic Defend nested, dotted and as a search hit,
// Auditbeat's socket dataset) and the action lines of a bulk body. It returns the lines and
// their mean length.
func benchMix(b *testing.B) ([][]byte, int64) {
	b.Helper()
	sample, shippers := sampleLines(b)[:4096], shipperLines(b)
	mix := make([][]byte, 0, len(sample))
	var size int64
	for i, l := range sample {
		if i%16 == 15 {
			l = shippers[(i/16)%len(shippers)]
		}
		mix = append(mix, l)
		size += int64(len(l))
	}
	return mix, size / int64(len(mix))
}

// BenchmarkDecode decodes the mix with the typed decoder ("typed") and with the map-based
// reference decoder, encoding/json into map[string]any ("map"). Besides ns/op, MB/s and
// allocs/op, each reports cpu-ns/op, the process's CPU time per document (user and system,
// GC included), which a busy machine disturbs much less than wall time. The typed run also
// decodes the whole mix with the reference just before and just after its own loop and
// reports x-map: how many times less CPU it takes than encoding/json into a map, in the same
// run.
//
//	go test -run '^$' -bench BenchmarkDecode -benchmem ./format/ecs/
func BenchmarkDecode(b *testing.B) {
	mix, size := benchMix(b)
	b.Run("map", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		i, events := 0, 0
		cpu := cpuTime()
		for b.Loop() {
			if reference(mix[i%len(mix)]).ev != nil {
				events++
			}
			i++
		}
		reportDocs(b, events, cpuTime()-cpu)
	})
	b.Run("typed", func(b *testing.B) {
		d := New()
		events := 0
		emit := func(r format.Result) {
			if r.Event != nil {
				events++
			}
		}
		for _, l := range mix { // warm the parser, the event and the strings
			d.Decode(format.Line{Source: "bench", Num: 1, Data: l}, emit)
		}
		baseline := mapCPUPerDoc(mix)
		events = 0
		b.SetBytes(size)
		b.ReportAllocs()
		i := 0
		cpu := cpuTime()
		for b.Loop() {
			d.Decode(format.Line{Source: "bench", Num: int64(i + 1), Data: mix[i%len(mix)]}, emit)
			i++
		}
		cpu = cpuTime() - cpu
		b.StopTimer()
		baseline = (baseline + mapCPUPerDoc(mix)) / 2
		reportDocs(b, events, cpu)
		if cpu > 0 {
			b.ReportMetric(baseline/(float64(cpu)/float64(b.N)), "x-map")
		}
	})
}

// mapCPUPerDoc is the reference decoder's CPU time per document on the whole mix (twice,
// to be long enough for the clock's resolution).
func mapCPUPerDoc(mix [][]byte) float64 {
	start := cpuTime()
	for range 2 {
		for _, l := range mix {
			reference(l)
		}
	}
	return float64(cpuTime()-start) / float64(2*len(mix))
}

// reportDocs reports documents per second of wall time and the CPU time per document.
func reportDocs(b *testing.B, events int, cpu time.Duration) {
	if events == 0 {
		b.Fatal("no events decoded")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkDecodeStages splits the typed decoder's cost on the mix: the byte scan that
// picks the lines to validate, fastjson's parse, the parse and the walk that picks the
// fields' values, and the whole decode (the mapping to the event is the difference).
//
//	go test -run '^$' -bench BenchmarkDecodeStages -benchmem ./format/ecs/
func BenchmarkDecodeStages(b *testing.B) {
	mix, size := benchMix(b)
	run := func(name string, f func(l []byte)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				f(mix[i%len(mix)])
				i++
			}
			if cpu := cpuTime() - cpu; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
	var p fastjson.Parser
	run("scan", func(l []byte) { scan(l) })
	run("parse", func(l []byte) { _, _ = p.ParseBytes(l) })
	d := New()
	run("parse+walk", func(l []byte) {
		_, high := scan(l)
		d.m.w.plain = !high && bytes.IndexByte(l, '\\') < 0
		_, _ = d.walk(l, false)
	})
	run("decode", func(l []byte) { _, _ = d.decode(l) })
}

package auditd

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd/testdata/reference"
)

// BenchmarkDecode decodes, per iteration, the whole of an input: the head of the generated
// history the replay benchmark uses (6 hosts, 5000 connects), the real samples (mostly
// records of other syscalls), or 1000 typical connect groups (SYSCALL, SOCKADDR, CWD,
// PROCTITLE, EOE). Besides ns/op, MB/s and allocs/op (per pass over the input), it reports
// events/s, ns/event and allocs/event in the steady state (after a first pass has filled
// the decoder's tables), and x-reference: events/s as a multiple of the reference decoder's
// (testdata/reference, the first version) on the same input, measured in passes interleaved
// with this decoder's so that both see the same load of a shared machine, and in CPU time
// of the benchmark's thread where the system tells it (cpu-ns/event, ref-cpu-ns/event).
func BenchmarkDecode(b *testing.B) {
	var connects []string
	for i := range 1000 {
		connects = append(connects, connectLines("node=web-1 ", fmt.Sprintf("1700000000.123:%d", i), -115, saddrV4)...)
	}
	inputs := []struct {
		name  string
		lines []string
	}{
		{"generated", readGenerated(b)},
		{"real", realLines(b)},
		{"connect", connects},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) { benchDecode(b, toBytes(in.lines)) })
	}
}

func benchDecode(b *testing.B, lines [][]byte) {
	// One thread runs both decoders, so that its CPU time is theirs: on a shared machine,
	// wall time also counts the time other processes held the CPU.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	size := int64(0)
	for _, l := range lines {
		size += int64(len(l)) + 1
	}
	d, ref := New(), reference.New()
	events, refEvents, num := 0, 0, int64(0)
	pass := func(dec format.Decoder, n *int) {
		emit := func(r format.Result) {
			if r.Event != nil {
				*n++
			}
		}
		for _, l := range lines {
			num++
			dec.Decode(format.Line{Source: "bench", Num: num, Data: l}, emit)
		}
		dec.Flush(emit)
	}
	perPass := 0
	pass(d, &perPass) // fills the decoder's tables and buffers
	if perPass == 0 {
		b.Fatal("no events decoded")
	}

	var cpu, refCPU, refWall time.Duration
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		c := threadCPU()
		pass(d, &events)
		cpu += threadCPU() - c
		if refWall < b.Elapsed() { // give the reference about as much time, interleaved
			b.StopTimer()
			start, c := time.Now(), threadCPU()
			pass(ref, &refEvents)
			refCPU += threadCPU() - c
			refWall += time.Since(start)
			runtime.GC() // its garbage is not to be collected on the other's time
			b.StartTimer()
		}
	}
	elapsed := b.Elapsed()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	allocEvents := 0
	for range 3 {
		pass(d, &allocEvents)
	}
	runtime.ReadMemStats(&after)

	perEvent := func(t time.Duration, n int) float64 { return float64(t.Nanoseconds()) / float64(n) }
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(perEvent(elapsed, events), "ns/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(allocEvents), "allocs/event")
	b.ReportMetric(float64(refEvents)/refWall.Seconds(), "ref-events/s")
	if cpu > 0 && refCPU > 0 {
		b.ReportMetric(perEvent(cpu, events), "cpu-ns/event")
		b.ReportMetric(perEvent(refCPU, refEvents), "ref-cpu-ns/event")
		b.ReportMetric(perEvent(refCPU, refEvents)/perEvent(cpu, events), "x-reference")
	} else {
		b.ReportMetric(perEvent(refWall, refEvents)/perEvent(elapsed, events), "x-reference")
	}
}

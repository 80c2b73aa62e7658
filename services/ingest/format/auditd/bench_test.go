package auditd

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd/testdata/reference"
)

// benchInputs are the logs the benchmarks decode, whole, per iteration: the head of the
// generated history the replay benchmark uses (6 hosts, 5000 connects, each SYSCALL,
// SOCKADDR, CWD, EXECVE, PROCTITLE, EOE), the real samples (mostly records of other
// syscalls, some without EOE), and 1000 typical connect groups (SYSCALL, SOCKADDR, CWD,
// PROCTITLE, EOE).
func benchInputs(b *testing.B) []struct {
	name string
	data []byte
} {
	var connects []string
	for i := range 1000 {
		connects = append(connects, connectLines("node=web-1 ", fmt.Sprintf("1700000000.123:%d", i), -115, saddrV4)...)
	}
	join := func(lines []string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }
	return []struct {
		name string
		data []byte
	}{
		{"generated", join(readGenerated(b))},
		{"real", join(realLines(b))},
		{"connect", join(connects)},
	}
}

// eachLine calls f with each line of data, found as ingest finds them in a raw message: so
// a line's bytes were just read, as in the pipeline, when the decoder gets it.
func eachLine(data []byte, f func(line []byte)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		f(data[:i])
		data = data[min(i+1, len(data)):]
	}
}

// BenchmarkDecode decodes a whole input per iteration. Besides ns/op, MB/s and allocs/op (a
// pass over the input), it reports events/s, ns/event and allocs/event in the steady state
// (after a first pass has filled the decoder's tables), and x-reference: this decoder's
// speed as a multiple of the reference decoder's (testdata/reference, the first version),
// measured on the same input in passes interleaved with this decoder's so that both see the
// same load of a shared machine, in CPU time of the benchmark's thread where the system
// tells it (cpu-ns/event, ref-cpu-ns/event), in wall time elsewhere.
func BenchmarkDecode(b *testing.B) {
	for _, in := range benchInputs(b) {
		b.Run(in.name, func(b *testing.B) {
			d, ref := New(), reference.New()
			pass := func(dec format.Decoder) func() int {
				num, events := int64(0), 0
				emit := func(r format.Result) {
					if r.Event != nil {
						events++
					}
				}
				decode := func(l []byte) {
					num++
					dec.Decode(format.Line{Source: "bench", Num: num, Data: l}, emit)
				}
				return func() int {
					events = 0
					eachLine(in.data, decode)
					dec.Flush(emit)
					return events
				}
			}
			benchAgainst(b, int64(len(in.data)), "event", pass(d), pass(ref))
		})
	}
}

// BenchmarkBoundary finds the places to cut a whole input per iteration, with Boundary and
// with the reference's, reported per line as BenchmarkDecode reports per event.
func BenchmarkBoundary(b *testing.B) {
	for _, in := range benchInputs(b) {
		b.Run(in.name, func(b *testing.B) {
			var bd Boundary
			var ref reference.Boundary
			pass := func(add func([]byte) bool) func() int {
				lines := 0
				count := func(l []byte) {
					add(l)
					lines++
				}
				return func() int {
					lines = 0
					eachLine(in.data, count)
					return lines
				}
			}
			benchAgainst(b, int64(len(in.data)), "line", pass(bd.Add), pass(ref.Add))
		})
	}
}

// benchAgainst runs pass in the benchmark loop and ref, interleaved, for about as long, and
// reports the rates of each and their ratio. Each pass returns how many units (events,
// lines) it made.
func benchAgainst(b *testing.B, size int64, unit string, pass, ref func() int) {
	// One thread runs both, so that its CPU time is theirs: on a shared machine, wall time
	// also counts the time other processes held the CPU.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if pass() == 0 { // fills the tables and buffers
		b.Fatalf("no %ss", unit)
	}
	var units, refUnits int
	var cpu, refCPU, refWall time.Duration
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		c := threadCPU()
		units += pass()
		cpu += threadCPU() - c
		if refWall < b.Elapsed() {
			b.StopTimer()
			start, c := time.Now(), threadCPU()
			refUnits += ref()
			refCPU += threadCPU() - c
			refWall += time.Since(start)
			runtime.GC() // its garbage is not to be collected on the other's time
			b.StartTimer()
		}
	}
	elapsed := b.Elapsed()

	allocs := func(pass func() int) float64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		units := 0
		for range 3 {
			units += pass()
		}
		runtime.ReadMemStats(&after)
		return float64(after.Mallocs-before.Mallocs) / float64(units)
	}

	per := func(t time.Duration, n int) float64 { return float64(t.Nanoseconds()) / float64(n) }
	b.ReportMetric(float64(units)/elapsed.Seconds(), unit+"s/s")
	b.ReportMetric(per(elapsed, units), "ns/"+unit)
	b.ReportMetric(allocs(pass), "allocs/"+unit)
	b.ReportMetric(allocs(ref), "ref-allocs/"+unit)
	b.ReportMetric(float64(refUnits)/refWall.Seconds(), "ref-"+unit+"s/s")
	if cpu > 0 && refCPU > 0 {
		b.ReportMetric(per(cpu, units), "cpu-ns/"+unit)
		b.ReportMetric(per(refCPU, refUnits), "ref-cpu-ns/"+unit)
		b.ReportMetric(per(refCPU, refUnits)/per(cpu, units), "x-reference")
	} else {
		b.ReportMetric(per(refWall, refUnits)/per(elapsed, units), "x-reference")
	}
}

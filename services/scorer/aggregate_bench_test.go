package scorer

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/event"
)

// benchBatches returns event batches shaped like a fleet's: 6 hosts, 30 daemons and tools,
// a few users and destinations each, events a second or two apart, 256 to a batch.
func benchBatches(b *testing.B, n int) [][]byte {
	b.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	t := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var out [][]byte
	var bb event.BatchBuilder
	for i := range n {
		t = t.Add(time.Duration(500+r.IntN(2000)) * time.Millisecond)
		p := r.IntN(30)
		ev := &event.Event{
			Timestamp: t,
			Event:     event.Connection("connected-to"),
			Host:      event.Host{Name: fmt.Sprintf("web-%02d", r.IntN(6))},
			Process: event.Process{Name: fmt.Sprintf("proc%02d", p), PID: int64(1000 + p), Executable: fmt.Sprintf("/usr/bin/proc%02d", p),
				Args: []string{fmt.Sprintf("/usr/bin/proc%02d", p), "--serve"}, WorkingDirectory: "/"},
			User:        event.User{Name: []string{"root", "www-data", "postgres"}[p%3], ID: fmt.Sprint(p % 3)},
			Destination: event.Endpoint{IP: fmt.Sprintf("10.%d.%d.%d", p%4, r.IntN(3), 1+r.IntN(5)), Port: []int{443, 53, 123, 5432}[p%4]},
			Network:     event.Network{Transport: "tcp", Direction: "egress"},
			Origin:      event.Origin{Source: "fleet.ndjson", Line: int64(i + 1), Format: "ecs"},
		}
		bb.Add(ev)
		if bb.Len() == 256 {
			data, err := bb.AppendMsg(nil)
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, data)
			bb.Reset()
		}
	}
	return out
}

// BenchmarkAggregate measures the scorer's work per event: decoding its batch and adding it
// to its bucket, with buckets closing as event time goes by.
//
//	cd services/scorer && go test -run '^$' -bench Aggregate -benchmem .
func BenchmarkAggregate(b *testing.B) {
	batches := benchBatches(b, 256*64)
	job := DefaultJob()
	var r event.BatchReader
	var ev event.Event
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for b.Loop() {
		agg := NewAggregator(job)
		for _, data := range batches {
			if err := r.Decode(data); err != nil {
				b.Fatal(err)
			}
			for i := range r.Len() {
				r.Event(i, &ev)
				if _, err := agg.Add(&ev); err != nil {
					b.Fatal(err)
				}
			}
			agg.CloseBefore(ev.Timestamp.Add(-time.Minute))
			events += r.Len()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

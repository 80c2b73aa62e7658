package scorer

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkModelFootprint measures the model's memory for 10k and 100k distinct process
// names: every name is seen in the history, each bucket holding a tenth of them. It reports
// the live heap the model holds (after GC), per distinct value, the size of its checkpoint,
// and the ratio to Elastic's model_memory_limit for this job (64 MB).
//
//	cd services/scorer && go test -run '^$' -bench BenchmarkModelFootprint -benchtime 1x .
func BenchmarkModelFootprint(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("values=%d", n), func(b *testing.B) {
			for range b.N {
				names := make([]string, n)
				for i := range names {
					names[i] = fmt.Sprintf("proc-%07d", i)
				}
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				r, err := NewRarity(DefaultJob())
				if err != nil {
					b.Fatal(err)
				}
				for k := range int64(20) {
					lo := int(k%10) * n / 10
					part := make([]ValueSummary, 0, n/10)
					for _, v := range names[lo : lo+n/10] {
						part = append(part, ValueSummary{Value: v, Count: 1})
					}
					r.Score(k, part)
				}
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				cp, err := json.Marshal(r.Snapshot())
				if err != nil {
					b.Fatal(err)
				}
				heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
				b.ReportMetric(heap/1e6, "model-MB")
				b.ReportMetric(heap/float64(n), "bytes/value")
				b.ReportMetric(float64(len(cp))/1e6, "checkpoint-MB")
				b.ReportMetric(heap/(64<<20), "x-64MB-limit")
				runtime.KeepAlive(r)
			}
		})
	}
}

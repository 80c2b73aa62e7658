package rare

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkScoreBucket scores a bucket holding every one of n distinct
// values, after a warm-up that gives them varied concentrations.
func BenchmarkScoreBucket(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		for _, method := range []ProbabilityMethod{ProbabilityMarginal, ProbabilityPointEstimate} {
			b.Run(fmt.Sprintf("values=%d/%v", n, method), func(b *testing.B) {
				cfg := DefaultConfig(15 * time.Minute)
				cfg.Probability = method
				m := newModel(b, cfg)
				values := make([]string, n)
				for i := range values {
					values[i] = fmt.Sprintf("process-%06d", i)
				}
				rng := rand.New(rand.NewPCG(5, 6))
				for range 20 {
					var present []string
					for i, v := range values {
						if rng.IntN(i%10+1) == 0 {
							present = append(present, v)
						}
					}
					m.ScoreBucket(present)
					m.Advance(1)
				}
				b.ReportAllocs()
				for b.Loop() {
					m.ScoreBucket(values)
					m.Advance(1)
				}
			})
		}
	}
}

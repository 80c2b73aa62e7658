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
				}
				b.ReportAllocs()
				for b.Loop() {
					m.ScoreBucket(values)
				}
			})
		}
	}
}

// BenchmarkNormalizerUpdate closes buckets of n results through the
// normaliser, after a warm-up long enough to compress both digests, with the
// model's scoring of the same buckets as the baseline it is measured against.
func BenchmarkNormalizerUpdate(b *testing.B) {
	for _, n := range []int{30, 1000} {
		values := make([]string, n)
		for i := range values {
			values[i] = fmt.Sprintf("process-%06d", i)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		bucket := func() []string {
			var present []string
			for i, v := range values {
				if rng.IntN(i%10+1) == 0 {
					present = append(present, v)
				}
			}
			return present
		}
		m := newModel(b, DefaultConfig(15*time.Minute))
		var warm [][]Score
		for range 3000 {
			warm = append(warm, m.ScoreBucket(bucket()))
		}
		b.Run(fmt.Sprintf("values=%d/model", n), func(b *testing.B) {
			for b.Loop() {
				m.ScoreBucket(bucket())
			}
		})
		for _, v := range []NormalizerVersion{Normalizer84, Normalizer7x} {
			b.Run(fmt.Sprintf("values=%d/normalizer-%v", n, v), func(b *testing.B) {
				cfg, _ := NormalizerConfigFor(15*time.Minute, v)
				norm, _ := NewNormalizer(cfg)
				for _, s := range warm {
					norm.Update(s)
				}
				b.ReportAllocs()
				k := 0
				for b.Loop() {
					s := warm[k%len(warm)]
					norm.Update(s)
					for _, x := range s {
						if x.RawScore > 0 {
							norm.Normalize(x)
						}
					}
					k++
				}
			})
		}
	}
}

package rare

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"
)

func newNormalizer(t testing.TB) *Normalizer {
	t.Helper()
	n, err := NewNormalizer(DefaultNormalizerConfig(15 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func raws(value string, rs ...float64) []Score {
	out := make([]Score, len(rs))
	for i, r := range rs {
		out[i] = Score{Value: fmt.Sprintf("%s%d", value, i), RawScore: r}
	}
	return out
}

func TestDefaultNormalizerConfig(t *testing.T) {
	c := DefaultNormalizerConfig(15 * time.Minute)
	if c.BucketNormalizationFactor != 0.5 || c.NoisePercentile != 50 || c.NoiseMultiplier != 1 ||
		c.QuantileDecay != math.Exp(-0.00025) || c.MaxScoreDecayPerBucket != math.Exp(-0.0005) {
		t.Errorf("config = %+v", c)
	}
	c.Knots = []Knot{{0, 0}, {50, 60}, {40, 70}, {100, 100}}
	if _, err := NewNormalizer(c); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("unsorted knots accepted: %v", err)
	}
}

func TestKnotScore(t *testing.T) {
	n := newNormalizer(t)
	for pct, want := range map[float64]float64{0: 0, 35: 0.5, 70: 1, 77.5: 1.1, 90: 1.5, 98: 35, 99.95: 95, 100: 100} {
		if got := n.knotScore(pct); math.Abs(got-want) > 1e-12 {
			t.Errorf("knotScore(%v) = %v, want %v", pct, got, want)
		}
	}
}

func TestNormalizeZeroAndEmpty(t *testing.T) {
	n := newNormalizer(t)
	if s, _ := n.Normalize(Score{RawScore: 1}); s != 0 {
		t.Errorf("empty history gave %v", s)
	}
	n.Update(raws("v", 0, 0, 1))
	if s, c := n.Normalize(Score{Value: "v0", RawScore: 0}); s != 0 || c != (Ceilings{}) {
		t.Errorf("zero raw gave %v %+v", s, c)
	}
}

func TestNoiseCeiling(t *testing.T) {
	n := newNormalizer(t)
	// Mostly zeros: the noise ceiling lifts out of the minimum.
	n.Update(raws("z", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5))
	if _, c := n.Normalize(Score{Value: "z9", RawScore: 0.5}); c.Noise < 100 {
		t.Errorf("mostly zero history: noise ceiling %v, want >= 100", c.Noise)
	}
	// All scores 1: median 1, raw 2 is 10 above it (1000 discrete units * 10/1000).
	n = newNormalizer(t)
	for range 10 {
		n.Update(raws("o", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1))
	}
	n.Update([]Score{{Value: "x", RawScore: 2}})
	if _, c := n.Normalize(Score{Value: "x", RawScore: 2}); math.Abs(c.Noise-11) > 1e-12 {
		t.Errorf("noise ceiling = %v, want 11", c.Noise)
	}
}

func TestRatioCeilingAgesAndForgets(t *testing.T) {
	n := newNormalizer(t)
	n.Update([]Score{{Value: "v", RawScore: 4}})
	if _, c := n.Normalize(Score{Value: "v", RawScore: 4}); c.Ratio != 100 {
		t.Errorf("own maximum: ratio ceiling %v, want 100", c.Ratio)
	}
	n.Update([]Score{{Value: "v", RawScore: 2}})
	// r = 2 / (4 e^-0.0005).
	r := 2 / (4 * math.Exp(-0.0005))
	if _, c := n.Normalize(Score{Value: "v", RawScore: 2}); math.Abs(c.Ratio-100*math.Min(1.5*r, 0.5+0.5*r)) > 1e-12 {
		t.Errorf("ratio ceiling %v", c.Ratio)
	}
	n.Advance(forgetMaxScoreAfter + 1)
	n.Update([]Score{{Value: "v", RawScore: 1}})
	if _, c := n.Normalize(Score{Value: "v", RawScore: 1}); c.Ratio != 100 {
		t.Errorf("forgotten maximum: ratio ceiling %v, want 100", c.Ratio)
	}
}

func TestQuantileHistoryDecaysEvery20Buckets(t *testing.T) {
	n := newNormalizer(t)
	n.Update(raws("v", 0, 1))
	n.Advance(18)
	if n.Count() != 2 {
		t.Errorf("count after 19 buckets = %v, want 2", n.Count())
	}
	n.Advance(1)
	if want := 2 * math.Exp(-0.00025); math.Abs(n.Count()-want) > 1e-15 {
		t.Errorf("count after 20 buckets = %.17g, want %.17g", n.Count(), want)
	}
	n.Advance(40)
	if want := 2 * math.Exp(-0.00075); math.Abs(n.Count()-want) > 1e-15 {
		t.Errorf("count after 60 buckets = %.17g, want %.17g", n.Count(), want)
	}
}

// The largest score ever seen lands in the top knots; one in the middle of
// the history does not.
func TestQuantileCeiling(t *testing.T) {
	n := newNormalizer(t)
	for b := range 100 {
		rs := make([]float64, 10)
		for i := range rs {
			rs[i] = float64(b*10+i) / 100
		}
		n.Update(raws("q", rs...))
	}
	_, top := n.Normalize(Score{Value: "q9", RawScore: 9.99})
	_, mid := n.Normalize(Score{Value: "q0", RawScore: 5})
	t.Logf("top: %+v; middle: %+v", top, mid)
	if top.Quantile < 80 || mid.Quantile > 1 || mid.Percentile > 30 {
		t.Errorf("quantile ceilings top %v, middle %v", top.Quantile, mid.Quantile)
	}
}

func TestNormalizerSnapshotRestore(t *testing.T) {
	a := newNormalizer(t)
	for b := range 137 {
		a.Update(raws("v", 0, float64(b%7)/3, 0.01*float64(b)))
	}
	b := newNormalizer(t)
	if err := b.Restore(a.Snapshot()); err != nil {
		t.Fatal(err)
	}
	for k := range 30 {
		in := raws("v", 0, float64(k)/5)
		a.Update(in)
		b.Update(in)
		for _, s := range in {
			sa, ca := a.Normalize(s)
			sb, cb := b.Normalize(s)
			if sa != sb || ca != cb {
				t.Fatalf("restored normalizer diverged: %v %+v vs %v %+v", sa, ca, sb, cb)
			}
		}
	}
	if err := b.Restore(NormalizerState{UntilQuantileDecay: 0}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad state accepted: %v", err)
	}
}

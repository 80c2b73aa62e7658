package rare

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func newModel(t testing.TB, cfg Config) *Model {
	t.Helper()
	m, err := NewModel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func byValue(scores []Score) map[string]Score {
	out := make(map[string]Score, len(scores))
	for _, s := range scores {
		out[s.Value] = s
	}
	return out
}

func TestDecayPerBucket(t *testing.T) {
	tests := []struct {
		span time.Duration
		want float64
	}{
		{15 * time.Minute, math.Exp(-0.00025)},
		{30 * time.Minute, math.Exp(-0.0005)},
		{time.Hour, math.Exp(-0.0005)}, // capped at the standard bucket
		{5 * time.Minute, math.Exp(-0.0005 / 6)},
	}
	for _, tt := range tests {
		if got := DecayPerBucket(tt.span); math.Abs(got-tt.want) > 1e-16 {
			t.Errorf("DecayPerBucket(%v) = %.17g, want %.17g", tt.span, got, tt.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{DecayPerBucket: 0, MaximumAnomalousProbability: 0.035},
		{DecayPerBucket: 1.1, MaximumAnomalousProbability: 0.035},
		{DecayPerBucket: 1, MaximumAnomalousProbability: 0},
		{DecayPerBucket: 1, MaximumAnomalousProbability: 0.035, Probability: 7},
	}
	for _, c := range bad {
		if _, err := NewModel(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewModel(%+v) error = %v, want ErrInvalidConfig", c, err)
		}
	}
}

// ml-cpp adds a bucket's values, then decays the model once, then scores
// (lib/model/CEventRateModel.cc, sample: addSamples, then
// propagateForwardsByTime(1.0); computeProbability reads the decayed prior):
// a value never seen before has concentration exp(-0.00025) at 15 minutes.
func TestNeverSeenValueScoredAfterOneDecay(t *testing.T) {
	d := math.Exp(-0.00025)
	m := newModel(t, DefaultConfig(15*time.Minute))
	s := m.ScoreBucket([]string{"curl"})
	if len(s) != 1 || s[0].Concentration != d || !s[0].FirstOccurrence || s[0].Actual != 1 {
		t.Fatalf("first bucket = %+v", s)
	}
	s = m.ScoreBucket([]string{"curl", "wget"})
	got := byValue(s)
	if c := got["curl"]; c.FirstOccurrence || math.Abs(c.Concentration-(d+1)*d) > 1e-15 {
		t.Errorf("curl second bucket = %+v, want concentration (e^-0.00025 + 1) e^-0.00025", c)
	}
	if w := got["wget"]; !w.FirstOccurrence || w.Concentration != d {
		t.Errorf("wget = %+v", w)
	}
}

func TestScoreBucketOrderAndDuplicates(t *testing.T) {
	m := newModel(t, DefaultConfig(15*time.Minute))
	s := m.ScoreBucket([]string{"b", "a", "b", "c", "a"})
	var order []string
	for _, x := range s {
		order = append(order, x.Value)
		if x.Concentration != math.Exp(-0.00025) {
			t.Errorf("%s: concentration %v, want e^-0.00025 (one observation per bucket, decayed once)", x.Value, x.Concentration)
		}
	}
	if fmt.Sprint(order) != "[b a c]" {
		t.Errorf("order = %v, want [b a c]", order)
	}
	if m.Len() != 3 {
		t.Errorf("Len = %d", m.Len())
	}
	if m.ScoreBucket(nil) != nil {
		t.Errorf("empty bucket returned scores")
	}
}

// buildABC returns concentrations {a:3, b:3, c:1}, c added in the scored bucket.
func buildABC(t *testing.T, method ProbabilityMethod) map[string]Score {
	t.Helper()
	cfg := DefaultConfig(15 * time.Minute)
	cfg.DecayPerBucket = 1
	cfg.Probability = method
	m := newModel(t, cfg)
	m.ScoreBucket([]string{"a", "b"})
	m.ScoreBucket([]string{"a", "b"})
	return byValue(m.ScoreBucket([]string{"a", "b", "c"}))
}

func TestPointEstimateHandComputed(t *testing.T) {
	got := buildABC(t, ProbabilityPointEstimate)
	if c := got["c"]; math.Abs(c.Probability-1.0/7) > 1e-15 || c.Typical != c.Probability {
		t.Errorf("P(c) = %.17g, want 1/7", c.Probability)
	}
	if a := got["a"]; a.Probability != 1 || got["b"].Probability != 1 {
		t.Errorf("P(a) = %v, P(b) = %v, want 1", a.Probability, got["b"].Probability)
	}
	// Median concentration 3.
	if c := got["c"]; !c.FirstOccurrence || c.Concentration != 1 || math.Abs(c.RelativeRarity-3) > 1e-15 {
		t.Errorf("c = %+v, want first occurrence, concentration 1, relative rarity 3", c)
	}
	if a := got["a"]; a.FirstOccurrence || a.Concentration != 3 || a.RelativeRarity != 1 {
		t.Errorf("a = %+v, want relative rarity 1", a)
	}
	// 1/7 > 0.035: no raw score.
	if got["c"].RawScore != 0 {
		t.Errorf("raw score of c = %v", got["c"].RawScore)
	}
}

// With total concentration 7, ml-cpp averages over 7 samples of c's marginal
// Beta(1, 6); their values have closed forms.
func TestMarginalHandComputedSmallTotal(t *testing.T) {
	got := buildABC(t, ProbabilityMarginal)
	const b = 6.0
	quantile := func(q float64) float64 { return 1 - math.Pow(1-q, 1/b) }
	partial := func(x float64) float64 { return 1 - math.Pow(1-x, b)*(1+b*x) } // I_x(2, 6)
	// Mass of values less likely than x: sorted p = 1/7, 3/7, 3/7; cumulative 1/7, 1, 1.
	g := func(x float64) float64 {
		switch {
		case x <= 1.0/7:
			return x
		case x <= 3.0/7:
			return 1.0/7 + (x-1.0/7)/(2.0/7)*(6.0/7)
		default:
			return 1
		}
	}
	mean := 1 / 7.0
	var want, prev float64
	for i := 1; i <= 7; i++ {
		f := 1.0
		if i < 7 {
			f = partial(quantile(float64(i) / 7))
		}
		sample := mean * 7 * (f - prev)
		prev = f
		want += g(1.05*sample) / 7
	}
	if c := got["c"]; math.Abs(c.Probability-want) > 1e-12 {
		t.Errorf("P(c) = %.15g, want %.15g", c.Probability, want)
	}
	t.Logf("marginal P(c) = %.6g (point estimate 1/7 = %.6g)", got["c"].Probability, 1.0/7)
}

// Above total concentration 10000 ml-cpp uses the mean alone, still with the
// 1.05 tolerance: P = interpolated mass at 1.05 * p_i.
func TestMarginalHandComputedLargeTotal(t *testing.T) {
	m := newModel(t, DefaultConfig(15*time.Minute))
	if err := m.Restore(State{Scale: 1, Values: []ValueState{{"a", 6000}, {"b", 6000}, {"c", 100}}}); err != nil {
		t.Fatal(err)
	}
	c := m.ScoreBucket([]string{"c"})[0]
	total := 12101.0
	pc, pa := 101/total, 6000/total
	x := 1.05 * pc
	want := pc + (x-pc)/(pa-pc)*(1-pc)
	if math.Abs(c.Probability-want) > 1e-14 {
		t.Errorf("P(c) = %.17g, want %.17g", c.Probability, want)
	}
}

func TestDecayMatchesEagerMultiplication(t *testing.T) {
	for _, decay := range []float64{math.Exp(-0.00025), 0.5} { // 0.5 forces renormalisations
		t.Run(fmt.Sprint(decay), func(t *testing.T) {
			cfg := DefaultConfig(15 * time.Minute)
			cfg.DecayPerBucket = decay
			m := newModel(t, cfg)
			eager := map[string]float64{}
			rng := rand.New(rand.NewPCG(1, 2))
			names := []string{"a", "b", "c", "d", "e"}
			for range 10000 {
				// Advance stands for extra decays; ScoreBucket decays once after adding.
				extra := rng.IntN(3)
				m.Advance(extra)
				for k := range eager {
					for range extra {
						eager[k] *= decay
					}
				}
				var present []string
				for _, n := range names {
					if rng.IntN(4) == 0 {
						present = append(present, n)
						eager[n]++
					}
				}
				m.ScoreBucket(present)
				if len(present) > 0 {
					for k := range eager {
						eager[k] *= decay
					}
				}
			}
			for n, want := range eager {
				got, ok := m.Concentration(n)
				if !ok || (want != 0 && math.Abs(got-want) > 1e-12*want) || (want == 0 && got != 0) {
					t.Errorf("%s: lazy %.17g, eager %.17g", n, got, want)
				}
			}
		})
	}
}

func TestSnapshotRestoreBitExact(t *testing.T) {
	cfg := DefaultConfig(15 * time.Minute)
	a := newModel(t, cfg)
	rng := rand.New(rand.NewPCG(3, 4))
	bucket := func() []string {
		var v []string
		for i := range 50 {
			if rng.IntN(i+2) == 0 {
				v = append(v, fmt.Sprintf("p%d", i))
			}
		}
		return v
	}
	for range 300 {
		a.ScoreBucket(bucket())
	}
	b := newModel(t, cfg)
	if err := b.Restore(a.Snapshot()); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		in := bucket()
		sa, sb := a.ScoreBucket(in), b.ScoreBucket(in)
		if fmt.Sprintf("%v", sa) != fmt.Sprintf("%v", sb) {
			t.Fatalf("restored model diverged:\n%v\n%v", sa, sb)
		}
	}
	bad := []State{
		{Scale: 0},
		{Scale: 1, Values: []ValueState{{"b", 1}, {"a", 1}}},
		{Scale: 1, Values: []ValueState{{"a", -1}}},
	}
	for _, s := range bad {
		if err := b.Restore(s); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Restore(%+v) = %v, want ErrInvalidConfig", s, err)
		}
	}
}

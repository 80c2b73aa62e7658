package rare

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func newNormalizer(t testing.TB, span time.Duration) *Normalizer {
	t.Helper()
	n, err := NewNormalizer(DefaultNormalizerConfig(span))
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

// zeros returns k results of raw score 0 for distinct values.
func zeros(k int) []Score { return raws("z", make([]float64, k)...) }

// The constructor of CAnomalyScore::CNormalizer (lib/model/CAnomalyScore.cc):
// countPerSample = HOUR / clamp(2 * bucketLength, 5m, 1h); the digests decay
// at config.decayRate() = 0.0005 * min(1, span/30m)
// (CAnomalyDetectorModelConfig.cc, defaultConfig), the maximum scores at that
// times max(span/30m, 1). Before 8.4 the percentile was raised to
// 1/min(1, span/30m).
func TestNormalizerConfigFor(t *testing.T) {
	tests := []struct {
		span     time.Duration
		v        NormalizerVersion
		perS     int
		exponent float64
		qRate    float64
		maxRate  float64
	}{
		{time.Minute, Normalizer84, 12, 1, 0.0005 / 30, 0.0005 / 30},
		{5 * time.Minute, Normalizer84, 6, 1, 0.0005 / 6, 0.0005 / 6},
		{15 * time.Minute, Normalizer84, 2, 1, 0.00025, 0.00025},
		{time.Hour, Normalizer84, 1, 1, 0.0005, 0.001},
		{time.Minute, Normalizer7x, 1, 30, 0.0005 / 30, 0.0005 / 30},
		{15 * time.Minute, Normalizer7x, 1, 2, 0.00025, 0.00025},
	}
	for _, tt := range tests {
		c, err := NormalizerConfigFor(tt.span, tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if c.CountPerSample != tt.perS || math.Abs(c.PercentileExponent-tt.exponent) > 1e-12 ||
			math.Abs(c.QuantileDecayRate-tt.qRate) > 1e-18 || math.Abs(c.MaxScoreDecayRate-tt.maxRate) > 1e-18 ||
			c.NoisePercentile != 50 || c.NoiseMultiplier != 1 {
			t.Errorf("%v %v: config = %+v", tt.span, tt.v, c)
		}
	}
	c := DefaultNormalizerConfig(15 * time.Minute)
	c.Knots = []Knot{{0, 0}, {50, 60}, {40, 70}, {100, 100}}
	if _, err := NewNormalizer(c); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("unsorted knots accepted: %v", err)
	}
	for s, want := range map[string]NormalizerVersion{"": Normalizer84, "8.4": Normalizer84, "7.x": Normalizer7x, "7": Normalizer7x} {
		if v, err := ParseNormalizerVersion(s); err != nil || v != want {
			t.Errorf("ParseNormalizerVersion(%q) = %v, %v", s, v, err)
		}
	}
	if _, err := ParseNormalizerVersion("6.5"); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ParseNormalizerVersion(6.5) = %v", err)
	}
}

func TestKnotScore(t *testing.T) {
	n := newNormalizer(t, 15*time.Minute)
	for pct, want := range map[float64]float64{0: 0, 35: 0.5, 70: 1, 77.5: 1.1, 90: 1.5, 98: 35, 99.95: 95, 100: 100} {
		if got := n.knotScore(pct); math.Abs(got-want) > 1e-12 {
			t.Errorf("knotScore(%v) = %v, want %v", pct, got, want)
		}
	}
}

// Nothing is normalised before the first sample: at 15 minutes the first
// result alone leaves the digest empty (CNormalizer::normalize: n() == 0
// gives 0).
func TestNormalizeZeroAndEmpty(t *testing.T) {
	n := newNormalizer(t, 15*time.Minute)
	if s, _ := n.Normalize(Score{RawScore: 1}); s != 0 {
		t.Errorf("empty history gave %v", s)
	}
	n.Update([]Score{{Value: "v", RawScore: 1}})
	if s, _ := n.Normalize(Score{Value: "v", RawScore: 1}); s != 0 || n.Count() != 0 {
		t.Errorf("one result at 15m: score %v with %d samples, want 0 and 0", s, n.Count())
	}
	n.Update(raws("v", 0, 0, 1))
	if s, c := n.Normalize(Score{Value: "v0", RawScore: 0}); s != 0 || c != (Ceilings{}) {
		t.Errorf("zero raw gave %v %+v", s, c)
	}
	if n.Count() != 2 {
		t.Errorf("4 results at 2 per sample: %d samples, want 2", n.Count())
	}
}

// The quantiles take the largest raw score of every countPerSample results,
// counting results, not buckets (CNormalizer::updateQuantiles, m_Sample and
// m_CountSinceLastSample).
func TestSamplingKeepsTheLargestOfEachCountPerSample(t *testing.T) {
	n := newNormalizer(t, time.Minute)                         // 12 results per sample
	n.Update(raws("a", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1)) // sample 3; 1 pending
	n.Update(raws("b", 0, 0, 0, 0, 0))                         // 6 pending, largest 1
	n.Update(raws("c", 0, 0, 0, 0, 0, 0, 2, 0))                // sample 1 (not 2: it is the 13th)...
	// ...then 2 results pending, the largest 2.
	got := n.low.summary()
	want := []qSummaryEntry{{x: 1000, count: 1}, {x: 3000, count: 2}}
	if !reflect.DeepEqual(got, want) || n.sinceSample != 2 || n.sample != 2 {
		t.Errorf("digest %v, pending %d (largest %v); want %v, 2 pending (largest 2)", got, n.sinceSample, n.sample, want)
	}
}

// The digests decay when time / countPerSample has accumulated to 20
// (CNormalizer::propagateForwardByTime): every 40 buckets with results at 15
// minutes, every 20 before 8.4. Each count c becomes floor(c e^-rate + 0.5),
// at least 1 (CQDigest CNode::age), so counts below 1/(2 rate) never move.
func TestQuantileDecayCadence(t *testing.T) {
	for _, tt := range []struct {
		v     NormalizerVersion
		every int
	}{{Normalizer84, 40}, {Normalizer7x, 20}} {
		t.Run(tt.v.String(), func(t *testing.T) {
			cfg, _ := NormalizerConfigFor(15*time.Minute, tt.v)
			n, err := NewNormalizer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			perSample := cfg.CountPerSample
			n.Update(zeros(3000 * perSample)) // bucket 1: 3000 samples of 0
			for b := 2; b < tt.every; b++ {
				n.Update(zeros(perSample))
				n.Update(nil) // an empty bucket ages nothing
			}
			if want := uint64(3000 + tt.every - 2); n.Count() != want {
				t.Fatalf("before the decay: %d samples, want %d", n.Count(), want)
			}
			before := n.Count()
			n.Update(zeros(perSample))
			want := uint64(math.Max(float64(before)*math.Exp(-0.00025)+0.5, 1)) + 1
			if n.Count() != want {
				t.Errorf("after the decay: %d samples, want floor(%d e^-0.00025 + 0.5) + 1 = %d", n.Count(), before, want)
			}
			t.Logf("%d samples decayed to %d", before, want-1)
		})
	}
}

// CMaxScore: each value's maximum ages by exp(-2 * rate) per bucket with
// results and is forgotten once more than 50 such buckets pass without a
// score (FORGET_MAX_SCORE_INTERVAL); empty buckets age nothing.
func TestRatioCeilingAgesAndForgets(t *testing.T) {
	n := newNormalizer(t, time.Hour) // one result per sample
	n.Update([]Score{{Value: "v", RawScore: 4}})
	if _, c := n.Normalize(Score{Value: "v", RawScore: 4}); c.Ratio != 100 {
		t.Errorf("own maximum: ratio ceiling %v, want 100", c.Ratio)
	}
	n.Update(nil)
	n.Update([]Score{{Value: "v", RawScore: 2}})
	// One bucket with results since: r = 2 / (4 e^-0.002).
	r := 2 / (4 * math.Exp(-2*0.001))
	if _, c := n.Normalize(Score{Value: "v", RawScore: 2}); math.Abs(c.Ratio-100*math.Min(1.5*r, 0.5+0.5*r)) > 1e-12 {
		t.Errorf("ratio ceiling %v, want %v", c.Ratio, 100*math.Min(1.5*r, 0.5+0.5*r))
	}
	for range 50 {
		n.Update([]Score{{Value: "other", RawScore: 0}})
	}
	if _, ok := n.maxScores["v"]; !ok {
		t.Errorf("maximum forgotten after 50 buckets, want kept")
	}
	n.Update([]Score{{Value: "other", RawScore: 0}})
	if _, ok := n.maxScores["v"]; ok {
		t.Errorf("maximum kept after 51 buckets, want forgotten")
	}
	n.Update([]Score{{Value: "v", RawScore: 1}})
	if _, c := n.Normalize(Score{Value: "v", RawScore: 1}); c.Ratio != 100 {
		t.Errorf("forgotten maximum: ratio ceiling %v, want 100", c.Ratio)
	}
}

func TestNoiseCeiling(t *testing.T) {
	n := newNormalizer(t, time.Hour)
	// Mostly zeros: the noise ceiling lifts out of the minimum.
	n.Update(raws("z", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5))
	if _, c := n.Normalize(Score{Value: "z9", RawScore: 0.5}); c.Noise < 100 {
		t.Errorf("mostly zero history: noise ceiling %v, want >= 100", c.Noise)
	}
	// All scores 1: median 1, raw 2 is 10 above it (1000 discrete units * 10/1000).
	n = newNormalizer(t, time.Hour)
	for range 10 {
		n.Update(raws("o", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1))
	}
	n.Update([]Score{{Value: "x", RawScore: 2}})
	if _, c := n.Normalize(Score{Value: "x", RawScore: 2}); math.Abs(c.Noise-11) > 1e-12 {
		t.Errorf("noise ceiling = %v, want 11", c.Noise)
	}
}

// The largest score ever seen lands in the top knots; one in the middle of
// the history does not.
func TestQuantileCeiling(t *testing.T) {
	n := newNormalizer(t, time.Hour)
	// 0, 0.01, ..., 9.99 in a random order; 9.99 comes last.
	all := rand.New(rand.NewPCG(11, 12)).Perm(999)
	for b := range 100 {
		rs := make([]float64, 10)
		for i := range rs {
			if k := b*10 + i; k < len(all) {
				rs[i] = float64(all[k]) / 100
			} else {
				rs[i] = 9.99
			}
		}
		n.Update(raws("q", rs...))
	}
	_, top := n.Normalize(Score{Value: "q9", RawScore: 9.99})
	_, mid := n.Normalize(Score{Value: "q0", RawScore: 5})
	t.Logf("top: %+v; middle: %+v", top, mid)
	if top.Quantile < 80 || mid.Quantile > 1.5 || mid.Percentile > 60 {
		t.Errorf("quantile ceilings top %v, middle %v", top.Quantile, mid.Quantile)
	}
}

// history feeds a normaliser buckets of varied results: mostly zeros, some
// scores, now and then a large one, and some empty buckets.
func history(n *Normalizer, rng *rand.Rand, buckets int) {
	for b := range buckets {
		if rng.IntN(7) == 0 {
			n.Update(nil)
			continue
		}
		rs := make([]float64, 3+rng.IntN(20))
		for i := range rs {
			switch rng.IntN(10) {
			case 0, 1:
				rs[i] = rng.Float64() * 3
			case 2:
				rs[i] = rng.Float64() * 60
			}
		}
		n.Update(raws(fmt.Sprintf("v%d-", b%13), rs...))
	}
}

// A restored normaliser, through JSON as the scorer checkpoints it, scores
// bit for bit as the one that wrote it, across digest compressions, high
// percentile refreshes and decays.
func TestNormalizerSnapshotRestore(t *testing.T) {
	for _, v := range []NormalizerVersion{Normalizer84, Normalizer7x} {
		t.Run(v.String(), func(t *testing.T) {
			cfg, _ := NormalizerConfigFor(15*time.Minute, v)
			a, _ := NewNormalizer(cfg)
			rng := rand.New(rand.NewPCG(7, 8))
			history(a, rng, 3000)
			if a.Count() < 5*digestK || a.high.n == 0 || len(a.low.nodes) > 3*digestK+2 {
				t.Fatalf("history too small to test: %d samples, high digest %d, %d nodes", a.Count(), a.high.n, len(a.low.nodes))
			}
			js, err := json.Marshal(a.Snapshot())
			if err != nil {
				t.Fatal(err)
			}
			var st NormalizerState
			if err := json.Unmarshal(js, &st); err != nil {
				t.Fatal(err)
			}
			b, _ := NewNormalizer(cfg)
			if err := b.Restore(st); err != nil {
				t.Fatal(err)
			}
			ra, rb := rand.New(rand.NewPCG(9, 10)), rand.New(rand.NewPCG(9, 10))
			for k := range 500 {
				history(a, ra, 1)
				history(b, rb, 1)
				for _, raw := range []float64{0.001, 0.5, 2, 30, 99} {
					s := Score{Value: fmt.Sprintf("v%d-1", k%13), RawScore: raw}
					sa, ca := a.Normalize(s)
					sb, cb := b.Normalize(s)
					if sa != sb || ca != cb {
						t.Fatalf("restored normaliser diverged at %d: %v %+v vs %v %+v", k, sa, ca, sb, cb)
					}
				}
			}
			if !reflect.DeepEqual(a.Snapshot(), b.Snapshot()) {
				t.Errorf("states differ after the same input")
			}
		})
	}
}

func TestNormalizerRestoreRejects(t *testing.T) {
	good := newNormalizer(t, 15*time.Minute)
	history(good, rand.New(rand.NewPCG(1, 1)), 300)
	bad := map[string]func(*NormalizerState){
		"newer version":   func(s *NormalizerState) { s.Version = NormalizerStateVersion + 1 },
		"count mismatch":  func(s *NormalizerState) { s.Low.N++ },
		"no root":         func(s *NormalizerState) { s.High.Nodes = nil },
		"not dyadic":      func(s *NormalizerState) { s.Low.Nodes[0].Max += 2 },
		"out of order":    func(s *NormalizerState) { s.Low.Nodes[0], s.Low.Nodes[1] = s.Low.Nodes[1], s.Low.Nodes[0] },
		"pending samples": func(s *NormalizerState) { s.SinceSample = 2 },
		"decay time":      func(s *NormalizerState) { s.UntilQuantileDecay = 0 },
		"max score":       func(s *NormalizerState) { s.MaxScores = []MaxScore{{Value: "a", Score: -1}} },
	}
	for name, breakIt := range bad {
		t.Run(name, func(t *testing.T) {
			s := good.Snapshot()
			s.Low.Nodes = append([]DigestNode(nil), s.Low.Nodes...)
			breakIt(&s)
			n := newNormalizer(t, 15*time.Minute)
			err := n.Restore(s)
			if !errors.Is(err, ErrInvalidConfig) && !errors.Is(err, ErrStateVersion) {
				t.Errorf("Restore = %v, want ErrInvalidConfig or ErrStateVersion", err)
			}
			if n.Count() != 0 {
				t.Errorf("a rejected state changed the normaliser")
			}
		})
	}
}

// A checkpoint of rarenet's earlier normaliser (an exact histogram of every
// raw score, no version) is migrated, not mis-read: its maximum scores are
// aged to its last bucket and the quantiles restart, as ml-cpp restarts
// quantiles it cannot upgrade (CAnomalyScore::normalizerFromJson).
func TestNormalizerRestoresLegacyState(t *testing.T) {
	const old = `{"Bins":[{"Discrete":0,"Weight":120.5},{"Discrete":2500,"Weight":1}],
		"MaxScores":[{"Value":"nc","Score":2.5,"Bucket":90},{"Value":"old","Score":1,"Bucket":10}],
		"Bucket":100,"UntilQuantileDecay":7}`
	var s NormalizerState
	if err := json.Unmarshal([]byte(old), &s); err != nil {
		t.Fatal(err)
	}
	if !s.Legacy() {
		t.Fatalf("old state not recognised: %+v", s)
	}
	n := newNormalizer(t, 15*time.Minute)
	if err := n.Restore(s); err != nil {
		t.Fatal(err)
	}
	if n.Count() != 0 || n.untilDecay != quantileDecayTime {
		t.Errorf("quantiles not restarted: %d samples, %v to decay", n.Count(), n.untilDecay)
	}
	want := 2.5 * math.Pow(math.Exp(-2*0.00025), 10)
	if m := n.maxScores["nc"]; m == nil || math.Abs(m.score-want) > 1e-15 || m.since != 10 {
		t.Errorf("nc's maximum = %+v, want %v 10 buckets ago", m, want)
	}
	if _, ok := n.maxScores["old"]; ok {
		t.Errorf("a maximum 90 buckets old was kept")
	}
	if (NormalizerState{}).Legacy() || newNormalizer(t, time.Minute).Snapshot().Legacy() {
		t.Errorf("an empty or current state taken for a legacy one")
	}
}

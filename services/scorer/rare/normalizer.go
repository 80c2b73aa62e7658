package rare

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Constants of ml-cpp's score normalisation: include/model/CAnomalyScore.h
// (DISCRETIZATION_FACTOR, QUANTILE_DECAY_TIME, FORGET_MAX_SCORE_INTERVAL, the
// 100 ceiling), lib/model/CAnomalyScore.cc (CONFIDENCE_INTERVAL) and
// lib/model/CAnomalyDetectorModelConfig.cc (noise percentile and multiplier,
// knot points).
const (
	// DefaultNoisePercentile is DEFAULT_NOISE_PERCENTILE.
	DefaultNoisePercentile = 50.0
	// DefaultNoiseMultiplier is DEFAULT_NOISE_MULTIPLIER.
	DefaultNoiseMultiplier = 1.0
	// MaxRecordScore is the largest normalised score.
	MaxRecordScore = 100.0

	// discretisationFactor turns raw scores into integers: round(1000 * raw).
	discretisationFactor = 1000.0
	// quantileDecayInterval is how many buckets pass between two decays of
	// the score histogram.
	quantileDecayInterval = 20
	// forgetMaxScoreAfter is how many buckets a value's maximum raw score is
	// kept without a new score.
	forgetMaxScoreAfter = 50
	// quantileConfidence is the central interval, in percent, of the
	// percentile's posterior whose ends are averaged.
	quantileConfidence = 70.0
)

// Knot is a point of the piecewise linear map from a raw score's percentile
// to the quantile ceiling.
type Knot struct {
	// Percentile is in [0, 100].
	Percentile float64
	// Score is the ceiling at that percentile, in [0, 100].
	Score float64
}

// DefaultKnots returns DEFAULT_NORMALIZED_SCORE_KNOT_POINTS.
func DefaultKnots() []Knot {
	return []Knot{{0, 0}, {70, 1}, {85, 1.2}, {90, 1.5}, {95, 3}, {97, 20}, {99, 50}, {99.9, 90}, {100, 100}}
}

// NormalizerConfig holds the parameters of a Normalizer.
type NormalizerConfig struct {
	// NoisePercentile is the percentile of past raw scores taken as noise.
	NoisePercentile float64
	// NoiseMultiplier scales the signal above the noise score.
	NoiseMultiplier float64
	// Knots maps percentiles to the quantile ceiling; sorted, from (0, 0) to
	// (100, 100).
	Knots []Knot
	// BucketNormalizationFactor is min(1, bucket span / 30m). A percentile F
	// over buckets is turned into one over 30 minutes as F^(1/factor).
	BucketNormalizationFactor float64
	// QuantileDecay multiplies the weights of past raw scores every 20 buckets.
	QuantileDecay float64
	// MaxScoreDecayPerBucket multiplies each value's maximum raw score per bucket.
	MaxScoreDecayPerBucket float64
}

// DefaultNormalizerConfig returns ml-cpp's defaults for the bucket span: for
// 15m buckets the factor is 0.5, past scores lose exp(-0.00025) every 20
// buckets and maximum scores exp(-0.0005) per bucket
// (CAnomalyScore::CNormalizer's constructor and propagateForwardByTime).
func DefaultNormalizerConfig(bucketSpan time.Duration) NormalizerConfig {
	factor := bucketNormalizationFactor(bucketSpan)
	decayRate := DefaultDecayRate * factor
	maxScoreDecayRate := decayRate * math.Max(bucketSpan.Seconds()/StandardBucketSpan.Seconds(), 1)
	return NormalizerConfig{
		NoisePercentile:           DefaultNoisePercentile,
		NoiseMultiplier:           DefaultNoiseMultiplier,
		Knots:                     DefaultKnots(),
		BucketNormalizationFactor: factor,
		QuantileDecay:             math.Exp(-decayRate),
		MaxScoreDecayPerBucket:    math.Exp(-2 * maxScoreDecayRate),
	}
}

// Validate reports whether the configuration is usable.
func (c NormalizerConfig) Validate() error {
	switch {
	case !(c.NoisePercentile >= 0 && c.NoisePercentile <= 100):
		return fmt.Errorf("%w: NoisePercentile %v not in [0, 100]", ErrInvalidConfig, c.NoisePercentile)
	case !(c.NoiseMultiplier > 0):
		return fmt.Errorf("%w: NoiseMultiplier %v not positive", ErrInvalidConfig, c.NoiseMultiplier)
	case !(c.BucketNormalizationFactor > 0 && c.BucketNormalizationFactor <= 1):
		return fmt.Errorf("%w: BucketNormalizationFactor %v not in (0, 1]", ErrInvalidConfig, c.BucketNormalizationFactor)
	case !(c.QuantileDecay > 0 && c.QuantileDecay <= 1):
		return fmt.Errorf("%w: QuantileDecay %v not in (0, 1]", ErrInvalidConfig, c.QuantileDecay)
	case !(c.MaxScoreDecayPerBucket > 0 && c.MaxScoreDecayPerBucket <= 1):
		return fmt.Errorf("%w: MaxScoreDecayPerBucket %v not in (0, 1]", ErrInvalidConfig, c.MaxScoreDecayPerBucket)
	case len(c.Knots) < 2 || c.Knots[0] != (Knot{0, 0}) || c.Knots[len(c.Knots)-1] != (Knot{100, 100}):
		return fmt.Errorf("%w: knots must run from (0, 0) to (100, 100)", ErrInvalidConfig)
	}
	for k := 1; k < len(c.Knots); k++ {
		if !(c.Knots[k].Percentile > c.Knots[k-1].Percentile && c.Knots[k].Score >= c.Knots[k-1].Score) {
			return fmt.Errorf("%w: knots not increasing at %v", ErrInvalidConfig, c.Knots[k])
		}
	}
	return nil
}

// Ceilings are the four upper bounds whose minimum is the record score, so a
// signal can say which one decided it.
type Ceilings struct {
	// Noise grows with the raw score's distance above the noise percentile
	// of past raw scores, and is lifted by 100 once at least half of them
	// are 0.
	Noise float64
	// Quantile maps the raw score's percentile among past raw scores
	// through the knots.
	Quantile float64
	// Ratio is 100 * min(1.5r, 0.5 + 0.5r), r the raw score over the largest
	// recent raw score of the same value; 100 when there is none.
	Ratio float64
	// Probability caps moderately unlikely records:
	// 100 * (0.95 * (ln P - ln 0.05) / (ln 1e-4 - ln 0.05) + 0.05).
	Probability float64
	// Percentile is the raw score's percentile among past raw scores
	// (per 30 minutes), the mean of the two ends of its 70% interval.
	Percentile float64
}

// Binding names the smallest ceiling: "noise", "quantile", "ratio" or
// "probability".
func (c Ceilings) Binding() string {
	name, v := "noise", c.Noise
	if c.Quantile < v {
		name, v = "quantile", c.Quantile
	}
	if c.Ratio < v {
		name, v = "ratio", c.Ratio
	}
	if c.Probability < v {
		name = "probability"
	}
	return name
}

// ProbabilityCeiling is the probability cap on the record score for a
// record of probability p (CAnomalyScore.cc, CNormalizer::normalize, the
// fourth ceiling), clamped to [0, 100].
func ProbabilityCeiling(p float64) float64 {
	m := (RawScore(SmallProbability) - RawScore(LargestSignificantProbability)) /
		(math.Log(SmallProbability) - math.Log(LargestSignificantProbability))
	c := MaxRecordScore * (0.95*m*(math.Log(p)-math.Log(LargestSignificantProbability)) + 0.05)
	return math.Min(math.Max(c, 0), MaxRecordScore)
}

// scoreBin is the decayed weight of past raw scores with one discrete value.
type scoreBin struct {
	discrete uint32
	weight   float64
}

// valueMax is a value's largest raw score as of a bucket.
type valueMax struct {
	score  float64
	bucket int64
}

// Normalizer turns raw scores into record scores (0-100) relative to the
// history of raw scores, as ml-cpp's CAnomalyScore::CNormalizer does for the
// records of one detector. It is not safe for concurrent use.
type Normalizer struct {
	cfg NormalizerConfig

	bins []scoreBin // sorted by discrete
	// prefix[k] is the weight of bins[0..k] and total all of it, recomputed
	// in bin order when dirty so a restored normalizer matches bit for bit.
	prefix []float64
	total  float64
	dirty  bool

	maxScores  map[string]valueMax
	bucket     int64
	untilDecay int
}

// NewNormalizer returns a normalizer with no history.
func NewNormalizer(cfg NormalizerConfig) (*Normalizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Knots = slices.Clone(cfg.Knots)
	return &Normalizer{
		cfg:        cfg,
		maxScores:  make(map[string]valueMax),
		untilDecay: quantileDecayInterval,
	}, nil
}

// Count returns the decayed number of raw scores in the history.
func (n *Normalizer) Count() float64 {
	n.prefixSums()
	return n.total
}

// Advance records that k buckets elapsed without adding scores; Update calls
// it for its own bucket.
func (n *Normalizer) Advance(k int) {
	if k <= 0 {
		return
	}
	n.bucket += int64(k)
	decays := 0
	n.untilDecay -= k
	for n.untilDecay <= 0 {
		decays++
		n.untilDecay += quantileDecayInterval
	}
	if decays > 0 && n.cfg.QuantileDecay != 1 {
		f := math.Pow(n.cfg.QuantileDecay, float64(decays))
		for i := range n.bins {
			n.bins[i].weight *= f
		}
		n.dirty = true
	}
	// Dropping forgotten maxima keeps the map to the values seen lately.
	if n.bucket%forgetMaxScoreAfter == 0 {
		for v, m := range n.maxScores {
			if n.bucket-m.bucket > forgetMaxScoreAfter {
				delete(n.maxScores, v)
			}
		}
	}
}

// Update closes one bucket: it ages the history by one bucket, then adds the
// raw score of every value scored in it (zeros included, as ml-cpp adds every
// result) and updates each value's maximum. Call it once per bucket, with nil
// for an empty bucket, and before Normalize for the same bucket: ml-cpp
// updates the quantiles with a bucket's scores before normalising them
// (lib/api/CAnomalyJob.cc, updateNormalizerAndNormalizeResults).
func (n *Normalizer) Update(scores []Score) {
	n.Advance(1)
	for _, s := range scores {
		n.add(discreteScore(s.RawScore), 1)
		m, ok := n.aged(s.Value)
		if !ok || s.RawScore > m {
			m = s.RawScore
		}
		n.maxScores[s.Value] = valueMax{score: m, bucket: n.bucket}
	}
}

// aged returns the value's maximum raw score decayed to the current bucket,
// and false if it has none or it was forgotten.
func (n *Normalizer) aged(value string) (float64, bool) {
	m, ok := n.maxScores[value]
	if !ok || n.bucket-m.bucket > forgetMaxScoreAfter {
		return 0, false
	}
	return m.score * math.Pow(n.cfg.MaxScoreDecayPerBucket, float64(n.bucket-m.bucket)), true
}

func (n *Normalizer) add(d uint32, w float64) {
	k := sort.Search(len(n.bins), func(i int) bool { return n.bins[i].discrete >= d })
	if k < len(n.bins) && n.bins[k].discrete == d {
		n.bins[k].weight += w
	} else {
		n.bins = slices.Insert(n.bins, k, scoreBin{discrete: d, weight: w})
	}
	n.dirty = true
}

func discreteScore(raw float64) uint32 {
	return uint32(discretisationFactor*math.Min(math.Max(raw, 0), maxRawScore) + 0.5)
}

func (n *Normalizer) prefixSums() []float64 {
	if n.dirty || len(n.prefix) != len(n.bins) {
		n.prefix = slices.Grow(n.prefix[:0], len(n.bins))[:len(n.bins)]
		var run float64
		for k, b := range n.bins {
			run += b.weight
			n.prefix[k] = run
		}
		n.total = run
		n.dirty = false
	}
	return n.prefix
}

// weightBelow returns the weight of past scores with a discrete value below d.
func (n *Normalizer) weightBelow(d uint32) float64 {
	prefix := n.prefixSums()
	k := sort.Search(len(n.bins), func(i int) bool { return n.bins[i].discrete >= d })
	if k == 0 {
		return 0
	}
	return prefix[k-1]
}

// quantile returns the smallest discrete score whose cumulative weight
// reaches q of the total.
func (n *Normalizer) quantile(q float64) uint32 {
	prefix := n.prefixSums()
	target := q * n.total
	k := sort.Search(len(prefix), func(i int) bool { return prefix[i] >= target })
	return n.bins[min(k, len(n.bins)-1)].discrete
}

// Normalize returns the record score of s, a result of the bucket last passed
// to Update, and the ceilings it is the minimum of. A zero raw score, or an
// empty history, gives 0.
func (n *Normalizer) Normalize(s Score) (float64, Ceilings) {
	raw := s.RawScore
	if !(raw > 0) || n.Count() <= 0 {
		return 0, Ceilings{}
	}
	d := discreteScore(raw)
	c := Ceilings{
		Noise:       n.noiseCeiling(d),
		Ratio:       MaxRecordScore,
		Probability: ProbabilityCeiling(InverseRawScore(raw)),
	}
	c.Quantile, c.Percentile = n.quantileCeiling(d)
	if m, ok := n.aged(s.Value); ok && m > 0 {
		r := raw / m
		c.Ratio = MaxRecordScore * math.Min(1.5*r, 0.5+0.5*r)
	}
	score := math.Min(math.Min(c.Noise, c.Quantile), math.Min(c.Ratio, c.Probability))
	return math.Min(math.Max(score, 0), MaxRecordScore), c
}

// noiseCeiling is knot(noise percentile) * max(1 + signal, 0), signal being
// the noise multiplier times 10 times the raw score's excess over the noise
// percentile score, plus 100 * clamp(2 * min(F(0) * 100 / noise percentile, 1) - 1, 0, 1)
// so that the ceiling vanishes from the minimum once most scores are 0.
func (n *Normalizer) noiseCeiling(d uint32) float64 {
	np := n.cfg.NoisePercentile
	noise := n.quantile(np / 100)
	k := sort.Search(len(n.cfg.Knots), func(i int) bool { return n.cfg.Knots[i].Percentile >= np })
	knot := n.cfg.Knots[min(k, len(n.cfg.Knots)-1)].Score
	signal := n.cfg.NoiseMultiplier * 10 / discretisationFactor * (float64(d) - float64(noise))
	f0 := 0.0
	if n.bins[0].discrete == 0 {
		f0 = n.bins[0].weight / n.total
	}
	lift := 1.0
	if np > 0 {
		lift = math.Min(100*f0/np, 1)
	}
	return knot*math.Max(1+signal, 0) + MaxRecordScore*math.Max(2*lift-1, 0)
}

// quantileCeiling maps the two ends of the 70% interval of the raw score's
// percentile through the knots and averages them.
func (n *Normalizer) quantileCeiling(d uint32) (ceiling, percentile float64) {
	below := n.weightBelow(d) / n.total
	lower := cdfQuantile(n.total, below, (100-quantileConfidence)/200)
	upper := cdfQuantile(n.total, below, (100+quantileConfidence)/200)
	toPercentile := func(f float64) float64 {
		return math.Min(math.Max(100*math.Pow(f, 1/n.cfg.BucketNormalizationFactor), 0), 100)
	}
	lp, up := toPercentile(lower), toPercentile(upper)
	if lp > up {
		lp, up = up, lp
	}
	return (n.knotScore(lp) + n.knotScore(up)) / 2, (lp + up) / 2
}

func (n *Normalizer) knotScore(pct float64) float64 {
	knots := n.cfg.Knots
	k := max(sort.Search(len(knots), func(i int) bool { return knots[i].Percentile >= pct }), 1)
	if k >= len(knots) {
		return MaxRecordScore
	}
	l, r := knots[k-1], knots[k]
	return l.Score + (r.Score-l.Score)*(pct-l.Percentile)/(r.Percentile-l.Percentile)
}

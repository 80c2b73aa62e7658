package rare

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Constants of ml-cpp's score normalisation: include/model/CAnomalyScore.h
// (DISCRETIZATION_FACTOR, HIGH_PERCENTILE, QUANTILE_DECAY_TIME,
// FORGET_MAX_SCORE_INTERVAL, the 100 ceiling), lib/model/CAnomalyScore.cc (the
// 70% confidence interval, the q-digests' k of 201) and
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
	// highPercentile is the percentile above which raw scores also go to the
	// second, finer digest.
	highPercentile = 90.0
	// quantileDecayTime is how much time, in buckets per sample, passes
	// between two decays of the digests.
	quantileDecayTime = 20.0
	// forgetMaxScoreInterval is how many buckets with results a value's
	// maximum raw score is kept without a new score.
	forgetMaxScoreInterval = 50.0
	// quantileConfidence is the central interval, in percent, of the
	// percentile's posterior whose ends are averaged.
	quantileConfidence = 70.0
	// digestK is the q-digests' size parameter.
	digestK = 201
	// quantileLowerQ and quantileUpperQ are the ends of that interval:
	// (100 -+ 70) / 200.
	quantileLowerQ = (100 - quantileConfidence) / 200
	quantileUpperQ = (100 + quantileConfidence) / 200
)

// NormalizerVersion selects which ml-cpp normaliser a Normalizer follows.
type NormalizerVersion int

const (
	// Normalizer84 is ml-cpp 8.4 and later (PR #2285): the quantiles take the
	// largest raw score of every countPerSample results, and percentiles are
	// read as they are. The default.
	Normalizer84 NormalizerVersion = iota
	// Normalizer7x is ml-cpp before 8.4 (7.x to 8.3): every raw score enters
	// the quantiles, which decay every 20 buckets, and a percentile F is
	// reported as F^(1/min(1, span/30m)), a percentile per 30 minutes.
	Normalizer7x
)

// String returns the name ParseNormalizerVersion accepts.
func (v NormalizerVersion) String() string {
	switch v {
	case Normalizer84:
		return "8.4"
	case Normalizer7x:
		return "7.x"
	default:
		return fmt.Sprintf("NormalizerVersion(%d)", int(v))
	}
}

// ParseNormalizerVersion reads "8.4" (or "current", "") and "7.x" (or "7").
func ParseNormalizerVersion(s string) (NormalizerVersion, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "8.4", "8", "current":
		return Normalizer84, nil
	case "7.x", "7", "7x":
		return Normalizer7x, nil
	}
	return 0, fmt.Errorf("%w: normaliser %q: want 8.4 (ml-cpp 8.4 and later) or 7.x (before 8.4)", ErrInvalidConfig, s)
}

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
	// CountPerSample is how many results the quantiles take one raw score
	// from, the largest: HOUR / clamp(2 * span, 5m, 1h) since ml-cpp 8.4 (12
	// for 1m buckets, 2 for 15m), 1 before. It also slows the digests' decay
	// (every 20 * CountPerSample buckets).
	CountPerSample int
	// PercentileExponent raises a percentile read from the quantiles (as a
	// fraction) to this power: 1 since ml-cpp 8.4, 1/min(1, span/30m) before.
	PercentileExponent float64
	// QuantileDecayRate is the digests' decay rate: their counts are
	// multiplied by exp(-rate) and rounded each time they age
	// (0.0005 * min(1, span/30m)).
	QuantileDecayRate float64
	// MaxScoreDecayRate ages each value's maximum raw score by
	// exp(-2 * rate) per bucket with results
	// (0.0005 * min(1, span/30m) * max(1, span/30m)).
	MaxScoreDecayRate float64

	// noHighDigest leaves the second, 90th-percentile digest out; only to
	// measure what it changes.
	noHighDigest bool
}

// DefaultNormalizerConfig returns ml-cpp 8.4's normaliser for the bucket
// span (CAnomalyScore::CNormalizer's constructor).
func DefaultNormalizerConfig(bucketSpan time.Duration) NormalizerConfig {
	c, _ := NormalizerConfigFor(bucketSpan, Normalizer84)
	return c
}

// NormalizerConfigFor returns the normaliser of ml-cpp version v for the
// bucket span.
func NormalizerConfigFor(bucketSpan time.Duration, v NormalizerVersion) (NormalizerConfig, error) {
	factor := bucketNormalizationFactor(bucketSpan)
	decayRate := DefaultDecayRate * factor
	c := NormalizerConfig{
		NoisePercentile:    DefaultNoisePercentile,
		NoiseMultiplier:    DefaultNoiseMultiplier,
		Knots:              DefaultKnots(),
		CountPerSample:     countPerSample(bucketSpan),
		PercentileExponent: 1,
		QuantileDecayRate:  decayRate,
		MaxScoreDecayRate:  decayRate * math.Max(bucketSpan.Seconds()/StandardBucketSpan.Seconds(), 1),
	}
	switch v {
	case Normalizer84:
	case Normalizer7x:
		c.CountPerSample, c.PercentileExponent = 1, 1/factor
	default:
		return NormalizerConfig{}, fmt.Errorf("%w: unknown %v", ErrInvalidConfig, v)
	}
	return c, nil
}

// countPerSample is HOUR / clamp(2 * span, 5m, 1h) in whole seconds, as
// ml-cpp divides integer times (CNormalizer's constructor).
func countPerSample(bucketSpan time.Duration) int {
	span := int64(bucketSpan / time.Second)
	return int(3600 / min(max(2*span, 300), 3600))
}

// Validate reports whether the configuration is usable.
func (c NormalizerConfig) Validate() error {
	switch {
	case !(c.NoisePercentile >= 0 && c.NoisePercentile <= 100):
		return fmt.Errorf("%w: NoisePercentile %v not in [0, 100]", ErrInvalidConfig, c.NoisePercentile)
	case !(c.NoiseMultiplier > 0):
		return fmt.Errorf("%w: NoiseMultiplier %v not positive", ErrInvalidConfig, c.NoiseMultiplier)
	case c.CountPerSample < 1:
		return fmt.Errorf("%w: CountPerSample %d not positive", ErrInvalidConfig, c.CountPerSample)
	case !(c.PercentileExponent >= 1) || math.IsInf(c.PercentileExponent, 0):
		return fmt.Errorf("%w: PercentileExponent %v not at least 1", ErrInvalidConfig, c.PercentileExponent)
	case !(c.QuantileDecayRate >= 0) || math.IsInf(c.QuantileDecayRate, 0):
		return fmt.Errorf("%w: QuantileDecayRate %v not a finite non-negative rate", ErrInvalidConfig, c.QuantileDecayRate)
	case !(c.MaxScoreDecayRate >= 0) || math.IsInf(c.MaxScoreDecayRate, 0):
		return fmt.Errorf("%w: MaxScoreDecayRate %v not a finite non-negative rate", ErrInvalidConfig, c.MaxScoreDecayRate)
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
	// Quantile maps the two ends of the raw score's percentile interval
	// through the knots and averages them.
	Quantile float64
	// Ratio is 100 * min(1.5r, 0.5 + 0.5r), r the raw score over the largest
	// recent raw score of the same value; 100 when there is none.
	Ratio float64
	// Probability caps moderately unlikely records:
	// 100 * (0.95 * (ln P - ln 0.05) / (ln 1e-4 - ln 0.05) + 0.05).
	Probability float64
	// Percentile is the middle of the raw score's 70% percentile interval
	// among past (sampled) raw scores.
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

// maxScore is a value's largest raw score, aged, and how long ago, in
// buckets with results, it last had a score (CNormalizer::CMaxScore).
type maxScore struct {
	score float64
	since float64
}

// Normalizer turns raw scores into record scores (0-100) relative to the
// history of raw scores, as ml-cpp's CAnomalyScore::CNormalizer does for the
// records of one detector (the leaf normaliser). It is not safe for
// concurrent use.
type Normalizer struct {
	cfg NormalizerConfig

	// low holds sampled raw scores; high those above highScore, for
	// resolution in the tail.
	low, high *qDigest
	// highScore is the approximate 90th percentile discrete score and
	// highCount the number of sampled scores at or below it.
	highScore uint32
	highCount uint64

	sinceSample int
	sample      float64
	untilDecay  float64

	maxScores map[string]*maxScore

	// intervals memoises percentileInterval by discrete score until the next Update: the
	// Beta quantiles of its widening are most of a normalisation's cost, and a bucket's
	// records often share a score.
	intervals map[uint32][2]float64
	// fractionBounds memoises the 70% interval of f = highCount / n, for fractionFor.
	fractionFor    [2]uint64
	fractionBounds [2]float64
}

// NewNormalizer returns a normalizer with no history.
func NewNormalizer(cfg NormalizerConfig) (*Normalizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Knots = slices.Clone(cfg.Knots)
	return &Normalizer{
		cfg:        cfg,
		low:        newQDigest(digestK, cfg.QuantileDecayRate),
		high:       newQDigest(digestK, cfg.QuantileDecayRate),
		highScore:  math.MaxUint32,
		untilDecay: quantileDecayTime,
		maxScores:  make(map[string]*maxScore),
		intervals:  make(map[uint32][2]float64),
	}, nil
}

// Count returns the number of sampled raw scores in the quantiles, decayed
// and rounded as the q-digest keeps it.
func (n *Normalizer) Count() uint64 { return n.low.n }

// Update closes one bucket that has results: it ages the history by one
// bucket, then feeds it the raw score of every value scored in it, in order
// (zeros included, as ml-cpp updates the quantiles with every result). A
// bucket without results is no call at all: ml-cpp ages the normaliser only
// when a bucket has results (lib/api/CAnomalyJob.cc,
// updateNormalizerAndNormalizeResults: propagateForwardByTime(1.0), then the
// quantiles, then the normalisation). Call it before Normalize for the same
// bucket.
func (n *Normalizer) Update(scores []Score) {
	if len(scores) == 0 {
		return
	}
	clear(n.intervals)
	n.propagate(1)
	for _, s := range scores {
		n.update(s.Value, s.RawScore)
	}
}

// propagate ages every maximum score by exp(-2 * rate * time), forgets those
// not renewed for more than 50 buckets, and decays the digests once
// 20 * CountPerSample buckets have passed (CNormalizer::propagateForwardByTime).
func (n *Normalizer) propagate(time float64) {
	alpha := math.Exp(-2 * n.cfg.MaxScoreDecayRate * time)
	for v, m := range n.maxScores {
		m.score *= alpha
		if m.since += time; m.since > forgetMaxScoreInterval {
			delete(n.maxScores, v)
		}
	}
	n.untilDecay -= time / float64(n.cfg.CountPerSample)
	if n.untilDecay <= 0 {
		t := math.Floor((quantileDecayTime - n.untilDecay) / quantileDecayTime)
		before := n.low.n
		n.low.propagate(t)
		n.high.propagate(t)
		if before > 0 {
			n.highCount = uint64(float64(n.low.n)/float64(before)*float64(n.highCount) + 0.5)
		}
		n.untilDecay += quantileDecayTime + math.Floor(-n.untilDecay/quantileDecayTime)
	}
}

// update is CNormalizer::updateQuantiles for one result: the value's maximum
// score, then the sample, which enters the digests once CountPerSample
// results have been seen.
func (n *Normalizer) update(value string, score float64) {
	if m, ok := n.maxScores[value]; ok {
		m.score, m.since = math.Max(m.score, score), 0
	} else {
		n.maxScores[value] = &maxScore{score: score}
	}
	n.sample = math.Max(n.sample, score)
	if n.sinceSample++; n.sinceSample < n.cfg.CountPerSample {
		return
	}
	d := discreteScore(n.sample)
	n.sinceSample, n.sample = 0, 0
	count := n.low.n
	if !n.cfg.noHighDigest && count+1 == n.low.k {
		n.initHigh(count)
	}
	n.low.add(d, 1)
	if d <= n.highScore {
		n.highCount++
	} else {
		n.high.add(d, 1)
	}
	if !n.cfg.noHighDigest && count+1 > n.low.k && (count+1)%n.low.k == 0 {
		n.refreshHigh(count + 1)
	}
}

// initHigh sets the high percentile score from the digest while it still
// holds every sampled score exactly (k of them) and moves the scores above it
// into the high digest.
func (n *Normalizer) initHigh(count uint64) {
	l := n.low.summary()
	if len(l) == 0 {
		return
	}
	target := uint64(highPercentile/100*float64(count) + 0.5)
	n.highScore, n.highCount = l[0].x, l[0].count
	i := 1
	for ; i < len(l); i++ {
		if l[i].count > target {
			n.highScore, n.highCount = l[i-1].x, l[i-1].count
			break
		}
	}
	n.highCount = min(n.highCount, count)
	for ; i < len(l); i++ {
		n.high.add(l[i].x, l[i].count-l[i-1].count)
	}
}

// refreshHigh moves the high percentile score every k samples: down to the
// digest's estimate when too many scores lie at or below it (moving the
// scores in between into the high digest), else up to the 90th percentile.
func (n *Normalizer) refreshHigh(total uint64) {
	target := uint64(highPercentile/100*float64(total) + 0.5)
	if n.highCount <= target {
		n.highScore = n.low.quantile(highPercentile / 100)
		lower, _ := n.low.cdf(n.highScore)
		n.highCount = uint64(float64(total)*lower + 0.5)
		return
	}
	l, h := n.low.summary(), n.high.summary()
	i0 := min(sort.Search(len(l), func(i int) bool { return l[i].count >= target }), len(l)-1)
	j := max(min(sort.Search(len(h), func(i int) bool { return h[i].x > l[i0].x }), len(h)-1), 0)
	r := l[i0].count
	for i := i0 + 1; i < len(l) && l[i0].count+n.high.n < total; i++ {
		for ; j < len(h) && h[j].x <= l[i].x; j++ {
			r += h[j].count
			if j > 0 {
				r -= h[j-1].count
			}
		}
		var m uint64
		if r < l[i].count {
			m = l[i].count - r
		}
		r += m
		if m > 0 {
			n.high.add(l[i].x, m)
		}
	}
	n.highScore, n.highCount = l[i0].x, l[i0].count
	if n.highCount > total {
		n.highCount = total - 1
	}
}

func discreteScore(raw float64) uint32 {
	return uint32(discretisationFactor*math.Min(math.Max(raw, 0), maxRawScore) + 0.5)
}

// Normalize returns the record score of s, a result of the bucket last passed
// to Update, and the ceilings it is the minimum of. A zero raw score, or an
// empty history, gives 0 (CNormalizer::normalize).
func (n *Normalizer) Normalize(s Score) (float64, Ceilings) {
	raw := s.RawScore
	if !(raw > 0) || n.low.n == 0 {
		return 0, Ceilings{}
	}
	d := discreteScore(raw)
	c := Ceilings{
		Noise:       n.noiseCeiling(d),
		Ratio:       MaxRecordScore,
		Probability: ProbabilityCeiling(InverseRawScore(raw)),
	}
	c.Quantile, c.Percentile = n.quantileCeiling(raw)
	if m, ok := n.maxScores[s.Value]; ok && m.score != 0 {
		r := raw / m.score
		c.Ratio = MaxRecordScore * math.Min(1.5*r, 0.5+0.5*r)
	}
	score := math.Min(math.Min(c.Noise, c.Quantile), math.Min(c.Ratio, c.Probability))
	return math.Min(math.Max(score, 0), MaxRecordScore), c
}

// noiseCeiling is knot(noise percentile) * max(1 + signal, 0), signal being
// the noise multiplier times 10 times the raw score's excess over the noise
// percentile score, plus 100 * max(2 * min(50 * (l0 + u0) / noise percentile, 1) - 1, 0),
// l0 and u0 the bounds of the fraction of scores at 0, so that the ceiling
// leaves the minimum once most scores are 0.
func (n *Normalizer) noiseCeiling(d uint32) float64 {
	np := n.cfg.NoisePercentile
	noise := n.low.quantile(np / 100)
	k := sort.Search(len(n.cfg.Knots), func(i int) bool { return n.cfg.Knots[i].Percentile >= np })
	knot := n.cfg.Knots[min(k, len(n.cfg.Knots)-1)].Score
	signal := n.cfg.NoiseMultiplier * 10 / discretisationFactor * (float64(d) - float64(noise))
	l0, u0 := n.low.cdf(0)
	lift := 1.0
	if np > 0 {
		lift = math.Min(50*(l0+u0)/np, 1)
	}
	return knot*math.Max(1+signal, 0) + MaxRecordScore*math.Max(2*lift-1, 0)
}

// quantileCeiling maps the two ends of the 70% interval of the raw score's
// percentile through the knots and averages them.
func (n *Normalizer) quantileCeiling(raw float64) (ceiling, percentile float64) {
	lower, upper := n.percentileInterval(raw)
	lp := 100 * math.Pow(lower, n.cfg.PercentileExponent)
	up := 100 * math.Pow(upper, n.cfg.PercentileExponent)
	if lp > up {
		lp, up = up, lp
	}
	lp, up = math.Min(math.Max(lp, 0), 100), math.Min(math.Max(up, 0), 100)
	return (n.knotScore(lp) + n.knotScore(up)) / 2, (lp + up) / 2
}

// percentileInterval is CNormalizer::quantile: the 70% interval of the
// fraction of sampled scores below raw. At or below the high percentile score
// it reads the main digest: c.d.f. minus density, clamped to the 70% interval
// of the fraction f = highCount / n, then widened; above it, the high digest,
// scaled into [f, 1].
func (n *Normalizer) percentileInterval(raw float64) (lower, upper float64) {
	d := discreteScore(raw)
	if b, ok := n.intervals[d]; ok {
		return b[0], b[1]
	}
	defer func() { n.intervals[d] = [2]float64{lower, upper} }()
	total := float64(n.low.n)
	if n.fractionFor != [2]uint64{n.low.n, n.highCount} {
		f := math.Min(math.Max(float64(n.highCount)/total, 0), 1)
		n.fractionFor = [2]uint64{n.low.n, n.highCount}
		n.fractionBounds = [2]float64{cdfQuantile(total, f, quantileLowerQ), cdfQuantile(total, f, quantileUpperQ)}
	}
	fl, fu := n.fractionBounds[0], n.fractionBounds[1]
	if d <= n.highScore || n.high.n == 0 {
		lower, upper = n.low.cdf(d)
		pdfLower, pdfUpper := n.low.pdf(d)
		lower = math.Min(math.Max(lower-pdfUpper, 0), fl)
		upper = math.Min(math.Max(upper-pdfLower, 0), fu)
	} else {
		lower, upper = n.high.cdf(d)
		cutLower, cutUpper := n.high.cdf(n.highScore)
		pdfLower, pdfUpper := n.high.pdf(d)
		const eps = 0x1p-52 // std::numeric_limits<double>::epsilon()
		lower = fl + (1-fl)*math.Max(lower-cutUpper-pdfUpper, 0)/math.Max(1-cutUpper, eps)
		upper = fu + (1-fu)*math.Max(upper-cutLower-pdfLower, 0)/math.Max(1-cutLower, eps)
	}
	return cdfQuantile(total, lower, quantileLowerQ), cdfQuantile(total, upper, quantileUpperQ)
}

// knotScore interpolates the knots at pct as CTools::linearlyInterpolate
// does; 100 beyond the last.
func (n *Normalizer) knotScore(pct float64) float64 {
	knots := n.cfg.Knots
	k := max(sort.Search(len(knots), func(i int) bool { return knots[i].Percentile >= pct }), 1)
	if k >= len(knots) {
		return MaxRecordScore
	}
	l, r := knots[k-1], knots[k]
	switch {
	case pct <= l.Percentile:
		return l.Score
	case pct >= r.Percentile:
		return r.Score
	}
	return ((r.Percentile-pct)*l.Score + (pct-l.Percentile)*r.Score) / (r.Percentile - l.Percentile)
}

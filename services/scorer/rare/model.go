package rare

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Decay constants from ml-cpp lib/model/CAnomalyDetectorModelConfig.cc.
const (
	// DefaultDecayRate is DEFAULT_DECAY_RATE, the fraction of information
	// forgotten per standard bucket.
	DefaultDecayRate = 0.0005
	// StandardBucketSpan is STANDARD_BUCKET_LENGTH, the span the decay rate
	// refers to.
	StandardBucketSpan = 30 * time.Minute
	// DefaultMaximumAnomalousProbability is DEFAULT_MAXIMUM_ANOMALOUS_PROBABILITY:
	// results with a larger probability get raw score 0 and are not written
	// as records.
	DefaultMaximumAnomalousProbability = 0.035
	// tolerance is the factor by which a category may be more likely and
	// still count as "as likely" (CMultinomialConjugate.cc,
	// probabilitiesOfLessLikelyCategories).
	tolerance = 1.05
)

// renormaliseBelow is the lazy decay scale under which concentrations are
// multiplied out; far above underflow and reached only after ~276k buckets
// at the default decay.
const renormaliseBelow = 1e-30

// ErrInvalidConfig is returned when a Config or a restored State holds values
// outside their domain.
var ErrInvalidConfig = errors.New("rare: invalid configuration")

// ProbabilityMethod selects how the probability of the less likely values is
// computed.
type ProbabilityMethod int

const (
	// ProbabilityMarginal is ml-cpp's method and the default: the mass of the
	// values at most 1.05 times as likely as this one (linearly interpolated
	// between neighbouring values), averaged over representative samples of
	// this value's marginal Beta(a_i, sum(a) - a_i); 7, 5, 3 or 1 samples for
	// a total concentration up to 100, 1000, 10000 and above.
	ProbabilityMarginal ProbabilityMethod = iota
	// ProbabilityPointEstimate is the plain point estimate: sum of p_j over
	// all j with p_j <= p_i, p_j = a_j / sum(a). Not ml-cpp's numbers.
	ProbabilityPointEstimate
)

// String returns the method's name.
func (m ProbabilityMethod) String() string {
	switch m {
	case ProbabilityMarginal:
		return "marginal"
	case ProbabilityPointEstimate:
		return "point"
	default:
		return fmt.Sprintf("ProbabilityMethod(%d)", int(m))
	}
}

// DecayPerBucket is the factor by which every concentration is multiplied per
// bucket: exp(-0.0005 * min(1, bucketSpan / 30m)), exp(-0.00025) for 15m
// buckets. ml-cpp scales the decay rate down for short buckets but never up
// (CAnomalyDetectorModelConfig::bucketNormalizationFactor).
func DecayPerBucket(bucketSpan time.Duration) float64 {
	return math.Exp(-DefaultDecayRate * bucketNormalizationFactor(bucketSpan))
}

// bucketNormalizationFactor is min(1, bucketSpan / 30m).
func bucketNormalizationFactor(bucketSpan time.Duration) float64 {
	return math.Min(1, bucketSpan.Seconds()/StandardBucketSpan.Seconds())
}

// Config holds the parameters of a Model.
type Config struct {
	// DecayPerBucket multiplies every concentration once per elapsed bucket;
	// in (0, 1].
	DecayPerBucket float64
	// MaximumAnomalousProbability is the probability above which a value
	// gets raw score 0.
	MaximumAnomalousProbability float64
	// Probability selects the probability computation.
	Probability ProbabilityMethod
}

// DefaultConfig returns ml-cpp's defaults for the bucket span.
func DefaultConfig(bucketSpan time.Duration) Config {
	return Config{
		DecayPerBucket:              DecayPerBucket(bucketSpan),
		MaximumAnomalousProbability: DefaultMaximumAnomalousProbability,
		Probability:                 ProbabilityMarginal,
	}
}

// Validate reports whether the configuration is usable.
func (c Config) Validate() error {
	if !(c.DecayPerBucket > 0 && c.DecayPerBucket <= 1) {
		return fmt.Errorf("%w: DecayPerBucket %v not in (0, 1]", ErrInvalidConfig, c.DecayPerBucket)
	}
	if !(c.MaximumAnomalousProbability > 0 && c.MaximumAnomalousProbability <= 1) {
		return fmt.Errorf("%w: MaximumAnomalousProbability %v not in (0, 1]", ErrInvalidConfig, c.MaximumAnomalousProbability)
	}
	if c.Probability != ProbabilityMarginal && c.Probability != ProbabilityPointEstimate {
		return fmt.Errorf("%w: unknown %v", ErrInvalidConfig, c.Probability)
	}
	return nil
}

// Score is the result for one value present in a bucket.
type Score struct {
	// Value is the by-field value (process.name).
	Value string
	// Probability is the probability of seeing a value at most as likely as
	// this one; ml-cpp's record probability.
	Probability float64
	// Concentration is the value's Dirichlet concentration a_i after this
	// bucket was added and the model decayed: a decayed count of the buckets
	// it appeared in.
	Concentration float64
	// FirstOccurrence is true when the value was never seen before this bucket.
	FirstOccurrence bool
	// RelativeRarity is the median concentration over all known values
	// divided by this value's concentration; above 1 means rarer than usual.
	RelativeRarity float64
	// Typical is what Elastic writes as typical for rare: the probability.
	Typical float64
	// Actual is what Elastic writes as actual for rare: 1.
	Actual float64
	// RawScore is RawScore(Probability), or 0 when Probability exceeds the
	// maximum anomalous probability (ml-cpp CHierarchicalResultsNormalizer).
	RawScore float64
}

// Model is the Dirichlet prior over the values of one by-field: a
// concentration per value. It is not safe for concurrent use.
type Model struct {
	cfg Config

	index  map[string]int
	values []string
	// conc holds concentrations divided by scale, so decay is one multiply.
	conc  []float64
	scale float64

	// Per-bucket scratch, kept to avoid allocation.
	seen    []uint64
	stamp   uint64
	present []int
	first   []bool
	sorted  []float64 // all probabilities, ascending
	cum     []float64 // mass of all values at most as likely as sorted[k]
	total   float64   // sum of conc, in sorted order
	samples []float64
	memo    map[float64]float64 // probability by stored concentration
}

// NewModel returns an empty model.
func NewModel(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Model{
		cfg:   cfg,
		index: make(map[string]int),
		scale: 1,
		memo:  make(map[float64]float64),
	}, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Len returns the number of distinct values the model knows.
func (m *Model) Len() int { return len(m.values) }

// Concentration returns the current concentration of value and whether the
// model knows it.
func (m *Model) Concentration(value string) (float64, bool) {
	i, ok := m.index[value]
	if !ok {
		return 0, false
	}
	return m.conc[i] * m.scale, true
}

// TotalConcentration returns the sum of all concentrations.
//
// The sum runs over the concentrations in ascending order, as ScoreBucket's does, so the
// result does not depend on the order in which values were first seen: a model restored
// from a checkpoint (values sorted by name) gives the same bits as the one that wrote it.
func (m *Model) TotalConcentration() float64 {
	sorted := slices.Clone(m.conc)
	slices.Sort(sorted)
	var s float64
	for _, c := range sorted {
		s += c
	}
	return s * m.scale
}

// Advance decays every concentration by DecayPerBucket^n, as n more buckets
// with data would. ScoreBucket already decays once per bucket, as ml-cpp
// does; nothing needs to call Advance for the buckets between (ml-cpp does not
// decay over empty buckets). It is O(1) except for a rare O(values)
// renormalisation.
func (m *Model) Advance(n int) {
	if n <= 0 || m.cfg.DecayPerBucket == 1 {
		return
	}
	m.scale *= math.Pow(m.cfg.DecayPerBucket, float64(n))
	if m.scale < renormaliseBelow {
		m.renormalise()
	}
}

func (m *Model) renormalise() {
	for i := range m.conc {
		m.conc[i] *= m.scale
	}
	m.scale = 1
}

// ScoreBucket closes one bucket that has data as ml-cpp does
// (lib/model/CEventRateModel.cc, sample, then computeProbability): it adds
// one observation for each distinct value present, decays every
// concentration once by DecayPerBucket, then scores each value against the
// decayed model, so a value never seen before is scored with concentration
// DecayPerBucket (0.99975 at 15 minutes), not 1. It returns one Score per
// distinct value, in order of first appearance in values. A bucket without
// data is no call at all: ml-cpp decays the model only after a bucket with
// data (if (!data.empty()) propagateForwardsByTime(1.0)).
func (m *Model) ScoreBucket(values []string) []Score {
	if len(values) == 0 {
		return nil
	}
	m.collectPresent(values)
	inc := 1 / m.scale
	for _, i := range m.present {
		m.conc[i] += inc
	}
	m.Advance(1)
	m.sortProbabilities()

	n := len(m.sorted)
	var median float64
	if n%2 == 1 {
		median = m.sorted[n/2]
	} else {
		median = (m.sorted[n/2-1] + m.sorted[n/2]) / 2
	}
	total := m.total
	clear(m.memo)

	out := make([]Score, len(m.present))
	for k, i := range m.present {
		p := m.probability(m.conc[i], total)
		raw := 0.0
		if p <= m.cfg.MaximumAnomalousProbability {
			raw = RawScore(p)
		}
		out[k] = Score{
			Value:           m.values[i],
			Probability:     p,
			Concentration:   m.conc[i] * m.scale,
			FirstOccurrence: m.first[k],
			RelativeRarity:  median / (m.conc[i] / total),
			Typical:         p,
			Actual:          1,
			RawScore:        raw,
		}
	}
	return out
}

// collectPresent fills m.present with the index of each distinct value in
// order of first appearance, creating unknown values with concentration 0.
func (m *Model) collectPresent(values []string) {
	m.stamp++
	m.present = m.present[:0]
	m.first = m.first[:0]
	for _, v := range values {
		i, ok := m.index[v]
		if !ok {
			i = len(m.values)
			// Clone so the model does not pin the caller's buffers.
			v = strings.Clone(v)
			m.index[v] = i
			m.values = append(m.values, v)
			m.conc = append(m.conc, 0)
			m.seen = append(m.seen, 0)
		}
		if m.seen[i] == m.stamp {
			continue
		}
		m.seen[i] = m.stamp
		m.present = append(m.present, i)
		m.first = append(m.first, !ok)
	}
}

// sortProbabilities fills m.sorted with every value's probability a_j/sum(a)
// in ascending order and m.cum with the mass of all values whose probability
// is at most sorted[k] (equal probabilities share the cumulative of their
// whole group).
func (m *Model) sortProbabilities() {
	m.sorted = append(m.sorted[:0], m.conc...)
	slices.Sort(m.sorted)
	var total float64
	for _, c := range m.sorted {
		total += c
	}
	m.cum = slices.Grow(m.cum[:0], len(m.sorted))[:len(m.sorted)]
	var run float64
	for k, c := range m.sorted {
		run += c
		m.cum[k] = run / total
		m.sorted[k] = c / total
	}
	m.total = total
	for k := len(m.sorted) - 2; k >= 0; k-- {
		if m.sorted[k] == m.sorted[k+1] {
			m.cum[k] = m.cum[k+1]
		}
	}
}

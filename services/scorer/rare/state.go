package rare

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// State is a plain snapshot of a Model, for checkpointing.
type State struct {
	// Values holds every known value, sorted by Value, each at most once.
	Values []ValueState
	// Scale is the lazy decay factor: a value's concentration is
	// ValueState.Concentration * Scale.
	Scale float64
}

// ValueState is one value's entry in a State.
type ValueState struct {
	// Value is the by-field value.
	Value string
	// Concentration is the concentration divided by State.Scale.
	Concentration float64
}

// Snapshot returns the model's state; restoring it gives a model that scores
// bit for bit as this one.
func (m *Model) Snapshot() State {
	vs := make([]ValueState, len(m.values))
	for i, v := range m.values {
		vs[i] = ValueState{Value: v, Concentration: m.conc[i]}
	}
	slices.SortFunc(vs, func(a, b ValueState) int { return cmp.Compare(a.Value, b.Value) })
	return State{Values: vs, Scale: m.scale}
}

// Restore replaces the model's state with s. It returns an error wrapping
// ErrInvalidConfig, and leaves the model unchanged, if s is malformed.
func (m *Model) Restore(s State) error {
	if !(s.Scale > 0) || math.IsInf(s.Scale, 0) {
		return fmt.Errorf("%w: state scale %v", ErrInvalidConfig, s.Scale)
	}
	for k, v := range s.Values {
		if !(v.Concentration >= 0) || math.IsInf(v.Concentration, 0) {
			return fmt.Errorf("%w: state concentration %v for %q", ErrInvalidConfig, v.Concentration, v.Value)
		}
		if k > 0 && strings.Compare(s.Values[k-1].Value, v.Value) >= 0 {
			return fmt.Errorf("%w: state values not sorted and unique at %q", ErrInvalidConfig, v.Value)
		}
	}
	m.index = make(map[string]int, len(s.Values))
	m.values = make([]string, len(s.Values))
	m.conc = make([]float64, len(s.Values))
	m.seen = make([]uint64, len(s.Values))
	for i, v := range s.Values {
		m.index[v.Value] = i
		m.values[i] = v.Value
		m.conc[i] = v.Concentration
	}
	m.scale = s.Scale
	return nil
}

// NormalizerState is a plain snapshot of a Normalizer, for checkpointing.
type NormalizerState struct {
	// Bins holds the decayed weight of past raw scores by discrete score
	// (round(1000 * raw)), sorted by Discrete, each at most once.
	Bins []ScoreBin
	// MaxScores holds each recently scored value's largest raw score as of
	// bucket Bucket (decay not yet applied), sorted by Value.
	MaxScores []MaxScore
	// Bucket counts the buckets the normalizer has seen.
	Bucket int64
	// UntilQuantileDecay is the number of buckets before the bins next decay.
	UntilQuantileDecay int
}

// ScoreBin is one entry of NormalizerState.Bins.
type ScoreBin struct {
	// Discrete is round(1000 * raw score).
	Discrete uint32
	// Weight is the decayed number of raw scores with this discrete value.
	Weight float64
}

// MaxScore is one entry of NormalizerState.MaxScores.
type MaxScore struct {
	// Value is the by-field value.
	Value string
	// Score is the largest raw score as of Bucket.
	Score float64
	// Bucket is when Score was last updated.
	Bucket int64
}

// Snapshot returns the normalizer's state.
func (n *Normalizer) Snapshot() NormalizerState {
	s := NormalizerState{
		Bins:               make([]ScoreBin, len(n.bins)),
		MaxScores:          make([]MaxScore, 0, len(n.maxScores)),
		Bucket:             n.bucket,
		UntilQuantileDecay: n.untilDecay,
	}
	for i, b := range n.bins {
		s.Bins[i] = ScoreBin{Discrete: b.discrete, Weight: b.weight}
	}
	for v, m := range n.maxScores {
		s.MaxScores = append(s.MaxScores, MaxScore{Value: v, Score: m.score, Bucket: m.bucket})
	}
	slices.SortFunc(s.MaxScores, func(a, b MaxScore) int { return cmp.Compare(a.Value, b.Value) })
	return s
}

// Restore replaces the normalizer's state with s. It returns an error
// wrapping ErrInvalidConfig, and leaves the normalizer unchanged, if s is
// malformed.
func (n *Normalizer) Restore(s NormalizerState) error {
	if s.UntilQuantileDecay < 1 || s.UntilQuantileDecay > quantileDecayInterval {
		return fmt.Errorf("%w: UntilQuantileDecay %d", ErrInvalidConfig, s.UntilQuantileDecay)
	}
	for k, b := range s.Bins {
		if !(b.Weight >= 0) || math.IsInf(b.Weight, 0) || b.Discrete > discreteScore(maxRawScore) {
			return fmt.Errorf("%w: score bin %+v", ErrInvalidConfig, b)
		}
		if k > 0 && s.Bins[k-1].Discrete >= b.Discrete {
			return fmt.Errorf("%w: score bins not sorted and unique at %d", ErrInvalidConfig, b.Discrete)
		}
	}
	maxScores := make(map[string]valueMax, len(s.MaxScores))
	for _, m := range s.MaxScores {
		if !(m.Score >= 0) || math.IsInf(m.Score, 0) || m.Bucket > s.Bucket {
			return fmt.Errorf("%w: max score %+v", ErrInvalidConfig, m)
		}
		maxScores[m.Value] = valueMax{score: m.Score, bucket: m.Bucket}
	}
	n.bins = make([]scoreBin, len(s.Bins))
	for i, b := range s.Bins {
		n.bins[i] = scoreBin{discrete: b.Discrete, weight: b.Weight}
	}
	n.dirty = true
	n.maxScores = maxScores
	n.bucket = s.Bucket
	n.untilDecay = s.UntilQuantileDecay
	return nil
}

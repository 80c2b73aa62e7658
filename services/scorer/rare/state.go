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

package rare

import (
	"math"
	"sort"
)

// probability returns the probability of the values at most as likely as a
// value with stored concentration c, given the stored total. It needs
// m.sorted and m.cum from sortProbabilities. The costly multi-sample case is
// memoised per concentration within a bucket, as ml-cpp reuses the result for
// equal probabilities.
func (m *Model) probability(c, total float64) float64 {
	var p float64
	switch {
	case m.cfg.Probability == ProbabilityPointEstimate:
		p = m.pointProbability(c / total)
	case numberPriorSamples(total*m.scale) == 1:
		// One sample is the mean: a binary search, cheaper than the memo.
		p = m.lessLikelyMass(tolerance * (c / total))
	default:
		if q, ok := m.memo[c]; ok {
			return q
		}
		p = m.marginalProbability(c*m.scale, (total-c)*m.scale)
		p = math.Min(math.Max(p, SmallestProbability), 1)
		m.memo[c] = p
		return p
	}
	return math.Min(math.Max(p, SmallestProbability), 1)
}

// pointProbability is the sum of p_j over all j with p_j <= pi, where pi is
// one of the model's probabilities.
func (m *Model) pointProbability(pi float64) float64 {
	k := sort.SearchFloat64s(m.sorted, pi)
	if k == len(m.sorted) {
		k--
	}
	return m.cum[k]
}

// marginalProbability follows ml-cpp's two-sided
// CMultinomialConjugate::probabilitiesOfLessLikelyCategories: the value's
// probability p_i is uncertain, with marginal Beta(a, b), a = a_i,
// b = sum(a) - a_i; for each representative sample s of it, take the mass of
// the values less likely than 1.05*s, interpolated linearly between the two
// neighbouring values, and average.
func (m *Model) marginalProbability(a, b float64) float64 {
	m.samples = betaMarginalSamples(a, b, numberPriorSamples(a+b), m.samples)
	var sum float64
	for _, s := range m.samples {
		sum += m.lessLikelyMass(tolerance * s)
	}
	return sum / float64(len(m.samples))
}

// lessLikelyMass interpolates the mass of the values at most as likely as x
// between the largest probability below x and the smallest at or above it
// (taking (0, 0) as the point left of the least likely value and 1 beyond the
// most likely one).
func (m *Model) lessLikelyMass(x float64) float64 {
	last := len(m.sorted) - 1
	r := min(sort.SearchFloat64s(m.sorted, x), last)
	var fl, cl float64
	if r > 0 {
		fl, cl = m.sorted[r-1], m.cum[r-1]
	}
	fr, cr := m.sorted[r], m.cum[r]
	alpha := 0.0
	if fr != fl {
		alpha = math.Min((x-fl)/(fr-fl), 1)
	}
	return (1-alpha)*cl + alpha*cr
}

// numberPriorSamples is how many samples of the marginal ml-cpp averages
// over, by total concentration (CMultinomialConjugate.cc, numberPriorSamples).
func numberPriorSamples(total float64) int {
	switch {
	case total <= 100:
		return 7
	case total <= 1000:
		return 5
	case total <= 10000:
		return 3
	default:
		return 1
	}
}

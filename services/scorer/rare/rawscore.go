package rare

import "math"

// Probability thresholds of the raw score, as in ml-cpp
// include/maths/common/Constants.h (LARGEST_SIGNIFICANT_PROBABILITY,
// SMALL_PROBABILITY, MINUSCULE_PROBABILITY) and CTools::smallestProbability.
const (
	// LargestSignificantProbability is the probability at and above which the
	// raw score is 0.
	LargestSignificantProbability = 0.05
	// SmallProbability is the probability that gets raw score 1.
	SmallProbability = 1e-4
	// MinusculeProbability is the probability that gets raw score 50.
	MinusculeProbability = 1e-50
	// SmallestProbability is the smallest probability used anywhere; it gets
	// raw score 100 (the smallest normal float64, as ml-cpp's
	// std::numeric_limits<double>::min()).
	SmallestProbability = 0x1p-1022
)

// Raw score values at the knots of the piecewise mapping.
const (
	smallProbabilityScore     = 1.0
	minusculeProbabilityScore = 50.0
	maxRawScore               = 100.0
)

var (
	minusLogSmall     = -math.Log(SmallProbability)
	minusLogMinuscule = -math.Log(MinusculeProbability)
	minusLogSmallest  = -math.Log(SmallestProbability)
)

// RawScore maps the probability of a record to ml-cpp's raw anomaly score in
// [0, 100] (lib/maths/common/CTools.cc, anomalyScore, formerly deviation):
//
//	p >= 0.05             0
//	1e-4 <= p < 0.05      (1/p - 20) / (1e4 - 20), linear in 1/p, reaching 1 at 1e-4
//	1e-50 <= p < 1e-4     1 + 49 * (-ln p - -ln 1e-4) / (-ln 1e-50 - -ln 1e-4), up to 50
//	p < 1e-50             50 + 50 * (-ln p - -ln 1e-50) / (-ln 2^-1022 - -ln 1e-50), up to 100
//
// p is first raised to SmallestProbability (2^-1022), so the score never
// exceeds 100. A NaN probability scores 0.
func RawScore(p float64) float64 {
	if !(p < LargestSignificantProbability) { // also catches NaN
		return 0
	}
	p = math.Max(p, SmallestProbability)
	switch {
	case p >= SmallProbability:
		return smallProbabilityScore * (1/p - 1/LargestSignificantProbability) /
			(1/SmallProbability - 1/LargestSignificantProbability)
	case p >= MinusculeProbability:
		return smallProbabilityScore + (minusculeProbabilityScore-smallProbabilityScore)*
			(-math.Log(p)-minusLogSmall)/(minusLogMinuscule-minusLogSmall)
	default:
		return math.Min(minusculeProbabilityScore+(maxRawScore-minusculeProbabilityScore)*
			(-math.Log(p)-minusLogMinuscule)/(minusLogSmallest-minusLogMinuscule), maxRawScore)
	}
}

// InverseRawScore maps a raw score back to a probability (ml-cpp
// CTools::inverseAnomalyScore). A raw score of 0 maps to (1 + 0.05) / 2, the
// middle of the range of probabilities that score 0.
func InverseRawScore(raw float64) float64 {
	raw = math.Min(math.Max(raw, 0), maxRawScore)
	switch {
	case raw == 0:
		return (1 + LargestSignificantProbability) / 2
	case raw <= smallProbabilityScore:
		return 1 / (1/LargestSignificantProbability +
			(1/SmallProbability-1/LargestSignificantProbability)*raw/smallProbabilityScore)
	case raw <= minusculeProbabilityScore:
		return math.Exp(-(minusLogSmall + (minusLogMinuscule-minusLogSmall)*
			(raw-smallProbabilityScore)/(minusculeProbabilityScore-smallProbabilityScore)))
	default:
		return math.Exp(-(minusLogMinuscule + (minusLogSmallest-minusLogMinuscule)*
			(raw-minusculeProbabilityScore)/(maxRawScore-minusculeProbabilityScore)))
	}
}

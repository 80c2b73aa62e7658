// Package rare is the math of Elastic's `rare` by process.name detector: a
// Dirichlet model of how often each value appears in a bucket, the
// probability of a value at most as likely as the one seen, ml-cpp's raw
// anomaly score, and the normalisation of raw scores into record scores
// (0-100). It is pure and deterministic: no I/O, no clocks, no randomness.
//
// Per bucket the caller does:
//
//	scores := model.ScoreBucket(valuesInBucket) // adds the bucket, then scores it
//	normalizer.Update(scores)                   // ages one bucket, adds the raw scores
//	for _, s := range scores {
//		recordScore, ceilings := normalizer.Normalize(s)
//		...
//	}
//	model.Advance(1)                            // one bucket elapses
//
// An empty bucket is model.Advance(1) and normalizer.Update(nil).
//
// # Sources
//
// The constants and formulas follow elastic/ml-cpp (Elastic License; read for
// facts, no code copied): lib/maths/common/CMultinomialConjugate.cc
// (probabilitiesOfLessLikelyCategories, numberPriorSamples,
// generateBetaSamples), lib/model/CModelTools.cc (CCategoryProbabilityCache),
// lib/maths/common/CTools.cc (anomalyScore, inverseAnomalyScore),
// include/maths/common/Constants.h, lib/model/CAnomalyScore.cc and
// include/model/CAnomalyScore.h (CNormalizer), lib/maths/common/CQDigest.cc
// (cdfQuantile), lib/model/CHierarchicalResultsNormalizer.cc (raw score 0
// above probability 0.035; maximum score per by-field value),
// lib/api/CAnomalyJob.cc (quantiles updated before normalising) and
// lib/model/CAnomalyDetectorModelConfig.cc (decay 0.0005 per 30 minutes
// scaled by min(1, span/30m), noise percentile 50, noise multiplier 1, knot
// points, maximum anomalous probability 0.035).
//
// # Deviations from ml-cpp
//
//   - Probability: by default (ProbabilityMarginal) as ml-cpp: the mass of the
//     values at most 1.05 times as likely, interpolated linearly between
//     neighbours, averaged over 7/5/3/1 samples of the value's marginal Beta
//     for a total concentration up to 100/1000/10000/above. ml-cpp adds the
//     mass of unseen categories, 1 - sum(p), which is only rounding noise
//     here; it is taken as 0. The Beta c.d.f. and quantile are this
//     package's own (about 1e-11 relative, against boost's ~1e-15).
//     ProbabilityPointEstimate (plain sum of p_j <= p_i, no tolerance) is an
//     option, not ml-cpp; it scores new values far higher.
//   - Values are never pruned; ml-cpp prunes people unseen for a long time.
//   - Raw score history: an exact histogram of round(1000 * raw) with
//     float weights, not ml-cpp's two q-digests (201 nodes, integer counts,
//     a separate digest above the 90th percentile). So a percentile is the
//     exact decayed weight strictly below the score; ml-cpp's truncation of
//     low percentiles to the 90th-percentile bound and its second
//     confidence widening are not reproduced. ml-cpp's integer counts barely
//     decay when small; these weights decay exactly, by exp(-decay rate)
//     every 20 buckets as ml-cpp ages them.
//   - The noise score is the smallest discrete score whose cumulative weight
//     reaches 50% of the total (ml-cpp rounds that target to a count).
//   - The record threshold (P < 0.035), influencers, interim results and
//     Elastic's later re-normalisation of past records are left to callers.
//
// Kept as in ml-cpp: the bucket is added before it is scored (a new value has
// concentration 1); a bucket's raw scores enter the history before its
// records are normalised; the ratio ceiling uses the largest raw score of the
// same value, aged by exp(-2 * decay rate) per bucket and forgotten after 50
// buckets without a score; percentiles are per 30 minutes, F^(1/factor).
//
// Checked numbers: the probability cap at P = 0.007820139656 is
// 33.36147565024334, Elastic's published record score, and under the cap
// alone a record score of 50 needs P <= 0.00263.
package rare

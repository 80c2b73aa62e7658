// Package rare is the math of Elastic's `rare` by process.name detector: a
// Dirichlet model of how often each value appears in a bucket, the
// probability of a value at most as likely as the one seen, ml-cpp's raw
// anomaly score, and the normalisation of raw scores into record scores
// (0-100). It is pure and deterministic: no I/O, no clocks, no randomness.
//
// Per bucket that has data the caller does:
//
//	scores := model.ScoreBucket(valuesInBucket) // adds the bucket, decays once, scores it
//	normalizer.Update(scores)                   // ages one bucket, samples the raw scores
//	for _, s := range scores {
//		recordScore, ceilings := normalizer.Normalize(s)
//		...
//	}
//
// A bucket without data is no call at all: ml-cpp neither decays the model
// nor ages the normaliser for it.
//
// # Version followed
//
// By default ml-cpp 8.4 and later (Normalizer84), checked line by line
// against elastic/ml-cpp at 7a29b4b (August 2026); Normalizer7x is the
// normaliser before 8.4 (PR #2285; checked against v7.17.0), for Elastic
// 7.x to 8.3. The model and the probability are the same in both.
//
// # Sources
//
// The constants and formulas follow elastic/ml-cpp (Elastic License; read for
// facts, no code copied): lib/maths/common/CMultinomialConjugate.cc
// (probabilitiesOfLessLikelyCategories, numberPriorSamples,
// generateBetaSamples, propagateForwardsByTime), lib/model/CEventRateModel.cc
// (sample: the bucket's values are added, then the prior decays once, only if
// the bucket has data), lib/model/CModelTools.cc (CCategoryProbabilityCache),
// lib/maths/common/CTools.cc (anomalyScore, inverseAnomalyScore,
// linearlyInterpolate), include/maths/common/Constants.h,
// lib/model/CAnomalyScore.cc and include/model/CAnomalyScore.h (CNormalizer:
// sampling, the two q-digests, quantile, normalize, propagateForwardByTime),
// lib/maths/common/CQDigest.cc (the q-digest: add, compress, age, cdf, pdf,
// quantile, summary, cdfQuantile), lib/model/CHierarchicalResultsNormalizer.cc
// (raw score 0 above probability 0.035; one maximum score per by-field value),
// lib/api/CAnomalyJob.cc (updateNormalizerAndNormalizeResults: for a bucket
// with results, age by one bucket, update the quantiles, then normalise) and
// lib/model/CAnomalyDetectorModelConfig.cc (decay 0.0005 per 30 minutes
// scaled by min(1, span/30m), noise percentile 50, noise multiplier 1, knot
// points, maximum anomalous probability 0.035).
//
// # What still differs from ml-cpp
//
//   - Probability: ml-cpp adds the mass of unseen categories, 1 - sum(p),
//     which is only rounding noise here; it is taken as 0. The Beta c.d.f.
//     and quantile (the model's marginal and the normaliser's cdfQuantile)
//     are this package's own, about 1e-11 relative against boost's ~1e-15.
//     ProbabilityPointEstimate (plain sum of p_j <= p_i, no tolerance) is an
//     option, not ml-cpp; it scores new values far higher.
//   - Order of results within a bucket: ml-cpp updates the quantiles in the
//     order of a hash set of person ids
//     (CIndividualModel::currentBucketPersonIds); this package takes the
//     order given, by name in the scorer. Since a sample is the largest of
//     countPerSample consecutive results and straddles buckets, a score can
//     fall into a neighbouring sample: into the digest one bucket earlier or
//     later than in ml-cpp.
//   - Only records are normalised (the leaf normaliser): ml-cpp's bucket,
//     partition, person and influencer normalisers have no counterpart, as
//     rarenet writes no bucket or influencer results; an influencer of a
//     record gets the record's score.
//   - Values are never pruned; ml-cpp prunes people unseen for a long time.
//   - The record threshold (P < 0.035), interim results, and Elastic's later
//     re-normalisation of past records (and ml-cpp's "big change" that
//     triggers it) are left to callers; rarenet never rewrites a record.
//   - State is checkpointed in this package's own form (NormalizerState,
//     State), not ml-cpp's persisted JSON.
//
// Checked numbers (mlcpp_cases_test.go): the probability cap at
// P = 0.007820139656 is 33.36147565024334, Elastic's published record score;
// on a stable 8-name fleet with 1-minute buckets a new name after 100 buckets
// has P = 0.004843 and record score 40.69 (the cap; quantile ceiling 60.76
// from the percentile interval [97.13, 99.996]; 62.85 before 8.4); and under
// the cap alone a record score of 50 needs P <= 0.00263.
package rare

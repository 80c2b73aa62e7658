package rare

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// NormalizerStateVersion is the version of NormalizerState this package
// writes: 1, the q-digests of ml-cpp's normaliser. Version 0 (no version
// field) is rarenet's earlier exact histogram of every raw score; Restore
// migrates it (see NormalizerState.Legacy).
const NormalizerStateVersion = 1

// ErrStateVersion is returned when a restored state was written by a newer
// version of this package.
var ErrStateVersion = errors.New("rare: state written by a newer rarenet")

// NormalizerState is a plain snapshot of a Normalizer, for checkpointing.
type NormalizerState struct {
	// Version is NormalizerStateVersion.
	Version int `json:"version"`
	// Low and High are the main and the 90th-percentile digests.
	Low  DigestState `json:"low"`
	High DigestState `json:"high"`
	// HighScore is the approximate 90th percentile discrete score, HighCount
	// the number of sampled scores at or below it.
	HighScore uint32 `json:"high_score"`
	HighCount uint64 `json:"high_count"`
	// SinceSample counts the results since the last sample, Sample is the
	// largest raw score among them.
	SinceSample int     `json:"since_sample"`
	Sample      float64 `json:"sample"`
	// UntilQuantileDecay is the time left before the digests next decay.
	UntilQuantileDecay float64 `json:"until_quantile_decay"`
	// MaxScores holds each recently scored value's largest raw score, aged,
	// sorted by Value.
	MaxScores []MaxScore `json:"max_scores,omitempty"`

	// The fields of version 0, read only to migrate it.

	// LegacyBins was the exact histogram of every raw score.
	LegacyBins []LegacyScoreBin `json:"Bins,omitempty"`
	// LegacyMaxScores were the maxima as of a bucket, decay not yet applied.
	LegacyMaxScores []LegacyMaxScore `json:"MaxScores,omitempty"`
	// LegacyBucket counted every bucket, empty ones included.
	LegacyBucket int64 `json:"Bucket,omitempty"`
}

// MaxScore is one entry of NormalizerState.MaxScores.
type MaxScore struct {
	// Value is the by-field value (or the key the caller normalises by).
	Value string `json:"value"`
	// Score is its largest raw score, aged to now.
	Score float64 `json:"score"`
	// Since is how many buckets with results passed since it was last scored.
	Since float64 `json:"since"`
}

// LegacyScoreBin is a bin of the version 0 histogram.
type LegacyScoreBin struct {
	Discrete uint32
	Weight   float64
}

// LegacyMaxScore is a maximum score of version 0, as of bucket Bucket.
type LegacyMaxScore struct {
	Value  string
	Score  float64
	Bucket int64
}

// Legacy reports whether s is a version 0 state, written before rarenet
// followed ml-cpp's q-digests. Restore keeps its maximum scores and starts the
// quantiles afresh, as ml-cpp restarts quantiles it cannot upgrade
// (CAnomalyScore::normalizerFromJson): the old histogram held every raw score
// where the digests hold one sample in CountPerSample.
func (s NormalizerState) Legacy() bool {
	return s.Version == 0 && (len(s.LegacyBins) > 0 || len(s.LegacyMaxScores) > 0 || s.LegacyBucket != 0)
}

// Snapshot returns the normalizer's state; restoring it gives a normalizer
// that scores bit for bit as this one.
func (n *Normalizer) Snapshot() NormalizerState {
	s := NormalizerState{
		Version:            NormalizerStateVersion,
		Low:                n.low.snapshot(),
		High:               n.high.snapshot(),
		HighScore:          n.highScore,
		HighCount:          n.highCount,
		SinceSample:        n.sinceSample,
		Sample:             n.sample,
		UntilQuantileDecay: n.untilDecay,
		MaxScores:          make([]MaxScore, 0, len(n.maxScores)),
	}
	for v, m := range n.maxScores {
		s.MaxScores = append(s.MaxScores, MaxScore{Value: v, Score: m.score, Since: m.since})
	}
	slices.SortFunc(s.MaxScores, func(a, b MaxScore) int { return cmp.Compare(a.Value, b.Value) })
	return s
}

// Restore replaces the normalizer's state with s. It returns an error
// wrapping ErrInvalidConfig or ErrStateVersion, and leaves the normalizer
// unchanged, if s is malformed or from a newer version.
func (n *Normalizer) Restore(s NormalizerState) error {
	switch {
	case s.Version > NormalizerStateVersion:
		return fmt.Errorf("%w: normaliser state version %d, this build reads up to %d", ErrStateVersion, s.Version, NormalizerStateVersion)
	case s.Version < 0:
		return fmt.Errorf("%w: normaliser state version %d", ErrInvalidConfig, s.Version)
	case s.Version == 0:
		return n.restoreLegacy(s)
	}
	low, err := restoreDigest(s.Low, digestK, n.cfg.QuantileDecayRate)
	if err != nil {
		return fmt.Errorf("%w: main digest: %w", ErrInvalidConfig, err)
	}
	high, err := restoreDigest(s.High, digestK, n.cfg.QuantileDecayRate)
	if err != nil {
		return fmt.Errorf("%w: high digest: %w", ErrInvalidConfig, err)
	}
	switch {
	case s.SinceSample < 0 || s.SinceSample >= n.cfg.CountPerSample:
		return fmt.Errorf("%w: %d results since the last sample, but a sample is taken every %d (were the bucket span or --normalizer changed?)",
			ErrInvalidConfig, s.SinceSample, n.cfg.CountPerSample)
	case !(s.Sample >= 0 && s.Sample <= maxRawScore):
		return fmt.Errorf("%w: pending sample %v", ErrInvalidConfig, s.Sample)
	case !(s.UntilQuantileDecay > 0 && s.UntilQuantileDecay <= quantileDecayTime):
		return fmt.Errorf("%w: time to the next quantile decay %v not in (0, %v]", ErrInvalidConfig, s.UntilQuantileDecay, quantileDecayTime)
	}
	maxScores, err := restoreMaxScores(s.MaxScores)
	if err != nil {
		return err
	}
	n.low, n.high = low, high
	n.highScore, n.highCount = s.HighScore, s.HighCount
	n.sinceSample, n.sample, n.untilDecay = s.SinceSample, s.Sample, s.UntilQuantileDecay
	n.maxScores = maxScores
	clear(n.intervals)
	return nil
}

func restoreMaxScores(ms []MaxScore) (map[string]*maxScore, error) {
	out := make(map[string]*maxScore, len(ms))
	for k, m := range ms {
		if !(m.Score >= 0 && m.Score <= maxRawScore) || !(m.Since >= 0 && m.Since <= forgetMaxScoreInterval) {
			return nil, fmt.Errorf("%w: max score %+v", ErrInvalidConfig, m)
		}
		if k > 0 && ms[k-1].Value >= m.Value {
			return nil, fmt.Errorf("%w: max scores not sorted and unique at %q", ErrInvalidConfig, m.Value)
		}
		out[m.Value] = &maxScore{score: m.Score, since: m.Since}
	}
	return out, nil
}

// restoreLegacy migrates a version 0 state: the maximum scores are aged to
// its last bucket as it would have aged them, the quantiles start empty.
func (n *Normalizer) restoreLegacy(s NormalizerState) error {
	maxScores := make(map[string]*maxScore, len(s.LegacyMaxScores))
	perBucket := math.Exp(-2 * n.cfg.MaxScoreDecayRate)
	for _, m := range s.LegacyMaxScores {
		if !(m.Score >= 0 && m.Score <= maxRawScore) || m.Bucket > s.LegacyBucket {
			return fmt.Errorf("%w: legacy max score %+v", ErrInvalidConfig, m)
		}
		since := float64(s.LegacyBucket - m.Bucket)
		if since > forgetMaxScoreInterval {
			continue
		}
		maxScores[m.Value] = &maxScore{score: m.Score * math.Pow(perBucket, since), since: since}
	}
	fresh, err := NewNormalizer(n.cfg)
	if err != nil {
		return err
	}
	*n = *fresh
	n.maxScores = maxScores
	return nil
}

package scorer

import (
	"time"

	"github.com/rarenet/rarenet/services/scorer/rare"
	"github.com/rarenet/rarenet/shared/record"
)

// Rarity is the job's rare model over whole buckets: it takes the union of every partition's
// summary of a bucket, adds it to the model, scores it and builds the records. One Rarity
// serves all partitions, which is why the results do not depend on the partition count.
//
// A Rarity is not safe for concurrent use.
type Rarity struct {
	job   Job
	model *rare.Model
	norm  *rare.Normalizer
	// first and modelled are the first and the last bucket added to the model.
	first, modelled int64
	// host is the enhanced profile's rare-on-this-host detector; nil when off.
	host *hostRarity
	// dest is the enhanced profile's new-destination detector; nil when off.
	dest *destRarity
}

// RarityState is a checkpoint of a Rarity.
type RarityState struct {
	Model      rare.State           `json:"model"`
	Normalizer rare.NormalizerState `json:"normalizer"`
	First      int64                `json:"first"`
	Modelled   int64                `json:"modelled"`
	// The rare-on-this-host detector, when on.
	Hosts        map[string]HostState  `json:"hosts,omitempty"`
	HostNorm     *rare.NormalizerState `json:"host_normalizer,omitempty"`
	HostModelled int64                 `json:"host_modelled,omitempty"`
	// The new-destination detector, when on.
	Destinations *DestState `json:"destinations,omitempty"`
}

// NewRarity returns an empty model for job.
func NewRarity(job Job) (*Rarity, error) {
	m, err := rare.NewModel(rare.DefaultConfig(job.BucketSpan))
	if err != nil {
		return nil, err
	}
	n, err := newNormalizer(job)
	if err != nil {
		return nil, err
	}
	r := &Rarity{job: job, model: m, norm: n, first: noBucket, modelled: noBucket}
	if job.HostRarity {
		if r.host, err = newHostRarity(job); err != nil {
			return nil, err
		}
	}
	if job.NewDestinations {
		r.dest = newDestRarity(job)
	}
	return r, nil
}

// newNormalizer returns the record score normaliser of the job's ml-cpp version.
func newNormalizer(job Job) (*rare.Normalizer, error) {
	cfg, err := rare.NormalizerConfigFor(job.BucketSpan, job.Normalizer)
	if err != nil {
		return nil, err
	}
	return rare.NewNormalizer(cfg)
}

// Modelled returns the last bucket added to the model (noBucket before the first).
func (r *Rarity) Modelled() int64 { return r.modelled }

// Snapshot returns the model's state.
func (r *Rarity) Snapshot() RarityState {
	s := RarityState{Model: r.model.Snapshot(), Normalizer: r.norm.Snapshot(), First: r.first, Modelled: r.modelled}
	if r.host != nil {
		hs, norm := r.host.snapshot()
		s.Hosts, s.HostNorm, s.HostModelled = hs, &norm, r.host.modelled
	}
	if r.dest != nil {
		ds := r.dest.snapshot()
		s.Destinations = &ds
	}
	return s
}

// Restore replaces the model's state with s. A checkpoint of an earlier rarenet, whose
// normaliser kept an exact histogram (s.Normalizer.Legacy()), is migrated: its quantiles
// restart, and its model, which was not yet decayed for its last bucket, is decayed once, as
// ml-cpp decays after adding a bucket.
func (r *Rarity) Restore(s RarityState) error {
	if err := r.model.Restore(s.Model); err != nil {
		return err
	}
	if err := r.norm.Restore(s.Normalizer); err != nil {
		return err
	}
	legacy := s.Normalizer.Legacy()
	if legacy {
		r.model.Advance(1)
	}
	r.first, r.modelled = s.First, s.Modelled
	if r.dest != nil && s.Destinations != nil {
		r.dest.restore(*s.Destinations)
	}
	if r.host != nil && s.HostNorm != nil {
		return r.host.restore(s.Hosts, *s.HostNorm, s.HostModelled, legacy)
	}
	return nil
}

// Score adds bucket k, made of the summaries of every partition, to the model (which then
// decays once), scores it, and returns the records of the values whose probability is below
// the job's record probability. Buckets must come in increasing order; an empty bucket changes
// nothing, as in ml-cpp, which neither decays the model nor ages the normaliser for a bucket
// without data.
func (r *Rarity) Score(k int64, parts ...[]ValueSummary) []record.Record {
	return r.scoreSorted(k, sortedUnion(parts...))
}

// scoreSorted is Score of the bucket's values sorted by value (sortedUnion).
func (r *Rarity) scoreSorted(k int64, values []ValueSummary) []record.Record {
	if len(values) == 0 {
		return nil
	}
	if r.modelled == noBucket {
		r.first = k
	}
	r.modelled = k
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = v.Value
	}
	scores := r.model.ScoreBucket(names)
	r.norm.Update(scores)
	start := time.Unix(0, k*int64(r.job.BucketSpan)).UTC()
	// added are the records of the enhanced profile's detectors, which see every bucket,
	// warm-up or not, to learn.
	var added []record.Record
	if r.host != nil {
		// The fleet record's score of each value (0 without one): rare-on-host adds a record
		// only where it says more than the fleet's.
		fleetScores := make([]float64, len(scores))
		for i, s := range scores {
			if s.Probability < r.job.RecordProbability {
				fleetScores[i], _ = r.norm.Normalize(s)
			}
		}
		var err error
		if added, err = r.host.score(k, start, values, scores, fleetScores); err != nil {
			panic(err) // a default model configuration never fails validation
		}
	}
	if r.dest != nil {
		added = append(added, r.dest.score(k, start, values, scores)...)
	}
	if k-r.first < r.job.WarmupBuckets {
		return nil
	}
	var out []record.Record
	total := -1.0
	for i, s := range scores {
		if s.Probability >= r.job.RecordProbability {
			continue
		}
		if total < 0 {
			total = r.model.TotalConcentration()
		}
		v := values[i]
		score, ceil := r.norm.Normalize(s)
		out = append(out, record.Record{
			ID:                 record.ID(r.job.ID, start, r.job.BucketSpan, 0, s.Value),
			JobID:              r.job.ID,
			ResultType:         "record",
			Timestamp:          start.UnixMilli(),
			BucketSpan:         int64(r.job.BucketSpan / time.Second),
			Probability:        s.Probability,
			RecordScore:        score,
			InitialRecordScore: score,
			Function:           "rare",
			FunctionDesc:       "rare",
			ByFieldName:        r.job.ByField,
			ByFieldValue:       s.Value,
			Typical:            []float64{s.Typical},
			Actual:             []float64{s.Actual},
			Influencers:        withScore(v.Influencers, score),
			Explanation: record.Explanation{
				FirstOccurrence:    s.FirstOccurrence,
				RelativeRarity:     s.RelativeRarity,
				Concentration:      s.Concentration,
				TotalConcentration: total,
				DistinctValues:     r.model.Len(),
				RawScore:           s.RawScore,
				Ceilings:           record.Ceilings{Noise: ceil.Noise, Quantile: ceil.Quantile, Ratio: ceil.Ratio, Probability: ceil.Probability, Percentile: ceil.Percentile},
				EventCount:         v.Count,
				BucketsModelled:    k - r.first + 1,
			},
			Examples: v.Examples,
		})
	}
	return append(out, added...)
}

// withScore gives every influencer of a record the record's score: each value present in the
// bucket has full influence (ml-cpp).
func withScore(infs []record.Influencer, score float64) []record.Influencer {
	out := make([]record.Influencer, len(infs))
	for i, inf := range infs {
		inf.Score = score
		out[i] = inf
	}
	return out
}

package scorer

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/rarenet/rarenet/services/scorer/rare"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/job"
	"github.com/rarenet/rarenet/shared/record"
)

// ErrLate is returned for an event whose bucket is already closed.
var ErrLate = errors.New("late event: its bucket is already closed")

// Job is the anomaly detection job: a rare detector over bucketed event time.
type Job struct {
	ID string
	// ResultsIndexName is the Elastic job's results_index_name, announced to the windower,
	// which names the results index in its signals.
	ResultsIndexName string
	BucketSpan       time.Duration
	ByField          string
	Influencers      []string
	// RecordProbability is the probability below which a record is written (ml-cpp: 0.035).
	RecordProbability float64
	// WarmupBuckets suppresses records in the job's first buckets (0: as the reference).
	WarmupBuckets int64
	// HostRarity adds the enhanced profile's second detector: rare process.name on this host
	// (partitioned by host.name), for values common in the fleet.
	HostRarity bool
	// NewDestinations adds the enhanced profile's third detector: a process common in the
	// fleet and on its host that connects to a destination it never used (destrarity.go).
	NewDestinations bool
	// DestinationKey is how that detector compares destinations: "" for its default (port
	// and internal or external, plus the /24 of external addresses), or "ip", "net" or
	// "service" to measure the alternatives (docs/quality.md).
	DestinationKey string
	// Normalizer is which ml-cpp record score normaliser to follow: rare.Normalizer84 (the
	// default, Elastic 8.4 and later) or rare.Normalizer7x (before 8.4).
	Normalizer rare.NormalizerVersion
}

// DefaultJob is v3_linux_anomalous_network_activity, the reference job of 8.3 to 9.3, which the
// scorer's tests model. A scorer runs RuleJob unless told otherwise.
func DefaultJob() Job {
	j, _, err := job.Builtin(job.BuiltinV3)
	if err != nil {
		panic(err) // embedded and tested
	}
	return FromJob(j)
}

// FromJob is the scorer's job for an Elastic job definition.
func FromJob(j job.Job) Job {
	return Job{ID: j.ID, BucketSpan: j.BucketSpan, ByField: j.ByField, Influencers: j.Influencers,
		RecordProbability: 0.035, ResultsIndexName: j.ResultsIndexName}
}

// noBucket marks "no bucket yet" for bucket indexes.
const noBucket = math.MinInt64

// Detector is the whole job on one partition, in memory and without NATS: an Aggregator
// feeding a Rarity directly. Tests and tools use it; the service splits the two halves
// across the BUCKETS stream so that partitions can live on different scorers.
//
// A Detector is not safe for concurrent use.
type Detector struct {
	*Aggregator
	*Rarity
}

// NewDetector returns a Detector with an empty model.
func NewDetector(job Job) (*Detector, error) {
	if job.BucketSpan <= 0 {
		return nil, fmt.Errorf("scorer: bucket span must be positive, got %s", job.BucketSpan)
	}
	r, err := NewRarity(job)
	if err != nil {
		return nil, err
	}
	return &Detector{Aggregator: NewAggregator(job), Rarity: r}, nil
}

// Add puts ev into its bucket, or returns ErrLate when that bucket is closed.
func (d *Detector) Add(ev *event.Event) error {
	_, err := d.Aggregator.Add(ev)
	return err
}

// Complete returns the time before which every bucket is closed.
func (d *Detector) Complete() time.Time {
	if d.closed == noBucket {
		return time.Time{}
	}
	return d.Aggregator.start(d.closed + 1)
}

// CloseBefore closes every bucket that ends at or before wm and returns their records,
// oldest bucket first.
func (d *Detector) CloseBefore(wm time.Time) []record.Record {
	sums, _ := d.Aggregator.CloseBefore(wm)
	return d.score(sums)
}

// CloseAll closes every open bucket, at the end of the input.
func (d *Detector) CloseAll() []record.Record {
	last := d.LastOpen()
	if last == noBucket {
		return nil
	}
	sums, _ := d.CloseThrough(last)
	return d.score(sums)
}

func (d *Detector) score(sums []BucketSummary) []record.Record {
	var out []record.Record
	for _, s := range sums {
		out = append(out, d.Rarity.Score(s.Bucket, s.Values)...)
	}
	return out
}

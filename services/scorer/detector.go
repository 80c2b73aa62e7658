package scorer

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/rarenet/rarenet/services/scorer/rare"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/record"
)

// ErrLate is returned by Detector.Add for an event whose bucket is already closed.
var ErrLate = errors.New("late event: its bucket is already closed")

// Job is the anomaly detection job: a rare detector over bucketed event time.
type Job struct {
	ID          string
	BucketSpan  time.Duration
	ByField     string
	Influencers []string
	// RecordProbability is the probability below which a record is written (ml-cpp: 0.035).
	RecordProbability float64
	// WarmupBuckets suppresses records in the job's first buckets (0: as the reference).
	WarmupBuckets int64
}

// DefaultJob is the reference job, v3_linux_anomalous_network_activity.
func DefaultJob() Job {
	return Job{
		ID:                "v3_linux_anomalous_network_activity",
		BucketSpan:        15 * time.Minute,
		ByField:           "process.name",
		Influencers:       []string{"host.name", "process.name", "user.name", "destination.ip"},
		RecordProbability: 0.035,
	}
}

// noBucket marks "no bucket yet" for bucket indexes.
const noBucket = math.MinInt64

// Detector is the job on event time, without NATS: events go into open buckets, and closing
// a bucket adds it to the rare model, scores it and returns its records. Buckets close in
// order, each once.
//
// A Detector is not safe for concurrent use.
type Detector struct {
	job   Job
	model *rare.Model
	norm  *rare.Normalizer
	open  map[int64]*bucket
	// closed is the index of the last closed bucket: events at or before it are late.
	closed int64
	// first and modelled are the first and the last bucket added to the model.
	first, modelled int64
}

// NewDetector returns a Detector with an empty model.
func NewDetector(job Job) (*Detector, error) {
	if job.BucketSpan <= 0 {
		return nil, fmt.Errorf("scorer: bucket span must be positive, got %s", job.BucketSpan)
	}
	m, err := rare.NewModel(rare.DefaultConfig(job.BucketSpan))
	if err != nil {
		return nil, err
	}
	n, err := rare.NewNormalizer(rare.DefaultNormalizerConfig(job.BucketSpan))
	if err != nil {
		return nil, err
	}
	return &Detector{job: job, model: m, norm: n, open: map[int64]*bucket{}, closed: noBucket, first: noBucket, modelled: noBucket}, nil
}

// bucketOf returns the index of the bucket holding t: buckets are aligned to the epoch.
func (d *Detector) bucketOf(t time.Time) int64 {
	return floorDiv(t.UnixNano(), int64(d.job.BucketSpan))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Add puts ev into its bucket, or returns ErrLate when that bucket is closed.
func (d *Detector) Add(ev *event.Event) error {
	k := d.bucketOf(ev.Timestamp)
	if k <= d.closed {
		return fmt.Errorf("%w: @timestamp %s is in bucket %s, closed through %s", ErrLate,
			ev.Timestamp.Format(time.RFC3339Nano), d.start(k).Format(time.RFC3339), d.start(d.closed).Format(time.RFC3339))
	}
	b := d.open[k]
	if b == nil {
		b = newBucket(k)
		d.open[k] = b
	}
	b.add(ev, d.job.ByField, d.job.Influencers)
	return nil
}

func (d *Detector) start(k int64) time.Time {
	return time.Unix(0, k*int64(d.job.BucketSpan)).UTC()
}

// Complete returns the time before which every bucket is closed: all records of buckets
// starting before it have been returned.
func (d *Detector) Complete() time.Time {
	if d.closed == noBucket {
		return time.Time{}
	}
	return d.start(d.closed + 1)
}

// CloseBefore closes every bucket that ends at or before wm (the watermark) and returns their
// records, oldest bucket first.
func (d *Detector) CloseBefore(wm time.Time) []record.Record {
	last := d.bucketOf(wm) - 1 // the last bucket ending at or before wm
	if last <= d.closed {
		return nil
	}
	var out []record.Record
	for _, k := range d.openBuckets(last) {
		out = append(out, d.closeBucket(d.open[k])...)
		delete(d.open, k)
	}
	d.closed = last
	return out
}

// CloseAll closes every open bucket, at the end of the input.
func (d *Detector) CloseAll() []record.Record {
	last := d.closed
	for k := range d.open {
		last = max(last, k)
	}
	if last == noBucket {
		return nil
	}
	return d.CloseBefore(d.start(last + 1))
}

// openBuckets returns the open buckets at or before last, in order.
func (d *Detector) openBuckets(last int64) []int64 {
	var ks []int64
	for k := range d.open {
		if k <= last {
			ks = append(ks, k)
		}
	}
	for i := 1; i < len(ks); i++ { // few buckets are open at once: insertion sort
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

// closeBucket adds the bucket to the model (decaying over the buckets since the last one,
// empty ones included), scores it, and returns the records for values with probability
// below the job's record probability.
func (d *Detector) closeBucket(b *bucket) []record.Record {
	if d.modelled != noBucket {
		d.model.Advance(int(b.start - d.modelled))
		d.norm.Advance(int(b.start - d.modelled))
	} else {
		d.first = b.start
	}
	d.modelled = b.start
	values := b.sortedValues()
	scores := d.model.ScoreBucket(values)
	d.norm.Update(scores)
	if b.start-d.first < d.job.WarmupBuckets {
		return nil
	}
	start := d.start(b.start)
	var out []record.Record
	for _, s := range scores {
		if s.Probability >= d.job.RecordProbability {
			continue
		}
		a := b.values[s.Value]
		score, ceil := d.norm.Normalize(s)
		out = append(out, record.Record{
			ID:                 record.ID(d.job.ID, start, d.job.BucketSpan, 0, s.Value),
			JobID:              d.job.ID,
			ResultType:         "record",
			Timestamp:          start.UnixMilli(),
			BucketSpan:         int64(d.job.BucketSpan / time.Second),
			Probability:        s.Probability,
			RecordScore:        score,
			InitialRecordScore: score,
			Function:           "rare",
			FunctionDesc:       "rare",
			ByFieldName:        d.job.ByField,
			ByFieldValue:       s.Value,
			Typical:            []float64{s.Typical},
			Actual:             []float64{s.Actual},
			Influencers:        a.influencerList(d.job.Influencers),
			Explanation: record.Explanation{
				FirstOccurrence:    s.FirstOccurrence,
				RelativeRarity:     s.RelativeRarity,
				Concentration:      s.Concentration,
				TotalConcentration: d.model.TotalConcentration(),
				DistinctValues:     d.model.Len(),
				RawScore:           s.RawScore,
				Ceilings:           record.Ceilings{Noise: ceil.Noise, Quantile: ceil.Quantile, Ratio: ceil.Ratio, Probability: ceil.Probability, Percentile: ceil.Percentile},
				EventCount:         a.count,
				BucketsModelled:    b.start - d.first + 1,
			},
			Examples: a.examples,
		})
	}
	return out
}

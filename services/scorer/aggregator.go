package scorer

import (
	"fmt"
	"time"

	"github.com/rarenet/rarenet/shared/event"
)

// Aggregator gathers one partition's events into 15-minute event-time buckets and closes
// them as the watermark passes. It holds no model: that is what lets partitions be spread over
// any number of scorers.
//
// An Aggregator is not safe for concurrent use.
type Aggregator struct {
	job    Job
	fields jobFields
	open   map[int64]*bucket
	// closed is the index of the last closed bucket: events at or before it are late.
	closed int64
	// free holds the value aggregates of closed buckets, for the next ones.
	free []*valueAgg
}

// maxFreeValues bounds the value aggregates an Aggregator keeps for later buckets: one
// bucket of unusually many values leaves no more than this behind (each at most a few KiB:
// its sets are bounded).
const maxFreeValues = 1024

// NewAggregator returns an Aggregator with nothing open or closed.
func NewAggregator(job Job) *Aggregator {
	return &Aggregator{job: job, fields: newJobFields(job), open: map[int64]*bucket{}, closed: noBucket}
}

// bucketOf returns the index of the bucket holding t: buckets are aligned to the epoch.
func (a *Aggregator) bucketOf(t time.Time) int64 {
	return floorDiv(t.UnixNano(), int64(a.job.BucketSpan))
}

func (a *Aggregator) start(k int64) time.Time {
	return time.Unix(0, k*int64(a.job.BucketSpan)).UTC()
}

// Closed returns the index of the last closed bucket (noBucket before the first close).
func (a *Aggregator) Closed() int64 { return a.closed }

// Add puts ev into its bucket and returns the bucket index, or ErrLate when that bucket is
// closed.
func (a *Aggregator) Add(ev *event.Event) (int64, error) {
	k := a.bucketOf(ev.Timestamp)
	if k <= a.closed {
		return k, fmt.Errorf("%w: @timestamp %s is in bucket %s, closed through %s", ErrLate,
			ev.Timestamp.Format(time.RFC3339Nano), a.start(k).Format(time.RFC3339), a.start(a.closed).Format(time.RFC3339))
	}
	b := a.open[k]
	if b == nil {
		b = newJobBucket(k, a.job)
		a.open[k] = b
	}
	b.add(ev, a.fields, &a.free)
	return k, nil
}

// CloseThrough closes every open bucket up to and including bucket last and returns their
// summaries in order. It reports false when last is not past the buckets already closed.
func (a *Aggregator) CloseThrough(last int64) ([]BucketSummary, bool) {
	if last <= a.closed {
		return nil, false
	}
	var out []BucketSummary
	for _, k := range sortedKeys(a.open, last) {
		b := a.open[k]
		out = append(out, b.summary(a.job.Influencers))
		for _, v := range b.values {
			if len(a.free) < maxFreeValues {
				v.reset()
				a.free = append(a.free, v)
			}
		}
		delete(a.open, k)
	}
	a.closed = last
	return out, true
}

// CloseBefore closes every bucket that ends at or before the watermark wm.
func (a *Aggregator) CloseBefore(wm time.Time) ([]BucketSummary, bool) {
	return a.CloseThrough(a.bucketOf(wm) - 1)
}

// LastOpen returns the newest open bucket, or the last closed one when none is open.
func (a *Aggregator) LastOpen() int64 {
	last := a.closed
	for k := range a.open {
		last = max(last, k)
	}
	return last
}

// sortedKeys returns the keys of open at or before last, in order.
func sortedKeys(open map[int64]*bucket, last int64) []int64 {
	var ks []int64
	for k := range open {
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

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

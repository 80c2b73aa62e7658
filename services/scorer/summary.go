package scorer

import (
	"github.com/rarenet/rarenet/shared/record"
)

// PartitionClose is what a partition's aggregator publishes on rarenet.buckets.<p> each time
// its watermark closes buckets: the summaries of the closed buckets that had events, and how
// far the partition is closed. The model scores a bucket once every partition is closed
// through it, over the union of their summaries, so its results never depend on how values
// are spread over partitions.
type PartitionClose struct {
	Partition     int             `json:"partition"`
	ClosedThrough int64           `json:"closed_through"` // bucket index, start / span
	Buckets       []BucketSummary `json:"buckets,omitempty"`
	// EOF marks the end of a replay's input on this partition.
	EOF    bool              `json:"eof,omitempty"`
	Replay string            `json:"replay,omitempty"`
	Stats  map[string]string `json:"stats,omitempty"` // upstream counters (EOF only)
}

// BucketSummary is one closed bucket of one partition: what the model needs of it.
type BucketSummary struct {
	Bucket int64          `json:"bucket"`
	Values []ValueSummary `json:"values"` // sorted by Value
}

// ValueSummary is what a bucket holds of one by-field value.
type ValueSummary struct {
	Value       string              `json:"value"`
	Count       int64               `json:"count"`
	Influencers []record.Influencer `json:"influencers,omitempty"`
	Examples    []record.Example    `json:"examples,omitempty"`
}

// summary turns an open bucket into its summary, values in a stable order.
func (b *bucket) summary(influencers []string) BucketSummary {
	s := BucketSummary{Bucket: b.start, Values: make([]ValueSummary, 0, len(b.values))}
	for _, v := range b.sortedValues() {
		a := b.values[v]
		s.Values = append(s.Values, ValueSummary{Value: v, Count: a.count, Influencers: a.influencerList(influencers), Examples: a.examples})
	}
	return s
}

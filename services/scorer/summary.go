package scorer

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file summary.go -o summary_gen.go -tests=false -io=false

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// The bucket summaries travel from the partitions to the model in msgpack (tinylib/msgp,
// generated with go generate), with the JSON names as keys: they are the scorer's bulk
// once per bucket, and JSON cost more to decode than scoring them.
//
//msgp:tag json
//msgp:timezone utc

// PartitionClose is what a partition's aggregator publishes on rarenet.buckets.<p> each time
// its watermark closes buckets: the summaries of the closed buckets that had events, and how
// far the partition is closed. The model scores a bucket once every partition is closed
// through it, over the union of their summaries, so its results never depend on how values
// are spread over partitions.
type PartitionClose struct {
	Partition     int   `json:"partition"`
	ClosedThrough int64 `json:"closed_through"` // bucket index, start / span
	// After is how far the partition was closed before this close (noBucket before its
	// first): the model takes a partition's closes in that chain, so a close that reaches it
	// before the one it follows (published again after a lost publish) waits for it instead
	// of making it look like a redelivery. Absent in closes of scorers before it.
	After   *int64          `json:"after,omitempty"`
	Buckets []BucketSummary `json:"buckets,omitempty"`
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
	Value        string              `json:"value"`
	Count        int64               `json:"count"`
	Influencers  []record.Influencer `json:"influencers,omitempty"`
	Examples     []record.Example    `json:"examples,omitempty"`
	Users        []string            `json:"users,omitempty"`
	Destinations []record.Endpoint   `json:"destinations,omitempty"`
	// HostDestinations are the destinations per host, one endpoint per destination key, for
	// the new-destination detector (enhanced profile only), sorted by host, then key.
	HostDestinations []HostDestination `json:"host_destinations,omitempty"`
	// HostUsers are the users per host (enhanced profile only), sorted by host, then user.
	HostUsers []HostUser `json:"host_users,omitempty"`
	// Sourced and HostSources are record.ValueSummary's SourcedEvents and HostSources, for
	// the enricher's history: which authenticated sources reported the value on which hosts.
	Sourced     int64               `json:"sourced,omitempty"`
	HostSources []record.HostSource `json:"host_sources,omitempty"`
}

// HostDestination is one destination key a process used on a host in a bucket, as the
// smallest endpoint that has it.
type HostDestination struct {
	Host string `json:"host"`
	IP   string `json:"ip"`
	Port int    `json:"port,omitempty"`
}

// HostUser is one user a process ran as on a host in a bucket.
type HostUser struct {
	Host string `json:"host"`
	User string `json:"user"`
}

// summary turns an open bucket into its summary, values in a stable order.
func (b *bucket) summary(influencers []string) BucketSummary {
	s := BucketSummary{Bucket: b.start, Values: make([]ValueSummary, 0, len(b.values))}
	for _, v := range b.sortedValues() {
		a := b.values[v]
		users := append(make([]string, 0, len(a.users)), a.users...)
		dests := append(make([]record.Endpoint, 0, len(a.dests)), a.dests...)
		s.Values = append(s.Values, ValueSummary{Value: v, Count: a.count, Influencers: a.influencerList(influencers),
			Examples: a.examples, Users: users, Destinations: dests, HostDestinations: a.hostDestList(), HostUsers: a.hostUserList(),
			Sourced: a.sourced, HostSources: a.hostSourceList()})
	}
	return s
}

// hostDestList returns the per-host destinations sorted by host, then key.
func (a *valueAgg) hostDestList() []HostDestination {
	if len(a.hostDests) == 0 {
		return nil
	}
	hosts := make([]string, 0, len(a.hostDests))
	for h := range a.hostDests {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	var out []HostDestination
	for _, h := range hosts {
		keys := make([]string, 0, len(a.hostDests[h]))
		for k := range a.hostDests[h] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ep := a.hostDests[h][k]
			out = append(out, HostDestination{Host: h, IP: ep.IP, Port: ep.Port})
		}
	}
	return out
}

// sortedUnion returns the union of a bucket's partition summaries sorted by value: partitions
// hold disjoint values, and sorting makes the union independent of how values were spread
// over them.
func sortedUnion(parts ...[]ValueSummary) []ValueSummary {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return nil
	}
	values := parts[0] // read only: the union is made below
	if len(parts) > 1 {
		values = make([]ValueSummary, 0, n)
		for _, p := range parts {
			values = append(values, p...)
		}
	}
	// A ValueSummary is some 200 bytes: sort their indexes, then place each once.
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		return cmp.Or(strings.Compare(values[a].Value, values[b].Value), cmp.Compare(a, b))
	})
	out := make([]ValueSummary, n)
	for i, j := range idx {
		out[i] = values[j]
	}
	return out
}

// summaryChunk bounds the values per published bucket summary, to keep messages small.
const summaryChunk = 500

// bucketSummaries turns the union of a bucket's partition summaries, sorted by value
// (sortedUnion), into the summaries the enricher keeps its history from, in chunks.
func bucketSummaries(job Job, k int64, values []ValueSummary) []record.BucketSummary {
	start := k * int64(job.BucketSpan) / int64(time.Millisecond)
	var out []record.BucketSummary
	for len(values) > 0 {
		n := min(len(values), summaryChunk)
		sum := record.BucketSummary{ResultType: record.ResultTypeBucketSummary, JobID: job.ID, Timestamp: start,
			BucketSpan: int64(job.BucketSpan / time.Second), Values: make([]record.ValueSummary, n)}
		for i, v := range values[:n] {
			vs := record.ValueSummary{Value: v.Value, EventCount: v.Count, Users: v.Users, Destinations: v.Destinations,
				SourcedEvents: v.Sourced, HostSources: v.HostSources}
			for _, inf := range v.Influencers {
				if inf.FieldName == "host.name" {
					vs.Hosts = inf.FieldValues
				}
			}
			sum.Values[i] = vs
		}
		out = append(out, sum)
		values = values[n:]
	}
	return out
}

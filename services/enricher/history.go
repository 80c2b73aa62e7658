package enricher

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/rarenet/rarenet/shared/record"
)

// The history of execution is built from the scorer's bucket summaries (one per closed bucket,
// every process.name of the bucket, published before the bucket's records) and kept in the
// KV bucket stream.HistoryBucket: one entry per process.name and one for the fleet.
//
// Every query is "as of" a bucket: it only counts what happened before that bucket, so a
// record gets the same context whether the history already holds its own bucket or later
// ones (a redelivery, a restart, a second replica). Times are bucket starts in Unix ms.
//
// Size: each list is bounded (the constants below), dropping the least recently seen item
// first, so a process entry stays under about 64 KiB of JSON and the fleet entry under about
// 300 KiB; the bucket holds one entry per process.name seen within historyMaxAge.
const (
	maxEpisodes   = 256  // runs of consecutive active buckets, the schedule's evidence
	maxHosts      = 256  // hosts per process
	maxUsers      = 64   // users per process
	maxIPs        = 256  // destination addresses per process
	maxPorts      = 128  // destination ports per process
	maxFleetHosts = 4096 // hosts of the fleet
	// maxHostRuns bounds the runs kept per host (enhanced profile): enough for a week of a
	// job twice a day, or four months of a monthly one.
	maxHostRuns = 16
)

// Seen is when an item (a host, a user, an address, a port) was seen with a process.
type Seen struct {
	First   int64 `json:"f"`
	Last    int64 `json:"l"`
	Buckets int64 `json:"n"`
}

// Episode is a run of consecutive active buckets, [Start, End).
type Episode struct {
	Start int64 `json:"s"`
	End   int64 `json:"e"`
}

// Entry is the history of one process.name.
type Entry struct {
	Name   string `json:"name"`
	SpanMS int64  `json:"span_ms"`
	First  int64  `json:"first"`
	// Episodes are the most recent runs, oldest first; DroppedBuckets counts the active
	// buckets of the runs dropped to keep the bound.
	Episodes       []Episode        `json:"episodes"`
	DroppedBuckets int64            `json:"dropped_buckets,omitempty"`
	Hosts          map[string]*Seen `json:"hosts,omitempty"`
	Users          map[string]*Seen `json:"users,omitempty"`
	IPs            map[string]*Seen `json:"ips,omitempty"`
	Ports          map[string]*Seen `json:"ports,omitempty"`
	// Runs holds, per host, where each of its most recent runs (consecutive active buckets
	// on that host) began, as bucket indexes (bucket start / span): the evidence of a job
	// that recurs on its hosts at any time of day. Only the enhanced profile keeps them.
	Runs map[string][]int64 `json:"runs,omitempty"`
	// Sources are the authenticated sources that reported the process, the earliest first
	// seen kept ("" for unvouched input, once it has any: sources.go); FirstSources, per host
	// of Hosts, the sources of its first bucket there. Absent for unvouched input.
	Sources      map[string]*Seen    `json:"sources,omitempty"`
	FirstSources map[string][]string `json:"first_sources,omitempty"`
}

// Fleet is what the history knows of the whole fleet: the buckets it covers and its hosts.
type Fleet struct {
	SpanMS int64            `json:"span_ms"`
	First  int64            `json:"first"`
	Last   int64            `json:"last"`
	Hosts  map[string]*Seen `json:"hosts,omitempty"`
	// Sources are the sources that reported the fleet ("" for unvouched input), and
	// HostSources, per host of Hosts, when each authenticated source first reported it
	// (bucket start): sources.go.
	Sources     map[string]*Seen            `json:"sources,omitempty"`
	HostSources map[string]map[string]int64 `json:"host_sources,omitempty"`
}

// observation is one value of one bucket summary; runs says to keep each host's runs.
type observation struct {
	bucket, span int64
	value        record.ValueSummary
	runs         bool
}

// lastBucket is the last active bucket the entry holds, or -1.
func (e *Entry) lastBucket() int64 {
	if len(e.Episodes) == 0 {
		return -1
	}
	return e.Episodes[len(e.Episodes)-1].End - e.SpanMS
}

// apply adds one bucket's observation. Buckets arrive in order, so a bucket at or before the
// last one is a repeat (a redelivered summary) and is ignored: applying is idempotent.
func (e *Entry) apply(o observation) {
	if e.SpanMS == 0 {
		e.SpanMS = o.span
		e.First = o.bucket
	}
	if o.bucket <= e.lastBucket() {
		return
	}
	if n := len(e.Episodes); n > 0 && e.Episodes[n-1].End == o.bucket {
		e.Episodes[n-1].End = o.bucket + e.SpanMS
	} else {
		e.Episodes = append(e.Episodes, Episode{Start: o.bucket, End: o.bucket + e.SpanMS})
	}
	if len(e.Episodes) > maxEpisodes {
		d := e.Episodes[0]
		e.DroppedBuckets += (d.End - d.Start) / e.SpanMS
		e.Episodes = slices.Delete(e.Episodes, 0, 1)
	}
	e.First = min(e.First, o.bucket)
	if o.runs {
		e.addRuns(o)
	}
	e.Hosts = see(e.Hosts, o.value.Hosts, o.bucket, maxHosts)
	for h := range e.Runs {
		if e.Hosts[h] == nil {
			delete(e.Runs, h) // dropped by the hosts' bound
		}
	}
	e.Users = see(e.Users, o.value.Users, o.bucket, maxUsers)
	e.seeDestinations(o.value.Destinations, o.bucket)
	e.addSources(o)
}

// seeDestinations is see for the addresses and the ports (as text) of a bucket's
// destinations, without a list of either: a port is looked up from its digits on the stack
// and made a string only when new. Seeing an item twice in a bucket changes nothing, so an
// address or port that repeats the destination before's (a process's destinations share a
// port or two; the scorer sends them in order) is not looked up again.
func (e *Entry) seeDestinations(dests []record.Endpoint, bucket int64) {
	var ips, ports bool
	var digits [20]byte
	for i, d := range dests {
		if d.IP != "" && (i == 0 || d.IP != dests[i-1].IP) {
			e.IPs, ips = seeOne(e.IPs, d.IP, bucket), true
		}
		if d.Port > 0 && (i == 0 || d.Port != dests[i-1].Port) {
			p := strconv.AppendInt(digits[:0], int64(d.Port), 10)
			s := e.Ports[string(p)]
			if s == nil {
				e.Ports = seeOne(e.Ports, string(p), bucket)
			} else {
				s.see(bucket)
			}
			ports = true
		}
	}
	if ips {
		trim(e.IPs, maxIPs)
	}
	if ports {
		trim(e.Ports, maxPorts)
	}
}

// addRuns starts a run on each host of o that was not active in the bucket before (read
// before the hosts are updated with o).
func (e *Entry) addRuns(o observation) {
	k := o.bucket / e.SpanMS
	for _, h := range o.value.Hosts {
		if s := e.Hosts[h]; s != nil && s.Last == o.bucket-e.SpanMS {
			continue // the host's run goes on
		}
		if e.Runs == nil {
			e.Runs = map[string][]int64{}
		}
		runs := append(e.Runs[h], k)
		if len(runs) > maxHostRuns {
			runs = slices.Delete(runs, 0, len(runs)-maxHostRuns)
		}
		e.Runs[h] = runs
	}
}

// RunsBefore returns the starts (Unix ms) of host's runs up to and including bucket k: the
// run that holds k, when the host is active in k, is the last.
func (e *Entry) RunsBefore(host string, k int64) []int64 {
	var out []int64
	for _, r := range e.Runs[host] {
		if r*e.SpanMS > k {
			break
		}
		out = append(out, r*e.SpanMS)
	}
	return out
}

// see records items as seen in bucket, counting the bucket once per item, and keeps at most
// limit items by dropping the least recently seen (ties by name, for determinism).
func see(m map[string]*Seen, items []string, bucket int64, limit int) map[string]*Seen {
	if len(items) == 0 {
		return m
	}
	for _, it := range items {
		m = seeOne(m, it, bucket)
	}
	trim(m, limit)
	return m
}

// seeOne records item as seen in bucket, making m when nil, and returns m.
func seeOne(m map[string]*Seen, item string, bucket int64) map[string]*Seen {
	if m == nil {
		m = map[string]*Seen{}
	}
	if s := m[item]; s != nil {
		s.see(bucket)
	} else {
		m[item] = &Seen{First: bucket, Last: bucket, Buckets: 1}
	}
	return m
}

// see counts bucket for an item seen before, once.
func (s *Seen) see(bucket int64) {
	switch {
	case bucket > s.Last:
		s.Last, s.Buckets = bucket, s.Buckets+1
	case bucket < s.First:
		s.First = bucket
	}
}

// apply adds the hosts of one bucket to the fleet. It is idempotent without ordering:
// the fleet keeps no counts.
func (f *Fleet) apply(o observation) {
	if f.SpanMS == 0 {
		f.SpanMS, f.First, f.Last = o.span, o.bucket, o.bucket
	}
	f.First, f.Last = min(f.First, o.bucket), max(f.Last, o.bucket)
	if f.Hosts == nil {
		f.Hosts = map[string]*Seen{}
	}
	widen(f.Hosts, o.value.Hosts, o.bucket)
	trim(f.Hosts, maxFleetHosts)
	f.addSources(o)
}

// widen records items as seen in bucket by widening each one's span, as the fleet keeps
// them: no counts, so a bucket applied twice or out of order changes nothing.
func widen(m map[string]*Seen, items []string, bucket int64) {
	for _, it := range items {
		s := m[it]
		if s == nil {
			m[it] = &Seen{First: bucket, Last: bucket, Buckets: 1}
			continue
		}
		s.First, s.Last = min(s.First, bucket), max(s.Last, bucket)
	}
}

// trim keeps the limit most recently seen items of m (ties by name, for determinism).
func trim(m map[string]*Seen, limit int) {
	if len(m) <= limit {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[a].Last, m[b].Last), cmp.Compare(a, b))
	})
	for _, k := range keys[:len(m)-limit] {
		delete(m, k)
	}
}

// Covers reports whether the history can speak for bucket k: it started at or before k.
func (f *Fleet) Covers(k int64) bool { return f != nil && f.SpanMS > 0 && f.First <= k }

// BucketsBefore is the number of buckets the history spans before bucket k.
func (f *Fleet) BucketsBefore(k int64) int64 {
	if !f.Covers(k) {
		return 0
	}
	return (k - f.First) / f.SpanMS
}

// seenBefore returns the item's record as of bucket k, or nil when it was not seen before k.
func seenBefore(m map[string]*Seen, item string, k int64) *Seen {
	s := m[item]
	if s == nil || s.First >= k {
		return nil
	}
	return s
}

// bucketsBefore is the item's active buckets before k. The history is at most at bucket k
// when a record of k is enriched in order (its summary comes first), so a last bucket at k
// is one bucket too many.
func (s *Seen) bucketsBefore(k int64) int64 {
	if s.Last >= k {
		return max(s.Buckets-1, 1)
	}
	return s.Buckets
}

// countBefore counts the items of m seen before k, plus the extra items not among them.
func countBefore(m map[string]*Seen, k int64, extra []string) int {
	n := 0
	for _, s := range m {
		if s.First < k {
			n++
		}
	}
	for _, x := range extra {
		if seenBefore(m, x, k) == nil {
			n++
		}
	}
	return n
}

// ActiveBefore counts the buckets before k in which the process connected.
func (e *Entry) ActiveBefore(k int64) int64 {
	if e == nil {
		return 0
	}
	n := e.DroppedBuckets
	for _, ep := range e.Episodes {
		if ep.Start >= k {
			break
		}
		n += (min(ep.End, k) - ep.Start) / e.SpanMS
	}
	return n
}

// SeenBefore reports whether the process connected before bucket k.
func (e *Entry) SeenBefore(k int64) bool { return e != nil && e.SpanMS > 0 && e.First < k }

// LastBefore is the last active bucket before k (only valid when SeenBefore).
func (e *Entry) LastBefore(k int64) int64 {
	last := e.First
	for _, ep := range e.Episodes {
		if ep.Start >= k {
			break
		}
		last = min(ep.End, k) - e.SpanMS
	}
	return last
}

// runsThrough returns the start of every run before k, and k itself unless k continues the
// last run: the occurrences in which a schedule is sought.
func (e *Entry) runsThrough(k int64) []int64 {
	var runs []int64
	cont := false
	if e != nil {
		for _, ep := range e.Episodes {
			if ep.Start >= k {
				break
			}
			runs = append(runs, ep.Start)
			cont = ep.End >= k
		}
	}
	if !cont {
		runs = append(runs, k)
	}
	return runs
}

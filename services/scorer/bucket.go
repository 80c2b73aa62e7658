package scorer

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/record"
)

// Bounds that keep a bucket's memory proportional to its distinct process names, whatever the
// event rate.
const (
	maxExamples        = 3
	maxInfluenceValues = 100
	maxDestinations    = 100
	maxUsers           = 100
	// maxHostDestKeys bounds, per process and host, the destination keys a bucket keeps for
	// the new-destination detector (hosts are bounded as host.name influencers are).
	maxHostDestKeys = 16
	// maxHostSources bounds the (host, authenticated source) pairs of a value in a bucket:
	// every host of the host.name influencer with up to two sources each.
	maxHostSources = 2 * maxInfluenceValues
)

// bucket gathers one 15-minute bucket of events, per by-field value.
type bucket struct {
	start  int64 // bucket index: start / span
	values map[string]*valueAgg
	// hostDests turns on the gathering of each host's destination keys, for the enhanced
	// profile's new-destination detector; granularity is its Job.DestinationKey.
	hostDests   bool
	granularity string
	uids        map[string]string // see uidName
}

// valueAgg is what the bucket knows of one process.name: how often it connected, every
// influencer value (bounded), and the first few events as examples.
//
// The bounded sets the summary lists sorted are kept as sorted slices: an event finds its
// value in a few comparisons, the largest to drop is the last, and the summary copies them
// as they are. A closed bucket's valueAggs are used again by later buckets (Aggregator.free),
// so a bucket of the values of the one before allocates nothing for them.
type valueAgg struct {
	count       int64
	influencers [][]string // by the job's influencer, in its order; each sorted
	examples    []record.Example
	// dests and users feed the enricher's history: which address and port, and which user
	// (user.name, or uid=<id> where only the id is known) the process used. Sorted.
	dests []record.Endpoint
	users []string
	// hostDests holds, per host, per destination key, the smallest endpoint with that key
	// (new-destination detector only).
	hostDests map[string]map[string]record.Endpoint
	// hostUsers holds, per host, the users the process ran as (new-destination detector
	// only; pairusers.go).
	hostUsers map[string]map[string]struct{}
	// sourced counts the events an authenticated source vouched for, and hostSources holds
	// their smallest (host, source) pairs: which source reported the process where, for the
	// enricher's history (poisoning: a value whose history one source alone wrote). Made
	// only for such events, so other input costs nothing.
	sourced     int64
	hostSources map[record.HostSource]struct{}
}

func newBucket(k int64) *bucket { return &bucket{start: k, values: map[string]*valueAgg{}} }

// uidName is the user of an event that has only the numeric id, "uid=<id>", made once per
// bucket and id rather than once per event.
func (b *bucket) uidName(id string) string {
	if u, ok := b.uids[id]; ok {
		return u
	}
	if b.uids == nil {
		b.uids = map[string]string{}
	}
	u := "uid=" + id
	b.uids[id] = u
	return u
}

// newJobBucket is a bucket that gathers what job's detectors need.
func newJobBucket(k int64, job Job) *bucket {
	b := newBucket(k)
	b.hostDests, b.granularity = job.NewDestinations, job.DestinationKey
	return b
}

// jobFields reads the fields of a job's events: the by field and the influencers, in the
// job's order.
type jobFields struct {
	by          func(*event.Event) string
	influencers []func(*event.Event) string
}

func newJobFields(job Job) jobFields {
	f := jobFields{by: fieldOf(job.ByField), influencers: make([]func(*event.Event) string, len(job.Influencers))}
	for i, name := range job.Influencers {
		f.influencers[i] = fieldOf(name)
	}
	return f
}

// fieldOf returns what reads the named field of an event, as Event.Field does: its switch
// on the name, taken once per job rather than five times per event, for the fields of the
// built-in jobs.
func fieldOf(name string) func(*event.Event) string {
	switch name {
	case "process.name":
		return func(e *event.Event) string { return e.Process.Name }
	case "host.name":
		return func(e *event.Event) string { return e.Host.Name }
	case "user.name":
		return func(e *event.Event) string { return e.User.Name }
	case "destination.ip":
		return func(e *event.Event) string { return e.Destination.IP }
	}
	return func(e *event.Event) string { return e.Field(name) }
}

// add puts ev into the bucket; free holds valueAggs to use again (see valueAgg).
func (b *bucket) add(ev *event.Event, fields jobFields, free *[]*valueAgg) {
	v := fields.by(ev)
	a := b.values[v]
	if a == nil {
		if n := len(*free); n > 0 {
			a = (*free)[n-1]
			(*free)[n-1] = nil
			*free = (*free)[:n-1]
		} else {
			a = &valueAgg{influencers: make([][]string, len(fields.influencers))}
		}
		b.values[v] = a
	}
	a.count++
	// Every bound keeps the smallest items, not the first to arrive, so a bucket's summary is
	// the same whatever order its events came in (several ingest replicas, redeliveries).
	for i, f := range fields.influencers {
		if val := f(ev); val != "" {
			a.influencers[i] = keepSmallestSorted(a.influencers[i], val, maxInfluenceValues)
		}
	}
	keepExample(a, ev)
	if ip := ev.Destination.IP; ip != "" {
		a.dests = keepSmallestEndpoint(a.dests, record.Endpoint{IP: ip, Port: ev.Destination.Port}, maxDestinations)
	}
	user := ev.User.Name
	if user == "" && ev.User.ID != "" {
		user = b.uidName(ev.User.ID)
	}
	if user != "" {
		a.users = keepSmallestSorted(a.users, user, maxUsers)
	}
	if b.hostDests {
		a.addHostDest(ev, b.granularity)
		a.addHostUser(ev.Host.Name, user)
	}
	if src := ev.Origin.AuthSource; src != "" {
		a.sourced++
		if a.hostSources == nil {
			a.hostSources = map[record.HostSource]struct{}{}
		}
		keepSmallest(a.hostSources, record.HostSource{Host: ev.Host.Name, Source: src}, maxHostSources, compareHostSource)
	}
}

func compareHostSource(x, y record.HostSource) int {
	return cmp.Or(strings.Compare(x.Host, y.Host), strings.Compare(x.Source, y.Source))
}

// hostSourceList returns the (host, source) pairs sorted by host, then source.
func (a *valueAgg) hostSourceList() []record.HostSource {
	if len(a.hostSources) == 0 {
		return nil
	}
	out := make([]record.HostSource, 0, len(a.hostSources))
	for hs := range a.hostSources {
		out = append(out, hs)
	}
	slices.SortFunc(out, compareHostSource)
	return out
}

// addHostDest keeps ev's destination under its host and key: the smallest endpoint per key,
// the smallest keys per host and the smallest hosts, so the result does not depend on the
// events' order.
func (a *valueAgg) addHostDest(ev *event.Event, granularity string) {
	key, ok := destKeyOf(granularity, ev.Destination.IP, ev.Destination.Port)
	if !ok || ev.Host.Name == "" {
		return
	}
	if a.hostDests == nil {
		a.hostDests = map[string]map[string]record.Endpoint{}
	}
	host := ev.Host.Name
	keys := a.hostDests[host]
	if keys == nil {
		if !roomFor(a.hostDests, host, maxInfluenceValues) {
			return
		}
		keys = map[string]record.Endpoint{}
		a.hostDests[host] = keys
	}
	ep := record.Endpoint{IP: ev.Destination.IP, Port: ev.Destination.Port}
	k := key.String()
	if old, ok := keys[k]; ok {
		if compareEndpoint(ep, old) < 0 {
			keys[k] = ep
		}
		return
	}
	if !roomFor(keys, k, maxHostDestKeys) {
		return
	}
	keys[k] = ep
}

// roomFor reports whether key, not in m, may enter m, a map bounded to the limit smallest
// keys: at once while there is room, else by dropping the largest key when key sorts before it.
func roomFor[V any](m map[string]V, key string, limit int) bool {
	if len(m) < limit {
		return true
	}
	largest := ""
	for k := range m {
		largest = max(largest, k)
	}
	if key > largest {
		return false
	}
	delete(m, largest)
	return true
}

// keepSmallest adds v to a set bounded to limit items, keeping the smallest ones.
func keepSmallest[T comparable](set map[T]struct{}, v T, limit int, cmp func(a, b T) int) {
	if _, ok := set[v]; ok {
		return
	}
	if len(set) < limit {
		set[v] = struct{}{}
		return
	}
	var largest T
	first := true
	for k := range set {
		if first || cmp(k, largest) > 0 {
			largest, first = k, false
		}
	}
	if cmp(v, largest) < 0 {
		delete(set, largest)
		set[v] = struct{}{}
	}
}

// keepSmallestSorted adds v to s, a sorted slice bounded to limit items, keeping the
// smallest ones, and returns s.
func keepSmallestSorted(s []string, v string, limit int) []string {
	// slices.BinarySearch, without cmp.Less's NaN check, which compares each string with
	// itself at every step.
	i, j := 0, len(s)
	for i < j {
		h := int(uint(i+j) >> 1)
		if s[h] < v {
			i = h + 1
		} else {
			j = h
		}
	}
	return keepAt(s, v, i, i < len(s) && s[i] == v, limit)
}

// keepSmallestEndpoint is keepSmallestSorted for endpoints sorted by compareEndpoint.
func keepSmallestEndpoint(s []record.Endpoint, v record.Endpoint, limit int) []record.Endpoint {
	i, j := 0, len(s)
	for i < j {
		h := int(uint(i+j) >> 1)
		if c := strings.Compare(s[h].IP, v.IP); c < 0 || c == 0 && s[h].Port < v.Port {
			i = h + 1
		} else {
			j = h
		}
	}
	return keepAt(s, v, i, i < len(s) && s[i] == v, limit)
}

// keepAt puts v at index i of the sorted, bounded s, where a binary search placed it.
func keepAt[T any](s []T, v T, i int, found bool, limit int) []T {
	switch {
	case found || i >= limit:
		return s // present, or larger than all of a full s
	case len(s) < limit:
		return slices.Insert(s, i, v)
	}
	copy(s[i+1:], s[i:limit-1]) // the largest drops off the end
	s[i] = v
	return s
}

// keepExample keeps the earliest examples by time, then source and line, in that order.
func keepExample(a *valueAgg, ev *event.Event) {
	if len(a.examples) == maxExamples && ev.Timestamp.After(a.examples[maxExamples-1].Timestamp) {
		return // later than every example kept: most events, and no example to build
	}
	e := example(ev)
	i, _ := slices.BinarySearchFunc(a.examples, e, compareExample)
	if i >= maxExamples {
		return
	}
	if a.examples == nil {
		// The summary takes the examples as they are: room for all from the start.
		a.examples = make([]record.Example, 0, maxExamples)
	}
	a.examples = keepAt(a.examples, e, i, false, maxExamples)
}

func compareExample(x, y record.Example) int {
	return cmp.Or(x.Timestamp.Compare(y.Timestamp), strings.Compare(x.Source, y.Source), cmp.Compare(x.PID, y.PID))
}

func compareEndpoint(x, y record.Endpoint) int {
	return cmp.Or(strings.Compare(x.IP, y.IP), cmp.Compare(x.Port, y.Port))
}

// sortedValues returns the bucket's by-field values in a stable order.
func (b *bucket) sortedValues() []string {
	vs := make([]string, 0, len(b.values))
	for v := range b.values {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// influencerList returns the record's influencers in the job's order, values sorted, as
// Elastic writes them.
func (a *valueAgg) influencerList(fields []string) []record.Influencer {
	n := 0
	for _, vals := range a.influencers {
		if len(vals) > 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]record.Influencer, 0, n)
	for i, f := range fields {
		if vals := a.influencers[i]; len(vals) > 0 {
			out = append(out, record.Influencer{FieldName: f, FieldValues: slices.Clone(vals)})
		}
	}
	return out
}

// reset empties a for another bucket, keeping the room of its sorted sets but not their
// strings, which would otherwise live as long as a. The examples went to the bucket's
// summary.
func (a *valueAgg) reset() {
	for i, vals := range a.influencers {
		clear(vals)
		a.influencers[i] = vals[:0]
	}
	clear(a.dests)
	clear(a.users)
	*a = valueAgg{influencers: a.influencers, dests: a.dests[:0], users: a.users[:0]}
}

func example(ev *event.Event) record.Example {
	src := ev.Origin.Source
	if src != "" && ev.Origin.Line > 0 {
		var line [20]byte // the conversion in a concatenation allocates nothing of its own
		src += ":" + string(strconv.AppendInt(line[:0], ev.Origin.Line, 10))
	}
	return record.Example{
		Timestamp:        ev.Timestamp,
		HostName:         ev.Host.Name,
		UserName:         ev.User.Name,
		UserID:           ev.User.ID,
		PID:              ev.Process.PID,
		ParentPID:        ev.Process.Parent.PID,
		Executable:       ev.Process.Executable,
		Args:             slices.Clone(ev.Process.Args), // the event's may be shared and reused
		Title:            ev.Process.Title,
		WorkingDirectory: ev.Process.WorkingDirectory,
		DestinationIP:    ev.Destination.IP,
		DestinationPort:  ev.Destination.Port,
		Outcome:          ev.Event.Outcome,
		Source:           src,
	}
}

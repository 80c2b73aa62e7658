package enricher

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Poisoning: whoever can write events can teach the model, so the history keeps which
// authenticated sources (event Origin.AuthSource: an HTTP token, or a NATS source bound to
// its raw subject) reported each process and each host, and the context says when a
// process's history came from one source alone, or first appeared on a host from a source
// that had never reported that host before (docs/security.md, "Poisoning"). Input no source
// vouched for (files replayed, unbound subjects) adds nothing to the process entries, and to
// the fleet entry only the unnamed source "".
//
// Size: a process entry keeps at most maxSources sources (the earliest first seen) and, per
// host, maxFirstSources sources of the process's first bucket there; the fleet keeps
// maxFleetSources sources (the least recently seen dropped first) and, per host,
// maxHostSources sources (the earliest). Names are kept to maxSourceName bytes. At the bounds,
// with names that long, that is about 35 KiB more per process entry and 600 KiB more for the
// fleet (under the KV bucket's 1 MiB per entry); with one source per host and short names,
// about a tenth of that.
const (
	maxSources      = 8
	maxFirstSources = 2
	maxFleetSources = 256
	maxHostSources  = 2
	maxSourceName   = 64
)

// unvouched is the fleet's name for input no source vouched for.
const unvouched = ""

// sourceKey is the name a source is kept under.
func sourceKey(name string) string {
	if len(name) > maxSourceName {
		return name[:maxSourceName]
	}
	return name
}

// observedSources returns the distinct authenticated sources of o, sorted, and whether o
// also had events none vouched for.
func observedSources(o observation) (sources []string, unvouchedToo bool) {
	for _, hs := range o.value.HostSources {
		sources = append(sources, sourceKey(hs.Source))
	}
	slices.Sort(sources)
	return slices.Compact(sources), o.value.SourcedEvents < o.value.EventCount
}

// addSources records the sources of one bucket of the process, after its hosts (read as
// updated: a host first seen in this bucket starts its first sources). Only vouched-for
// events make entries: a bucket of unvouched events alone counts as "" only once the
// process has sources, and its earlier unvouched history is counted as "" from e.First
// when its first source comes, so that the sources before any bucket are exactly known
// without a mark on the entries of unvouched input.
func (e *Entry) addSources(o observation) {
	sources, unvouchedToo := observedSources(o)
	if len(sources) == 0 && len(e.Sources) == 0 {
		return
	}
	if e.Sources == nil {
		e.Sources = map[string]*Seen{}
		if e.First < o.bucket {
			e.Sources[unvouched] = &Seen{First: e.First, Last: e.First, Buckets: 1}
		}
	}
	if unvouchedToo {
		sources = append(sources, unvouched)
	}
	e.Sources = see(e.Sources, sources, o.bucket, len(e.Sources)+len(sources))
	trimLatest(e.Sources, maxSources)
	for _, hs := range o.value.HostSources {
		s := e.Hosts[hs.Host]
		if hs.Host == "" || s == nil || s.First != o.bucket {
			continue
		}
		if e.FirstSources == nil {
			e.FirstSources = map[string][]string{}
		}
		if first := e.FirstSources[hs.Host]; len(first) < maxFirstSources && !slices.Contains(first, sourceKey(hs.Source)) {
			e.FirstSources[hs.Host] = append(first, sourceKey(hs.Source))
		}
	}
	for h := range e.FirstSources {
		if e.Hosts[h] == nil {
			delete(e.FirstSources, h) // dropped by the hosts' bound
		}
	}
}

// trimLatest keeps the limit items of m first seen earliest (ties by name): who wrote a
// value's first appearances is what tells of poisoning, and the sources before any bucket
// stay exact while fewer than limit are kept before it.
func trimLatest(m map[string]*Seen, limit int) {
	if len(m) <= limit {
		return
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[a].First, m[b].First), cmp.Compare(a, b)) })
	for _, k := range keys[limit:] {
		delete(m, k)
	}
}

// addSources records the sources of one bucket in the fleet: the sources (unvouched input
// as ""), and when each authenticated source first reported each host. Like the rest of
// the fleet it is idempotent without ordering.
func (f *Fleet) addSources(o observation) {
	sources, unvouchedToo := observedSources(o)
	if unvouchedToo {
		sources = append(sources, unvouched)
	}
	if f.Sources == nil {
		f.Sources = map[string]*Seen{}
	}
	widen(f.Sources, sources, o.bucket)
	trim(f.Sources, maxFleetSources)
	for _, hs := range o.value.HostSources {
		if hs.Host == "" || f.Hosts[hs.Host] == nil {
			continue
		}
		if f.HostSources == nil {
			f.HostSources = map[string]map[string]int64{}
		}
		m := f.HostSources[hs.Host]
		if m == nil {
			m = map[string]int64{}
			f.HostSources[hs.Host] = m
		}
		src := sourceKey(hs.Source)
		if first, ok := m[src]; !ok || o.bucket < first {
			m[src] = o.bucket
		}
		if len(m) > maxHostSources {
			keys := slices.Collect(maps.Keys(m))
			slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[a], m[b]), cmp.Compare(a, b)) })
			for _, k := range keys[maxHostSources:] {
				delete(m, k)
			}
		}
	}
	for h := range f.HostSources {
		if f.Hosts[h] == nil {
			delete(f.HostSources, h) // dropped by the hosts' bound
		}
	}
}

// sourcesBefore returns the process's sources first seen before bucket k, earliest first,
// and whether the list is complete (fewer than the bound were kept before k).
func (e *Entry) sourcesBefore(k int64) (sources []string, complete bool) {
	for name, s := range e.Sources {
		if s.First < k {
			sources = append(sources, name)
		}
	}
	slices.SortFunc(sources, func(a, b string) int {
		return cmp.Or(cmp.Compare(e.Sources[a].First, e.Sources[b].First), cmp.Compare(a, b))
	})
	return sources, len(sources) < maxSources
}

// onlySource is the one authenticated source of the whole of the process's history before
// bucket k, when something else reports its hosts: another source reported one of them
// before k, or one of them was known before that source first reported it. A process that
// only one shipper's hosts run, which only that shipper reports, is no news; one whose
// every appearance came from a source other sources' hosts never saw it from is. "" when
// not so.
func onlySource(e *Entry, f *Fleet, k int64) string {
	sources, complete := e.sourcesBefore(k)
	if !complete || len(sources) != 1 || sources[0] == unvouched {
		return ""
	}
	only := sources[0]
	for host, s := range e.Hosts {
		if s.First >= k {
			continue
		}
		reporters := f.HostSources[host]
		for src, at := range reporters {
			if src != only && at < k {
				return only
			}
		}
		if at, ok := reporters[only]; ok && f.Hosts[host] != nil && f.Hosts[host].First < at {
			return only
		}
	}
	return ""
}

// hostSources returns the authenticated sources of the process's first bucket on host, as
// of bucket k (its first bucket there at or before k), and those of them that had never
// reported the host before that bucket, which something else had.
func hostSources(e *Entry, f *Fleet, host string, k int64) (first, fresh []string) {
	s := e.Hosts[host]
	if s == nil || s.First > k {
		return nil, nil
	}
	first = slices.Sorted(slices.Values(e.FirstSources[host]))
	fh := f.Hosts[host]
	if fh == nil || fh.First >= s.First {
		return first, nil // nothing reported the host before the process came
	}
	for _, src := range first {
		if at, ok := f.HostSources[host][src]; ok && at == s.First {
			fresh = append(fresh, src)
		}
	}
	return first, fresh
}

// maxListedHosts bounds the hosts a fact names.
const maxListedHosts = 5

// sourceFacts are the clauses of the reason about who wrote the process's history, from
// the history of a record of bucket k (Unix ms):
//
//	first seen 3 days ago, only from source web-shipper-2
//	first seen 3 days ago, only from source web-shipper-2, which had never reported web-3 before
//	on web-1, web-2 first seen from source web-shipper-2, which had never reported those hosts before
func sourceFacts(h *record.History, k int64) []string {
	fresh := map[string][]string{} // source: hosts
	for _, hh := range h.Hosts {
		for _, src := range hh.NewSources {
			fresh[src] = append(fresh[src], hh.Name)
		}
	}
	var facts []string
	if h.OnlySource != "" && h.FirstSeen != nil {
		f := "first seen " + ago(k-h.FirstSeen.UnixMilli()) + " ago, only from source " + h.OnlySource
		if hosts := fresh[h.OnlySource]; len(hosts) > 0 {
			f += ", which had never reported " + listHosts(hosts) + " before"
			delete(fresh, h.OnlySource)
		}
		facts = append(facts, f)
	}
	for _, src := range slices.Sorted(maps.Keys(fresh)) {
		hosts := fresh[src]
		those := "that host"
		if len(hosts) > 1 {
			those = "those hosts"
		}
		facts = append(facts, "on "+listHosts(hosts)+" first seen from source "+src+", which had never reported "+those+" before")
	}
	return facts
}

// listHosts names the hosts, at most maxListedHosts of them: "web-1, web-2 and 4 more".
func listHosts(hosts []string) string {
	if len(hosts) <= maxListedHosts {
		return strings.Join(hosts, ", ")
	}
	return strings.Join(hosts[:maxListedHosts], ", ") + fmt.Sprintf(" and %d more", len(hosts)-maxListedHosts)
}

// ago says a span of milliseconds in its largest whole unit: "3 days", "1 hour", "45
// minutes".
func ago(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= 24*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return unit(int64(d/time.Hour), "hour")
	default:
		return unit(int64(d/time.Minute), "minute")
	}
}

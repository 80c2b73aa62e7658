package scorer

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/record"
)

// TestSummaryIsIndependentOfArrivalOrder feeds one bucket's events in many orders, with more
// distinct influencer values, destinations, users and events than the bounds keep: the summary
// must be the same every time, as it is when several ingest replicas interleave differently.
func TestSummaryIsIndependentOfArrivalOrder(t *testing.T) {
	var evs []*event.Event
	for i := range 300 {
		e := ev(at(0).Add(time.Duration(i%50)*time.Second), "curl")
		e.Host.Name = fmt.Sprintf("host-%03d", i)
		e.User.Name = fmt.Sprintf("user-%03d", i%150)
		e.Destination = event.Endpoint{IP: fmt.Sprintf("10.0.%d.%d", i/200, i%200), Port: 443 + i%3}
		e.Origin = event.Origin{Source: "f", Line: int64(i + 1)}
		if i%4 != 0 {
			e.Origin.AuthSource = fmt.Sprintf("shipper-%d", i%4)
		}
		evs = append(evs, e)
	}
	job := DefaultJob()
	job.NewDestinations = true
	var want string
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 5 {
		b := newJobBucket(0, job)
		for _, e := range evs {
			b.add(e, newJobFields(job), new([]*valueAgg))
		}
		got, err := json.Marshal(b.summary(job.Influencers))
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			want = string(got)
			var s BucketSummary
			if err := json.Unmarshal(got, &s); err != nil {
				t.Fatal(err)
			}
			v := s.Values[0]
			if len(v.Examples) != maxExamples || v.Examples[0].Source != "f:1" || len(v.Users) != maxUsers || len(v.Destinations) != maxDestinations ||
				len(v.HostDestinations) != maxInfluenceValues || v.Sourced != 225 || len(v.HostSources) != maxHostSources ||
				v.HostSources[0] != (record.HostSource{Host: "host-001", Source: "shipper-1"}) {
				t.Fatalf("bounds not applied as expected: %d examples (first %s), %d users, %d destinations, %d host destinations, %d sourced events in %d host sources (first %+v)",
					len(v.Examples), v.Examples[0].Source, len(v.Users), len(v.Destinations), len(v.HostDestinations), v.Sourced, len(v.HostSources), v.HostSources[:min(1, len(v.HostSources))])
			}
		} else if string(got) != want {
			t.Fatalf("order %d gives another summary", round)
		}
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	}
}

// TestReusedValuesSummarizeAsNew closes buckets one after another in one Aggregator, which
// gives the value aggregates of each closed bucket to the next: every summary must be what a
// fresh Aggregator makes of its bucket alone, and stay so as later buckets fill.
func TestReusedValuesSummarizeAsNew(t *testing.T) {
	job := DefaultJob()
	job.NewDestinations = true
	rng := rand.New(rand.NewPCG(5, 6))
	// Many values with wide sets, then few with narrow ones, then many again.
	shapes := []struct{ values, hosts, events int }{{40, 150, 3000}, {3, 2, 50}, {60, 120, 4000}, {5, 1, 20}}
	buckets := make([][]*event.Event, len(shapes))
	for k, sh := range shapes {
		for i := range sh.events {
			e := ev(at(k).Add(time.Duration(rng.IntN(int(span/time.Second)))*time.Second), fmt.Sprintf("p%02d", rng.IntN(sh.values)))
			e.Host.Name = fmt.Sprintf("h%03d", rng.IntN(sh.hosts))
			e.User = event.User{Name: []string{"", "root", fmt.Sprintf("u%d", rng.IntN(sh.hosts))}[rng.IntN(3)], ID: fmt.Sprint(rng.IntN(9))}
			e.Destination = event.Endpoint{IP: fmt.Sprintf("10.0.%d.%d", rng.IntN(3), rng.IntN(sh.hosts)), Port: 443 + rng.IntN(2)}
			e.Origin = event.Origin{Source: "f", Line: int64(i + 1), AuthSource: []string{"", "s1"}[rng.IntN(2)]}
			buckets[k] = append(buckets[k], e)
		}
	}
	summarize := func(s []BucketSummary) string {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	reused := NewAggregator(job)
	var got []BucketSummary
	var first []string
	for k, evs := range buckets {
		fresh := NewAggregator(job)
		for _, e := range evs {
			if _, err := reused.Add(e); err != nil {
				t.Fatal(err)
			}
			if _, err := fresh.Add(e); err != nil {
				t.Fatal(err)
			}
		}
		r, _ := reused.CloseThrough(reused.bucketOf(at(k)))
		f, _ := fresh.CloseThrough(fresh.bucketOf(at(k)))
		if len(r) != 1 || len(r[0].Values) == 0 {
			t.Fatalf("bucket %d: %d summaries closed", k, len(r))
		}
		if a, b := summarize(r), summarize(f); a != b {
			t.Fatalf("bucket %d: the reused aggregates summarize as\n%s\nfresh ones as\n%s", k, a, b)
		}
		got = append(got, r...)
		first = append(first, summarize(r))
	}
	for k := range got {
		if s := summarize(got[k : k+1]); s != first[k] {
			t.Errorf("bucket %d's summary changed as later buckets filled", k)
		}
	}
}

// TestFieldOfReadsAsEventField holds the job's field readers to Event.Field, for every
// field of the built-in jobs and one it does not know.
func TestFieldOfReadsAsEventField(t *testing.T) {
	e := &event.Event{Host: event.Host{Name: "web-1", ID: "h-1"}, Process: event.Process{Name: "curl"},
		User: event.User{Name: "www", ID: "33"}, Destination: event.Endpoint{IP: "10.0.0.1", Port: 443},
		Event: event.Connection("connected-to")}
	e.Event.Module = "auditd"
	names := []string{"process.name", "host.name", "host.id", "user.name", "user.id", "destination.ip", "destination.port", "event.module", "no.such.field"}
	for _, name := range names {
		if got, want := fieldOf(name)(e), e.Field(name); got != want {
			t.Errorf("%s: %q, Event.Field %q", name, got, want)
		}
	}
	empty := &event.Event{}
	for _, name := range names {
		if got := fieldOf(name)(empty); got != "" {
			t.Errorf("%s of an empty event: %q", name, got)
		}
	}
}

// TestSortedSetsKeepWhatSetsKeep holds the sorted bounded slices to the bounded sets they
// replace: the same smallest items, in order, for random streams with repeats.
func TestSortedSetsKeepWhatSetsKeep(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for round := range 200 {
		limit := 1 + rng.IntN(8)
		strs, strSet := []string(nil), map[string]struct{}{}
		eps, epSet := []record.Endpoint(nil), map[record.Endpoint]struct{}{}
		for range rng.IntN(60) {
			s := fmt.Sprintf("10.0.0.%d", rng.IntN(20))
			strs = keepSmallestSorted(strs, s, limit)
			keepSmallest(strSet, s, limit, strings.Compare)
			ep := record.Endpoint{IP: s, Port: rng.IntN(3)}
			eps = keepSmallestEndpoint(eps, ep, limit)
			keepSmallest(epSet, ep, limit, compareEndpoint)
		}
		wantStrs := slices.Sorted(maps.Keys(strSet))
		wantEps := slices.SortedFunc(maps.Keys(epSet), compareEndpoint)
		if !slices.Equal(strs, wantStrs) || !slices.Equal(eps, wantEps) {
			t.Fatalf("round %d, limit %d: %v %v, want %v %v", round, limit, strs, eps, wantStrs, wantEps)
		}
	}
}

package scorer

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
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
			b.add(e, job.ByField, job.Influencers)
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

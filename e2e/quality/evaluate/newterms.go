package evaluate

import (
	"time"

	"github.com/rarenet/rarenet/e2e/quality/sim"
)

// NewTerms is the naive baseline, a "new terms" rule: a signal the first time a process.name
// connects anywhere in the fleet, once the first learn period of history is over. Loopback
// destinations are ignored, as rarenet's datafeed ignores them.
func NewTerms(events []sim.Event, learn time.Duration) []Signal {
	if len(events) == 0 {
		return nil
	}
	start := events[0].Time
	seen := map[string]bool{}
	var out []Signal
	for _, e := range events {
		if e.DestIP == "127.0.0.1" || e.DestIP == "::1" || seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		if e.Time.Sub(start) < learn {
			continue
		}
		b := e.Time.Truncate(15 * time.Minute)
		out = append(out, Signal{Name: e.Name, Hosts: []string{e.Host}, Original: b, RuleRun: b.Add(15 * time.Minute)}) // the first run covering the bucket, as the rule
	}
	return out
}

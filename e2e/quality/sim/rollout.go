package sim

import (
	"fmt"
	"slices"
	"time"
)

// rollout adds one software rollout, drawn per seed: an agent installed on a random share of
// the fleet (from a quarter to all of it) within a random window of a quarter of an hour to
// two hours (a configuration management run or two) after the warm-up, then in regular use.
func (g *gen) rollout() {
	a := g.sc.Agents[g.rng.IntN(len(g.sc.Agents))]
	span := g.end.Sub(g.Spec.Start) - g.Spec.Warmup
	t0 := g.Spec.Start.Add(g.Spec.Warmup + time.Duration(g.rng.Int64N(int64(max(span/2, time.Hour))))).Truncate(time.Minute)
	spread := 15*time.Minute + time.Duration(g.rng.Int64N(int64(105*time.Minute)))
	n := max(min(3, len(g.Hosts)), len(g.Hosts)*(25+g.rng.IntN(76))/100)
	hosts := g.rng.Perm(len(g.Hosts))[:n]
	slices.Sort(hosts)
	dest := fmt.Sprintf("198.18.%d.%d", 100+g.rng.IntN(100), 1+g.rng.IntN(254))
	// One label per host, from its install: a rollout longer than the evaluation's window
	// is still matched on every host.
	for i, h := range hosts {
		start := t0.Add(time.Duration(g.rng.Int64N(int64(spread))))
		first := true
		for t := start; t.Before(g.end); t = t.Add(bucket) {
			if g.emit(h, Event{Time: t, Name: a.Name, Exe: a.Exe, User: "root", PID: 30000 + i, DestIP: dest, Port: a.Port,
				Args: []string{a.Exe}, Cwd: "/", Outcome: "success"}) && first {
				first = false
				g.Labels = append(g.Labels, Label{ID: "rollout-" + a.Name + "-" + g.Hosts[h].Name, Class: ClassRollout, Name: a.Name,
					Hosts: []string{g.Hosts[h].Name}, Start: t, Detail: fmt.Sprintf("%d hosts from %s within %s", len(hosts), t0.Format(time.RFC3339), spread.Round(time.Minute))})
			}
		}
	}
}

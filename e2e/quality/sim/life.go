package sim

import (
	"math"
	"slices"
	"time"
)

// hostLife is when a host was up: its boots (the first before the history starts, as a host
// has been up for a while) and the downtime before each later one. A reboot restarts
// boot-relative timers and makes persistent timers and anacron catch up; a rebuild also gives
// the host a new machine id, and with it new FixedRandomDelay= offsets (systemd.timer(5):
// the offset derives from the machine id), while fqdn_rand() minutes stay (the name stays).
type hostLife struct {
	boots []time.Time
	downs [][2]time.Time // [from, to): the host is off
	// rebuilt is when the host was rebuilt (zero: never).
	rebuilt time.Time
}

// down reports whether the host is off at t.
func (l *hostLife) down(t time.Time) bool {
	i, _ := slices.BinarySearchFunc(l.downs, t, func(d [2]time.Time, t time.Time) int { return d[0].Compare(t) })
	// downs[i-1] is the last one starting at or before t (or i itself when it starts at t).
	if i < len(l.downs) && l.downs[i][0].Equal(t) {
		return true
	}
	return i > 0 && t.Before(l.downs[i-1][1])
}

// bootBefore is the last boot at or before t.
func (l *hostLife) bootBefore(t time.Time) time.Time {
	b := l.boots[0]
	for _, x := range l.boots {
		if x.After(t) {
			break
		}
		b = x
	}
	return b
}

// lives draws every host's uptime at the start, its reboots (a Poisson number at the
// scenario's weekly rate, each down 2 to 15 minutes) and the rebuilds (down 1 to 3 hours),
// after the warm-up so that the history first sees each host as it usually runs.
func (g *gen) lives() {
	g.life = make([]hostLife, len(g.Hosts))
	span := g.end.Sub(g.Spec.Start)
	rebuilt := map[int]bool{}
	for _, h := range g.rng.Perm(len(g.Hosts))[:min(g.sc.Rebuilds, len(g.Hosts))] {
		rebuilt[h] = true
	}
	for h := range g.Hosts {
		l := &g.life[h]
		// Up for up to 30 days before the history starts.
		l.boots = append(l.boots, g.Spec.Start.Add(-time.Duration(g.rng.Int64N(int64(30*24*time.Hour)))).Truncate(time.Second))
		n := poisson(g.rng, g.sc.RebootsPerWeek*span.Hours()/(7*24))
		var at []time.Time
		for range n {
			at = append(at, g.Spec.Start.Add(time.Duration(g.rng.Int64N(int64(span)))).Truncate(time.Second))
		}
		var long []bool
		for range at {
			long = append(long, false)
		}
		if rebuilt[h] {
			after := g.Spec.Start.Add(g.Spec.Warmup)
			at = append(at, after.Add(time.Duration(g.rng.Int64N(int64(max(g.end.Sub(after)-6*time.Hour, time.Hour))))).Truncate(time.Second))
			long = append(long, true)
		}
		idx := make([]int, len(at))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return at[a].Compare(at[b]) })
		for _, i := range idx {
			off := 2*time.Minute + time.Duration(g.rng.Int64N(int64(13*time.Minute)))
			if long[i] {
				off = time.Hour + time.Duration(g.rng.Int64N(int64(2*time.Hour)))
				l.rebuilt = at[i].Add(off)
			}
			if n := len(l.downs); n > 0 && at[i].Before(l.downs[n-1][1]) {
				continue // within the previous downtime
			}
			l.downs = append(l.downs, [2]time.Time{at[i], at[i].Add(off)})
			l.boots = append(l.boots, at[i].Add(off))
		}
	}
}

// poisson draws a Poisson variate of mean m (Knuth's method; m is small here).
func poisson(rng interface{ Float64() float64 }, m float64) int {
	limit, p, k := math.Exp(-m), 1.0, 0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

package enricher

import (
	"fmt"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Profiles: faithful matches the reference; enhanced adjusts scores with what the history
// knows (docs/quality.md measures each adjustment).
const (
	ProfileFaithful = "faithful"
	ProfileEnhanced = "enhanced"
)

// Enhanced-profile constants.
const (
	// scheduleFactor scores down a record of a recognised periodic job: a maintenance job is
	// the reference's own example of a false positive, but cron is also an attacker's tool,
	// so it is scored down, not dropped.
	scheduleFactor = 0.5
	// rolloutMinHosts and rolloutMinShare make a rollout: new software on at least this many
	// hosts and this share of the fleet.
	rolloutMinHosts = 3
	rolloutMinShare = 0.1
	// rolloutWindow is how long after its first bucket a rollout's later records are folded
	// into its first signal: a day for the change to reach every host (configuration
	// management runs every half hour, a staged rollout takes hours), and a day for a daily
	// job it installs to first run on each host.
	rolloutWindow = 48 * time.Hour
)

// adjust applies the enhanced profile to r, whose context c is built: a recognised schedule
// scores the record down; the buckets after the first of a rollout are folded into the first
// one's signal (score 0), so a rollout gives one signal, not one per bucket.
func adjust(r *record.Record, c *record.Context, schedules, rollouts bool) {
	h := c.History
	if h == nil {
		return
	}
	apply := func(reason string, factor float64) {
		c.Adjustments = append(c.Adjustments, record.Adjustment{Reason: reason, Factor: factor})
		r.RecordScore *= factor
	}
	// A schedule explains when a process runs, not where it connects: a new-destination
	// record is news whatever the schedule.
	switch {
	case !schedules || r.Explanation.NewDestination != nil:
	case h.Recurrence != nil:
		apply(h.Recurrence.Description, scheduleFactor)
	case h.Elsewhere != nil:
		apply(h.Elsewhere.Description, scheduleFactor)
	}
	// A rollout reaches each host for the first time: the rare-on-host records of its first
	// day fold into its first signal too (a new-destination record never does).
	if rollouts && r.Explanation.NewDestination == nil && isRollout(h.HostCount, h.FleetHostCount) {
		switch {
		case h.New:
			c.Adjustments = append(c.Adjustments, record.Adjustment{
				Reason: fmt.Sprintf("rollout: on %d of %d hosts at once; later buckets fold into this signal", h.HostCount, h.FleetHostCount), Factor: 1})
		case h.FirstSeen != nil && time.UnixMilli(r.Timestamp).Sub(*h.FirstSeen) < rolloutWindow:
			apply(fmt.Sprintf("rollout first seen %s, on %d of %d hosts: folded into its first signal", h.FirstSeen.Format(time.RFC3339), h.HostCount, h.FleetHostCount), 0)
		}
	}
	if c.Why != nil && len(c.Adjustments) > 0 {
		c.Why.RecordScore = r.RecordScore
		for _, a := range c.Adjustments {
			c.Why.Facts = append(c.Why.Facts, a.Reason)
		}
		c.Why.Text = strings.Join(c.Why.Facts, "; ")
	}
}

func isRollout(hosts, fleet int) bool {
	return hosts >= rolloutMinHosts && float64(hosts) >= rolloutMinShare*float64(fleet)
}

package enricher

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Recurrence (enhanced profile): a job that recurs on its hosts at a regular rate, whatever
// the time of day. Real schedules rarely run in the same bucket fleet-wide, nor at the same
// time every day on one host:
//
//   - systemd timers wait a random delay at every elapse, up to RandomizedDelaySec=
//     (systemd.timer(5)): apt-daily.timer runs at 06:00 and 18:00 plus up to 12 h,
//     motd-news.timer the same, certbot.timer at 00:00 and 12:00 plus up to an hour, and
//     Debian's certbot cron fallback sleeps up to 43200 s of its 12 h period; with
//     FixedRandomDelay=yes the delay is one per machine instead;
//   - cron entries written by configuration management take a per-host minute or hour
//     (Puppet's fqdn_rand(), Ansible's random(seed=inventory_hostname)), and cronie adds
//     RANDOM_DELAY minutes (crontab(5));
//   - anacron runs a daily, weekly or monthly job when START_HOURS_RANGE opens or after a
//     boot, whenever its period has passed (anacrontab(5)), and a Persistent=true timer runs
//     a missed elapse at boot; boot-relative timers (OnBootSec=, OnUnitActiveSec=, as
//     systemd-tmpfiles-clean.timer) move with every reboot.
//
// So the evidence is the rate of a host's runs, not their phase: the gaps between its runs
// centre on a period and each stays within what the scheduler allows, a gap of up to twice
// the period for jobs of a day or less (a delay may be as long as the period itself), a day
// either way for weekly ones, four for monthly ones (calendar months vary by three days).
// The newest gap must also fit the jitter the host has shown so far, so a daily job that
// keeps to its time, run once more in between, is not explained. A host needs three such intervals of its own
// (two when every gap is within a bucket of the period, as a fixed cron line gives), or,
// when another host of the fleet recurs at the same rate, one interval fewer: a weekly or
// monthly job is then recognised from two runs. A host without earlier runs is never
// explained: a common job appearing on a host that never ran it is news.

// rate is a period a job recurs at.
type rate struct {
	name  string
	every time.Duration
	// stray is how far one gap may be from every.
	stray time.Duration
	// own is the intervals a host needs on its own; with fleet evidence, one fewer.
	own int
}

// month is systemd's month, 30.44 days (systemd.time(7)).
const month = time.Duration(30.44 * 24 * float64(time.Hour))

// rates are tried by nearness to a host's mean gap.
var rates = []rate{
	{"every hour", time.Hour, time.Hour, 3},
	{"every 2 hours", 2 * time.Hour, 2 * time.Hour, 3},
	{"every 3 hours", 3 * time.Hour, 3 * time.Hour, 3},
	{"every 4 hours", 4 * time.Hour, 4 * time.Hour, 3},
	{"every 6 hours", 6 * time.Hour, 6 * time.Hour, 3},
	{"three times a day", 8 * time.Hour, 8 * time.Hour, 3},
	{"twice a day", 12 * time.Hour, 12 * time.Hour, 3},
	{"once a day", 24 * time.Hour, 24 * time.Hour, 3},
	{"once a week", 7 * 24 * time.Hour, 24 * time.Hour, 2},
	{"once a month", month, 4 * 24 * time.Hour, 2},
}

// maxRecurrenceRuns bounds the runs shown as a host's evidence.
const maxRecurrenceRuns = 6

// fit is how a host's runs fit a rate.
type fit struct {
	r         rate
	intervals int
	// jitter is the largest distance of a gap from the period, the newest excluded (-1 when
	// there is only one gap).
	jitter time.Duration
	// tight is every gap within a bucket of the period.
	tight bool
}

// rateOf picks the rate nearest (by ratio) to the runs' (Unix ms, ascending) mean gap, and
// checks every gap against it: ok when all gaps but the newest stray no further than the
// rate allows and the mean is within half of that of the period.
func rateOf(runs []int64, span time.Duration) (fit, bool) {
	if len(runs) < 2 {
		return fit{}, false
	}
	gaps := make([]time.Duration, len(runs)-1)
	for i := range gaps {
		gaps[i] = time.Duration(runs[i+1]-runs[i]) * time.Millisecond
	}
	mean := time.Duration(runs[len(runs)-1]-runs[0]) * time.Millisecond / time.Duration(len(gaps))
	best := -1
	for i, r := range rates {
		if best < 0 || math.Abs(math.Log(float64(mean)/float64(r.every))) < math.Abs(math.Log(float64(mean)/float64(rates[best].every))) {
			best = i
		}
	}
	f := fit{r: rates[best], intervals: len(gaps), jitter: -1, tight: true}
	for i, g := range gaps {
		d := (g - f.r.every).Abs()
		f.tight = f.tight && d <= span
		if i < len(gaps)-1 {
			if d > f.r.stray+span {
				return f, false
			}
			f.jitter = max(f.jitter, d)
		}
	}
	return f, (mean - f.r.every).Abs() <= f.r.stray/2+span
}

// newestFits reports whether the newest gap of runs fits the jitter seen before (the
// host's own, or the fleet's when the host has a single gap). A job that kept to its time
// (every gap within two buckets of the period: a cron line, FixedRandomDelay=) must keep to
// it, within two buckets more; one whose runs wandered may wander as far as its rate allows:
// a few delays drawn from a range seldom show the whole of it, and a run between two of a
// job that waits hours at random cannot be told from a late one anyway.
func newestFits(runs []int64, f fit, jitter, span time.Duration) bool {
	if jitter < 0 {
		return false
	}
	g := time.Duration(runs[len(runs)-1]-runs[len(runs)-2]) * time.Millisecond
	tol := f.r.stray
	if jitter <= 2*span {
		tol = min(tol, jitter+2*span)
	}
	return (g - f.r.every).Abs() <= tol+span
}

// RecogniseRecurrence looks for the process recurring on every one of hosts at a regular
// rate, as of bucket k (Unix ms), from each host's runs in e; other hosts of e are the
// fleet's evidence. It returns nil unless every host's recurrence is shown.
func RecogniseRecurrence(e *Entry, hosts []string, k int64, span time.Duration) *record.Recurrence {
	if e == nil || len(e.Runs) == 0 || len(hosts) == 0 {
		return nil
	}
	// Every host's own fit, for the fleet's evidence: its rate and the largest distance of
	// any of its gaps from it.
	type hostFit struct {
		every  time.Duration
		jitter time.Duration
	}
	fits := map[string]hostFit{}
	for h := range e.Runs {
		runs := e.RunsBefore(h, k)
		f, ok := rateOf(runs, span)
		if !ok || f.intervals > 1 && !newestFits(runs, f, f.jitter, span) {
			continue
		}
		last := (time.Duration(runs[len(runs)-1]-runs[len(runs)-2])*time.Millisecond - f.r.every).Abs()
		fits[h] = hostFit{f.r.every, max(f.jitter, last)}
	}
	rec := &record.Recurrence{}
	for _, h := range hosts {
		runs := e.RunsBefore(h, k)
		f, ok := rateOf(runs, span)
		if !ok {
			return nil
		}
		others, jitter := 0, time.Duration(-1)
		for o, of := range fits {
			if o != h && of.every == f.r.every {
				others++
				jitter = max(jitter, of.jitter)
			}
		}
		hr := record.HostRecurrence{Host: h, Period: f.r.name, Every: f.r.every.Round(time.Hour).String()}
		switch {
		case f.intervals >= f.r.own && newestFits(runs, f, f.jitter, span),
			f.intervals >= f.r.own-1 && f.tight:
			hr.Evidence = "host"
		case others > 0 && f.intervals >= f.r.own-1 && newestFits(runs, f, max(f.jitter, jitter), span):
			hr.Evidence = "fleet"
		default:
			return nil
		}
		for _, ms := range runs[max(0, len(runs)-maxRecurrenceRuns):] {
			hr.Runs = append(hr.Runs, msTime(ms))
		}
		rec.Hosts = append(rec.Hosts, hr)
		rec.FleetHosts = max(rec.FleetHosts, others)
	}
	rec.Description = describeRecurrence(rec)
	return rec
}

// describeRecurrence says it in a line: "recurs at a regular rate, at any time of day, on
// web-01 twice a day, web-02 twice a day (as on other hosts); 3 other hosts recur at that
// rate".
func describeRecurrence(rec *record.Recurrence) string {
	var parts []string
	for _, h := range rec.Hosts[:min(len(rec.Hosts), 5)] {
		p := h.Host + " " + h.Period
		if h.Evidence == "fleet" {
			p += " (as on other hosts)"
		}
		parts = append(parts, p)
	}
	if n := len(rec.Hosts) - 5; n > 0 {
		parts = append(parts, fmt.Sprintf("and %d more hosts", n))
	}
	s := "recurs at a regular rate, at any time of day, on " + strings.Join(parts, ", ")
	if rec.FleetHosts > 0 {
		s += fmt.Sprintf("; %d other hosts recur at that rate", rec.FleetHosts)
	}
	return s
}

package enricher

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

const span = 15 * time.Minute

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// runsEntry is an entry holding the given run starts per host, as bucket indexes.
func runsEntry(runs map[string][]time.Time) *Entry {
	e := &Entry{SpanMS: span.Milliseconds(), Runs: map[string][]int64{}}
	for h, ts := range runs {
		for _, t := range ts {
			e.Runs[h] = append(e.Runs[h], t.UnixMilli()/e.SpanMS)
		}
	}
	return e
}

// timer returns the runs of a timer: elapses every period from first, each delayed by up to
// delay (RandomizedDelaySec=), n runs.
func timer(rng *rand.Rand, first time.Time, period, delay time.Duration, n int) []time.Time {
	var out []time.Time
	for i := range n {
		t := first.Add(time.Duration(i) * period)
		if delay > 0 {
			t = t.Add(time.Duration(rng.Int64N(int64(delay))))
		}
		out = append(out, t)
	}
	return out
}

// recurs says whether the last run of host is explained, as of that run's bucket.
func recurs(e *Entry, host string) *record.Recurrence {
	last := e.Runs[host][len(e.Runs[host])-1] * e.SpanMS
	return RecogniseRecurrence(e, []string{host}, last, span)
}

// TestRecurrenceOfATimerWithARandomDelay: certbot twice a day with up to 12 hours of delay
// (Debian's cron fallback sleeps up to 43200 s) runs at any time of day; from its fourth run
// on one host it is recognised, on the host's own evidence, whatever the seed, unless two
// runs fell into one bucket or two adjacent ones (the history then holds one run).
func TestRecurrenceOfATimerWithARandomDelay(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		runs := timer(rng, day0, 12*time.Hour, 12*time.Hour, 10)
		for n := 2; n <= len(runs); n++ {
			e := runsEntry(map[string][]time.Time{"web-01": runs[:n]})
			got := recurs(e, "web-01")
			switch {
			case n < 4 && got != nil:
				t.Fatalf("seed %d: recognised after %d runs, want at least 4 of its own", seed, n)
			case n >= 4 && got == nil && bucketsApart(runs[:n]):
				t.Fatalf("seed %d: not recognised after %d runs %v", seed, n, runs[:n])
			case got != nil && (got.Hosts[0].Evidence != "host" || !slices.Contains([]string{"three times a day", "twice a day", "once a day"}, got.Hosts[0].Period)):
				// A few runs delayed by up to a whole period show the rate only roughly.
				t.Fatalf("seed %d: %+v, want about twice a day on the host's evidence", seed, got.Hosts[0])
			}
		}
	}
}

// bucketsApart reports whether runs fall in distinct, non-adjacent buckets: two runs of a
// timer with a long delay may fall in one bucket, or in consecutive buckets that the history
// holds as one run.
func bucketsApart(runs []time.Time) bool {
	for i := 1; i < len(runs); i++ {
		if runs[i].Sub(runs[i-1]) <= 2*span {
			return false
		}
	}
	return true
}

// TestRecurrenceOnFewHostsEachOnItsOwnClock: a daily backup on three hosts, each at its own
// hour and minute (fqdn_rand), with cronie's RANDOM_DELAY of 45 minutes: one host alone
// needs four runs; with the other hosts recurring at the same rate, three.
func TestRecurrenceOnFewHostsEachOnItsOwnClock(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	hosts := map[string][]time.Time{}
	for i, h := range []string{"db-01", "db-02", "db-03"} {
		hosts[h] = timer(rng, day0.Add(time.Duration(3+7*i)*time.Hour+time.Duration(11*i)*time.Minute), 24*time.Hour, 45*time.Minute, 5)
	}
	alone := runsEntry(map[string][]time.Time{"db-01": hosts["db-01"][:3]})
	if got := recurs(alone, "db-01"); got != nil && got.Hosts[0].Evidence != "host" {
		t.Fatalf("one host, three runs: %+v", got)
	}
	together := map[string][]time.Time{}
	for h, r := range hosts {
		together[h] = r[:3]
	}
	got := recurs(runsEntry(together), "db-01")
	if got == nil || got.Hosts[0].Period != "once a day" || got.FleetHosts != 2 {
		t.Fatalf("three hosts, three runs each: %+v, want once a day with 2 other hosts", got)
	}
	if !strings.Contains(got.Description, "db-01 once a day") {
		t.Errorf("description %q", got.Description)
	}
	for h, r := range hosts {
		together[h] = r[:1]
	}
	together["db-01"] = hosts["db-01"][:3]
	if got := recurs(runsEntry(together), "db-01"); got != nil {
		t.Errorf("other hosts ran it once: they are no evidence of a rate, got %+v", got)
	}
}

// TestRecurrenceRejectsAnExtraRun: a tight daily job (the same minute every day) run once
// more between its runs is not explained, while a job whose delay spans the day is.
func TestRecurrenceRejectsAnExtraRun(t *testing.T) {
	var runs []time.Time
	for d := range 5 {
		runs = append(runs, day0.Add(time.Duration(d)*24*time.Hour+3*time.Hour))
	}
	extra := append(slices.Clone(runs), runs[4].Add(11*time.Hour))
	if got := recurs(runsEntry(map[string][]time.Time{"h": runs}), "h"); got == nil {
		t.Fatal("a daily job at 03:00 not recognised after five runs")
	}
	if got := recurs(runsEntry(map[string][]time.Time{"h": extra}), "h"); got != nil {
		t.Fatalf("a run at 14:00 explained as the daily job: %+v", got)
	}
	// Three runs a day apart, then one at a random hour: a rate, not a schedule, and the
	// last gap is far outside the jitter shown.
	odd := []time.Time{day0, day0.Add(24 * time.Hour), day0.Add(48 * time.Hour), day0.Add(72 * time.Hour), day0.Add(80 * time.Hour)}
	if got := recurs(runsEntry(map[string][]time.Time{"h": odd}), "h"); got != nil {
		t.Fatalf("a run 8 hours after a daily one explained: %+v", got)
	}
}

// TestRecurrenceWeeklyFromTwoRuns: a weekly job's second run is recognised when another
// host recurs weekly too, or when it came at the same minute of the week; a single host's
// second run an hour off is not.
func TestRecurrenceWeeklyFromTwoRuns(t *testing.T) {
	week := 7 * 24 * time.Hour
	second := []time.Time{day0.Add(2 * time.Hour), day0.Add(week + 3*time.Hour)}
	if got := recurs(runsEntry(map[string][]time.Time{"h1": second}), "h1"); got != nil {
		t.Fatalf("one host, two runs an hour off: %+v", got)
	}
	exact := []time.Time{day0.Add(2 * time.Hour), day0.Add(week + 2*time.Hour + 5*time.Minute)}
	if got := recurs(runsEntry(map[string][]time.Time{"h1": exact}), "h1"); got == nil || got.Hosts[0].Period != "once a week" {
		t.Fatalf("one host, two runs a week apart to the bucket: %+v", got)
	}
	fleet := map[string][]time.Time{"h1": second, "h2": {day0.Add(time.Hour), day0.Add(week + 90*time.Minute)}}
	got := recurs(runsEntry(fleet), "h1")
	if got == nil || got.Hosts[0].Evidence != "fleet" {
		t.Fatalf("two hosts weekly: %+v, want the fleet's evidence", got)
	}
	// A host that never ran it is never explained, whatever the others do.
	if got := RecogniseRecurrence(runsEntry(fleet), []string{"h1", "h3"}, day0.Add(week+3*time.Hour).UnixMilli(), span); got != nil {
		t.Fatalf("a record on a host without runs explained: %+v", got)
	}
}

// TestRecurrenceMonthly: a monthly job on the 1st, calendar months of 28 to 31 days.
func TestRecurrenceMonthly(t *testing.T) {
	var runs []time.Time
	for m := range 4 {
		runs = append(runs, time.Date(2026, time.Month(1+m), 1, 4, 30, 0, 0, time.UTC))
	}
	got := recurs(runsEntry(map[string][]time.Time{"h": runs}), "h")
	if got == nil || got.Hosts[0].Period != "once a month" {
		t.Fatalf("monthly on the 1st: %+v", got)
	}
}

// TestRecurrenceAfterAReboot: a boot-relative daily timer (OnBootSec=15min,
// OnUnitActiveSec=1d) whose host rebooted: the run right after the boot is not explained
// (it is as an extra run would be), and the runs at the new time are again.
func TestRecurrenceAfterAReboot(t *testing.T) {
	var runs []time.Time
	for d := range 5 {
		runs = append(runs, day0.Add(time.Duration(d)*24*time.Hour+10*time.Hour))
	}
	boot := day0.Add(4*24*time.Hour + 14*time.Hour)
	runs = append(runs, boot.Add(15*time.Minute))
	if got := recurs(runsEntry(map[string][]time.Time{"h": runs}), "h"); got != nil {
		t.Fatalf("the run after the reboot explained: %+v", got)
	}
	for d := 1; d <= 3; d++ {
		runs = append(runs, boot.Add(15*time.Minute+time.Duration(d)*24*time.Hour))
	}
	if got := recurs(runsEntry(map[string][]time.Time{"h": runs}), "h"); got == nil {
		t.Fatal("the runs at the new time not explained")
	}
}

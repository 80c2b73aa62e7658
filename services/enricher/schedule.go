package enricher

import (
	"fmt"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Schedule periods, as the investigation guide's "maintenance job?" question needs them.
const (
	PeriodHourly    = "hourly"
	PeriodDaily     = "daily"
	PeriodWeekly    = "weekly"
	PeriodMonthly   = "monthly"
	PeriodQuarterly = "quarterly"
)

// maxScheduleRuns bounds the runs given as evidence.
const maxScheduleRuns = 6

// period is one recognisable schedule: whether two run starts are one period apart, and how
// many such intervals in a row are enough evidence.
type period struct {
	name      string
	intervals int
	next      func(a, b time.Time, tol time.Duration) bool
}

// fixed is a period of constant length.
func fixed(d time.Duration) func(a, b time.Time, tol time.Duration) bool {
	return func(a, b time.Time, tol time.Duration) bool {
		gap := b.Sub(a)
		return gap >= d-tol && gap <= d+tol
	}
}

// calendar is a period of months: the same day of the month (or the month's last day when it
// is shorter) at the same time of day, within the tolerance.
func calendar(months int) func(a, b time.Time, tol time.Duration) bool {
	return func(a, b time.Time, tol time.Duration) bool {
		y, m, _ := a.Date()
		first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
		day := min(a.Day(), first.AddDate(0, 1, -1).Day())
		want := time.Date(first.Year(), first.Month(), day, a.Hour(), a.Minute(), a.Second(), 0, time.UTC)
		gap := b.Sub(want)
		return gap >= -tol && gap <= tol
	}
}

// periods are tried shortest first. Hourly runs need three intervals (four runs) in a row,
// the others two (three runs, the record's bucket included).
var periods = []period{
	{PeriodHourly, 3, fixed(time.Hour)},
	{PeriodDaily, 2, fixed(24 * time.Hour)},
	{PeriodWeekly, 2, fixed(7 * 24 * time.Hour)},
	{PeriodMonthly, 2, calendar(1)},
	{PeriodQuarterly, 2, calendar(3)},
}

// RecogniseSchedule looks for a period in the run starts (Unix ms, ascending, the record's
// bucket last): the last intervals must all be one period long, within one bucket. It returns
// nil when no period fits.
func RecogniseSchedule(runs []int64, span time.Duration) *record.Schedule {
	if len(runs) < 3 {
		return nil
	}
	ts := make([]time.Time, len(runs))
	for i, r := range runs {
		ts[i] = time.UnixMilli(r).UTC()
	}
	for _, p := range periods {
		n := 0 // intervals in a row, from the latest back
		for i := len(ts) - 1; i > 0 && p.next(ts[i-1], ts[i], span); i-- {
			n++
		}
		if n < p.intervals {
			continue
		}
		ev := ts[len(ts)-min(n+1, maxScheduleRuns):]
		return &record.Schedule{Period: p.name, Description: describe(p.name, n, ev), Runs: ev}
	}
	return nil
}

// describe says the schedule in words: "monthly, 4 runs in a row, on day 1 at about 03:00
// UTC"; the runs themselves are the schedule's evidence.
func describe(name string, intervals int, runs []time.Time) string {
	last := runs[len(runs)-1]
	var when string
	switch name {
	case PeriodHourly:
		when = fmt.Sprintf("at about minute %d", last.Minute())
	case PeriodDaily:
		when = "at about " + last.Format("15:04") + " UTC"
	case PeriodWeekly:
		when = "on " + last.Weekday().String() + " at about " + last.Format("15:04") + " UTC"
	default:
		when = fmt.Sprintf("on day %d at about %s UTC", last.Day(), last.Format("15:04"))
	}
	return fmt.Sprintf("%s, %d runs in a row, %s", name, intervals+1, when)
}

// timeLayout is how times are written in plain words.
const timeLayout = "2006-01-02 15:04"

package windower

import (
	"cmp"
	"slices"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Window is the rule's schedule over records, without NATS: records wait until the runs whose
// look-back covers them, and each run returns the records above the threshold, best first.
//
// A Window is not safe for concurrent use.
type Window struct {
	rule    Rule
	pending []record.Record
	ids     map[string]bool // ids of the pending records
	lastRun time.Time       // zero before the first run
}

// NewWindow returns an empty Window for rule.
func NewWindow(rule Rule) *Window { return &Window{rule: rule, ids: map[string]bool{}} }

// LastRun returns the time of the last run, zero before the first.
func (w *Window) LastRun() time.Time { return w.lastRun }

// Add keeps r for the runs to come. It returns false when no future run can cover r any
// more: its bucket fell out of the look-back of the next run before r arrived. A record
// already waiting (redelivered, or republished by a restarted scorer) is kept once.
func (w *Window) Add(r record.Record) bool {
	if !w.lastRun.IsZero() && r.BucketStart().Before(w.lastRun.Add(w.rule.Interval-w.rule.From)) {
		return false
	}
	if !w.ids[r.ID] {
		w.ids[r.ID] = true
		w.pending = append(w.pending, r)
	}
	return true
}

// Due returns the run times, on interval boundaries, that are due by clock: after the last
// run and not after clock. Before the first run, the schedule starts at the first boundary
// after the oldest waiting record (in live mode at the boundary of clock itself).
func (w *Window) Due(clock time.Time, live bool) []time.Time {
	next := w.lastRun.Add(w.rule.Interval)
	if w.lastRun.IsZero() {
		if live || len(w.pending) == 0 {
			next = clock.Truncate(w.rule.Interval)
		} else {
			oldest := w.pending[0].BucketStart()
			for _, r := range w.pending[1:] {
				if b := r.BucketStart(); b.Before(oldest) {
					oldest = b
				}
			}
			next = oldest.Truncate(w.rule.Interval).Add(w.rule.Interval)
		}
	}
	var due []time.Time
	for t := next; !t.After(clock); t = t.Add(w.rule.Interval) {
		due = append(due, t)
	}
	return due
}

// Drain returns the run times needed, at the end of a replay, for every waiting record to have
// been seen by at least one run.
func (w *Window) Drain() []time.Time {
	if len(w.pending) == 0 {
		return nil
	}
	newest := w.pending[0].BucketStart()
	for _, r := range w.pending[1:] {
		if b := r.BucketStart(); b.After(newest) {
			newest = b
		}
	}
	return w.Due(newest.Truncate(w.rule.Interval).Add(w.rule.Interval), false)
}

// RuleRun is one execution of the rule at a time t.
type RuleRun struct {
	Time        time.Time
	WindowStart time.Time // t - from
	// InWindow counts the records whose bucket lies in [WindowStart, Time).
	InWindow int
	// Matches are the records of the window with record_score >= the threshold, highest
	// score first, then oldest bucket, then by-field value, then id: a total order, so the
	// cap and the output are deterministic.
	Matches []record.Record
}

// Run executes the rule at t and forgets the records no later run can cover.
func (w *Window) Run(t time.Time) RuleRun {
	run := RuleRun{Time: t, WindowStart: t.Add(-w.rule.From)}
	for _, r := range w.pending {
		b := r.BucketStart()
		if b.Before(run.WindowStart) || !b.Before(t) || !w.rule.covers(r.JobID) {
			continue
		}
		run.InWindow++
		if r.RecordScore >= w.rule.Threshold {
			run.Matches = append(run.Matches, r)
		}
	}
	slices.SortFunc(run.Matches, func(a, b record.Record) int {
		return cmp.Or(
			cmp.Compare(b.RecordScore, a.RecordScore),
			cmp.Compare(a.Timestamp, b.Timestamp),
			cmp.Compare(a.ByFieldValue, b.ByFieldValue),
			cmp.Compare(a.ID, b.ID),
		)
	})
	// The next run covers buckets from t+interval-from on.
	keepFrom := t.Add(w.rule.Interval - w.rule.From)
	w.pending = slices.DeleteFunc(w.pending, func(r record.Record) bool {
		if r.BucketStart().Before(keepFrom) {
			delete(w.ids, r.ID)
			return true
		}
		return false
	})
	w.lastRun = t
	return run
}

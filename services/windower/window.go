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
	pending []pendingRecord
	ids     map[string]bool // ids of the pending records
	late    []record.Record // records too late for any run, to be signalled by the next run
	lateIDs map[string]bool
	lastRun time.Time // zero before the first run
}

type pendingRecord struct {
	record.Record
	covered bool // some run's look-back has covered it
}

// NewWindow returns an empty Window for rule.
func NewWindow(rule Rule) *Window {
	return &Window{rule: rule, ids: map[string]bool{}, lateIDs: map[string]bool{}}
}

// LastRun returns the time of the last run, zero before the first.
func (w *Window) LastRun() time.Time { return w.lastRun }

// SetLastRun sets the time of the last run: restored after a restart, so the schedule goes on
// from there (catching up over the missed boundaries), or moved forward to bound a catch-up.
func (w *Window) SetLastRun(t time.Time) { w.lastRun = t }

// Add keeps r for the runs to come. It returns false when no future run can cover r any
// more: its bucket fell out of the look-back of the next run before r arrived. A record
// already waiting (redelivered, or republished by a restarted scorer) is kept once.
func (w *Window) Add(r record.Record) bool {
	if w.TooLate(r) {
		return false
	}
	if !w.ids[r.ID] {
		w.ids[r.ID] = true
		// A record restored after a restart whose bucket an earlier run already passed has been
		// covered by that run.
		covered := !w.lastRun.IsZero() && r.BucketStart().Before(w.lastRun)
		w.pending = append(w.pending, pendingRecord{Record: r, covered: covered})
	}
	return true
}

// TooLate reports whether no future run can cover r.
func (w *Window) TooLate(r record.Record) bool {
	return !w.lastRun.IsZero() && r.BucketStart().Before(w.lastRun.Add(w.rule.Interval-w.rule.From))
}

// AddLate keeps a record that is too late for every run, for the next run to signal anyway
// (--signal-late). A record already kept is kept once.
func (w *Window) AddLate(r record.Record) {
	if !w.lateIDs[r.ID] {
		w.lateIDs[r.ID] = true
		w.late = append(w.late, r)
	}
}

// Due returns the run times, on interval boundaries, that are due by clock: after the last
// run and not after clock. Before the first run, the schedule starts at the first boundary
// after the oldest waiting record (in live mode at the boundary of clock itself).
func (w *Window) Due(clock time.Time, live bool) []time.Time {
	if clock.IsZero() {
		return nil // no event time yet (a replay of an empty input): nothing is due
	}
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
// been seen by at least one run (and for late records, the next run).
func (w *Window) Drain() []time.Time {
	var due []time.Time
	if len(w.pending) > 0 {
		newest := w.pending[0].BucketStart()
		for _, r := range w.pending[1:] {
			if b := r.BucketStart(); b.After(newest) {
				newest = b
			}
		}
		due = w.Due(newest.Truncate(w.rule.Interval).Add(w.rule.Interval), false)
	}
	if len(due) == 0 && len(w.late) > 0 && !w.lastRun.IsZero() {
		due = []time.Time{w.lastRun.Add(w.rule.Interval)}
	}
	return due
}

// RuleRun is one execution of the rule at a time t.
type RuleRun struct {
	Time        time.Time
	WindowStart time.Time // t - from
	// InWindow counts the records whose bucket lies in [WindowStart, Time).
	InWindow int
	// Matches are the records of the window with record_score >= the threshold, highest
	// score first, then oldest bucket, then by-field value, then id: a total order, so the
	// cap and the output are deterministic. Late records (see Late) are ordered among them.
	Matches []record.Record
	// Late holds the ids of the matches that arrived too late for every run and are signalled
	// by this one (--signal-late).
	Late map[string]bool
	// Missed are the records forgotten by this run that no run ever covered: their look-back
	// was skipped (a catch-up bounded by the maximum) before they could be seen.
	Missed []record.Record
	// Pruned are the ids of the records forgotten by this run.
	Pruned []string
}

// Run executes the rule at t and forgets the records no later run can cover.
func (w *Window) Run(t time.Time) RuleRun {
	run := RuleRun{Time: t, WindowStart: t.Add(-w.rule.From)}
	for i := range w.pending {
		p := &w.pending[i]
		b := p.BucketStart()
		if b.Before(run.WindowStart) || !b.Before(t) {
			continue
		}
		p.covered = true
		if !w.rule.covers(p.JobID) {
			continue
		}
		run.InWindow++
		if p.RecordScore >= w.rule.Threshold {
			run.Matches = append(run.Matches, p.Record)
		}
	}
	for _, r := range w.late {
		if w.rule.covers(r.JobID) && r.RecordScore >= w.rule.Threshold {
			if run.Late == nil {
				run.Late = map[string]bool{}
			}
			run.Late[r.ID] = true
			run.Matches = append(run.Matches, r)
		}
	}
	w.late, w.lateIDs = nil, map[string]bool{}
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
	w.pending = slices.DeleteFunc(w.pending, func(p pendingRecord) bool {
		if p.BucketStart().Before(keepFrom) {
			delete(w.ids, p.ID)
			run.Pruned = append(run.Pruned, p.ID)
			if !p.covered {
				run.Missed = append(run.Missed, p.Record)
			}
			return true
		}
		return false
	})
	w.lastRun = t
	return run
}

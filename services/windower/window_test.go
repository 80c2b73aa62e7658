package windower

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

const job = "v3_linux_anomalous_network_activity"

// clock parses "15:04" or "15:04:05" on 2024-01-01 UTC.
func clock(s string) time.Time {
	layout := "15:04"
	if len(s) > 5 {
		layout = "15:04:05.999"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		panic(err)
	}
	return time.Date(2024, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

func rec(bucket, value string, score float64) record.Record {
	ts := clock(bucket)
	return record.Record{
		ID:           record.ID(job, ts, 15*time.Minute, 0, value),
		JobID:        job,
		ResultType:   "record",
		Timestamp:    ts.UnixMilli(),
		BucketSpan:   900,
		RecordScore:  score,
		ByFieldName:  "process.name",
		ByFieldValue: value,
	}
}

func times(ts []time.Time) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format("15:04")
	}
	return fmt.Sprint(out)
}

func names(rs []record.Record) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ByFieldValue
	}
	return fmt.Sprint(out)
}

func TestDue(t *testing.T) {
	tests := []struct {
		name    string
		pending []string // bucket starts of waiting records
		lastRun string   // "" for none
		clock   string
		live    bool
		want    string
	}{
		{name: "live, first run at the boundary at or before the clock", clock: "10:07", live: true, want: "[10:00]"},
		{name: "live, exactly on a boundary", clock: "10:15", live: true, want: "[10:15]"},
		{name: "live, records do not move the schedule", pending: []string{"08:00"}, clock: "10:07", live: true, want: "[10:00]"},
		{name: "live, after a run", lastRun: "10:00", clock: "10:44:59", live: true, want: "[10:15 10:30]"},
		{name: "live, nothing due yet", lastRun: "10:00", clock: "10:14:59.999", live: true, want: "[]"},
		{name: "watermark, first boundary after the oldest record", pending: []string{"10:15", "10:00", "10:30"}, clock: "10:45", want: "[10:15 10:30 10:45]"},
		{name: "watermark, before the first boundary", pending: []string{"10:00"}, clock: "10:14:59.999", want: "[]"},
		{name: "watermark, no records", clock: "10:20", want: "[10:15]"},
		{name: "watermark, after a run", pending: []string{"10:00"}, lastRun: "10:15", clock: "11:00", want: "[10:30 10:45 11:00]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWindow(DefaultRule())
			if tt.lastRun != "" {
				w.Run(clock(tt.lastRun))
			}
			for i, b := range tt.pending {
				if !w.Add(rec(b, "p"+strconv.Itoa(i), 60)) {
					t.Fatalf("Add(%s) = false", b)
				}
			}
			if got := times(w.Due(clock(tt.clock), tt.live)); got != tt.want {
				t.Errorf("Due(%s, live=%v) = %s, want %s", tt.clock, tt.live, got, tt.want)
			}
		})
	}
}

func TestRunLookBack(t *testing.T) {
	w := NewWindow(DefaultRule())
	for _, r := range []record.Record{
		rec("09:00", "too-old", 90),
		rec("09:14:59.999", "just-too-old", 90),
		rec("09:15", "oldest-in", 90),
		rec("09:45", "newest-in", 90),
		rec("09:59:59.999", "last-ms", 90),
		rec("10:00", "at-run-time", 90),
		rec("10:15", "future", 90),
	} {
		w.Add(r)
	}
	run := w.Run(clock("10:00"))
	if !run.Time.Equal(clock("10:00")) || !run.WindowStart.Equal(clock("09:15")) {
		t.Errorf("run time %v window start %v", run.Time, run.WindowStart)
	}
	if run.InWindow != 3 || names(run.Matches) != "[oldest-in newest-in last-ms]" {
		t.Errorf("in window %d, matches %s; want 3 [oldest-in newest-in last-ms]", run.InWindow, names(run.Matches))
	}
	if !w.LastRun().Equal(clock("10:00")) {
		t.Errorf("LastRun = %v", w.LastRun())
	}
}

func TestRunThresholdAndJob(t *testing.T) {
	w := NewWindow(DefaultRule())
	other := rec("09:45", "other-job", 99)
	other.JobID = "some_other_job"
	for _, r := range []record.Record{
		rec("09:45", "fifty", 50),
		rec("09:45", "just-below", 49.999999),
		rec("09:45", "zero", 0),
		rec("09:45", "hundred", 100),
		other,
	} {
		w.Add(r)
	}
	run := w.Run(clock("10:00"))
	if run.InWindow != 4 || names(run.Matches) != "[hundred fifty]" {
		t.Errorf("in window %d, matches %s; want 4 [hundred fifty]", run.InWindow, names(run.Matches))
	}
}

func TestRunOrder(t *testing.T) {
	w := NewWindow(DefaultRule())
	a := rec("09:30", "same", 70)
	b := a
	b.ID = a.ID + "-b" // same score, bucket and value: the id decides
	for _, r := range []record.Record{
		rec("09:45", "z-low", 55),
		b,
		rec("09:45", "b-high", 90),
		rec("09:45", "alpha", 70),
		rec("09:15", "zeta", 70),
		a,
		rec("09:30", "beta", 70),
	} {
		w.Add(r)
	}
	run := w.Run(clock("10:00"))
	want := "[b-high zeta beta same same alpha z-low]"
	if got := names(run.Matches); got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
	if run.Matches[3].ID != a.ID || run.Matches[4].ID != b.ID {
		t.Errorf("ties broken by id: %s then %s", run.Matches[3].ID, run.Matches[4].ID)
	}
}

func TestPruneAndAdd(t *testing.T) {
	w := NewWindow(DefaultRule())
	for _, b := range []string{"09:15", "09:30", "09:45"} {
		w.Add(rec(b, "r"+b, 60))
	}
	w.Run(clock("10:00"))
	// The next run (10:15) covers [09:30, 10:15): 09:15 is forgotten.
	if len(w.pending) != 2 {
		t.Errorf("%d records kept after the run, want 2", len(w.pending))
	}
	tests := []struct {
		bucket string
		want   bool
	}{
		{"09:15", false},
		{"09:29:59.999", false},
		{"09:30", true},
		{"10:00", true},
	}
	for _, tt := range tests {
		t.Run(tt.bucket, func(t *testing.T) {
			if got := w.Add(rec(tt.bucket, "late", 60)); got != tt.want {
				t.Errorf("Add(bucket %s) after a run at 10:00 = %v, want %v", tt.bucket, got, tt.want)
			}
		})
	}
	run := w.Run(clock("10:15"))
	if run.InWindow != 4 { // 09:30, 09:45, and the added 09:30 and 10:00
		t.Errorf("in window %d, want 4", run.InWindow)
	}
}

func TestThreeRunsSeeEachRecord(t *testing.T) {
	w := NewWindow(DefaultRule())
	w.Add(rec("10:00", "nc", 80))
	var seen []string
	for _, at := range w.Due(clock("11:00"), false) {
		if run := w.Run(at); len(run.Matches) > 0 {
			seen = append(seen, at.Format("15:04"))
		}
	}
	if fmt.Sprint(seen) != "[10:15 10:30 10:45]" {
		t.Errorf("runs that matched: %v, want [10:15 10:30 10:45]", seen)
	}
	if len(w.pending) != 0 {
		t.Errorf("%d records still pending", len(w.pending))
	}
}

func TestDrain(t *testing.T) {
	tests := []struct {
		name    string
		pending []string
		lastRun string
		want    string
	}{
		{name: "empty", want: "[]"},
		{name: "before any run", pending: []string{"10:30", "10:00"}, want: "[10:15 10:30 10:45]"},
		{name: "after a run", pending: []string{"10:00", "10:30"}, lastRun: "10:15", want: "[10:30 10:45]"},
		{name: "already covered", pending: []string{"10:00"}, lastRun: "10:15", want: "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWindow(DefaultRule())
			for i, b := range tt.pending {
				w.Add(rec(b, "p"+strconv.Itoa(i), 60))
			}
			if tt.lastRun != "" {
				w.Run(clock(tt.lastRun))
			}
			got := w.Drain()
			if times(got) != tt.want {
				t.Errorf("Drain = %s, want %s", times(got), tt.want)
			}
		})
	}
}

func TestAddKeepsARecordOnce(t *testing.T) {
	w := NewWindow(DefaultRule())
	r := rec("10:00", "perl", 90)
	for range 3 {
		if !w.Add(r) {
			t.Fatal("Add refused a record in the look-back")
		}
	}
	run := w.Run(clock("10:15"))
	if len(run.Matches) != 1 {
		t.Fatalf("%d matches for one record added three times, want 1", len(run.Matches))
	}
}

func TestLateRecordsSignalledByTheNextRun(t *testing.T) {
	w := NewWindow(DefaultRule())
	w.Run(clock("10:30"))
	late, low := rec("09:45", "late", 90), rec("09:45", "low", 10)
	for _, r := range []record.Record{late, low} {
		if !w.TooLate(r) || w.Add(r) {
			t.Fatalf("%s not too late", r.ByFieldValue)
		}
		w.AddLate(r)
	}
	w.AddLate(late)
	w.Add(rec("10:15", "on-time", 60))
	run := w.Run(clock("10:45"))
	if names(run.Matches) != "[late on-time]" || !run.Late[late.ID] || len(run.Late) != 1 {
		t.Errorf("matches %s, late %v", names(run.Matches), run.Late)
	}
	if run := w.Run(clock("11:00")); run.Late != nil || names(run.Matches) != "[on-time]" {
		t.Errorf("late records signalled twice: %s", names(run.Matches))
	}
	if got := times(NewWindow(DefaultRule()).Drain()); got != "[]" {
		t.Errorf("Drain of an empty window %s", got)
	}
	w.AddLate(late)
	if got := times(w.Drain()); got != "[11:15]" {
		t.Errorf("Drain with only a late record %s, want [11:15]", got)
	}
}

func TestCatchUpAfterRestoreAndMissed(t *testing.T) {
	w := NewWindow(DefaultRule())
	w.SetLastRun(clock("10:15"))
	// Restored: 10:00 was covered by the run at 10:15, 10:15 not yet.
	w.Add(rec("10:00", "seen", 60))
	w.Add(rec("10:15", "unseen", 60))
	if got := times(w.Due(clock("11:07"), true)); got != "[10:30 10:45 11:00]" {
		t.Errorf("catch-up runs %s", got)
	}
	// A bounded catch-up jumps: the runs that would have covered 10:15 never happen.
	w.SetLastRun(clock("11:00"))
	run := w.Run(clock("11:15"))
	if names(run.Missed) != "[unseen]" || len(run.Pruned) != 2 {
		t.Errorf("missed %s, pruned %v", names(run.Missed), run.Pruned)
	}
}

// TestDueWithoutEventTime: the end of an empty replay carries no watermark; no run is due at
// the zero time (it ran in year 1, with a window starting in year 0).
func TestDueWithoutEventTime(t *testing.T) {
	w := NewWindow(DefaultRule())
	for _, live := range []bool{false, true} {
		if due := w.Due(time.Time{}, live); len(due) != 0 {
			t.Errorf("live %v: runs due at the zero time: %v", live, due)
		}
	}
	if drain := w.Drain(); len(drain) != 0 {
		t.Errorf("an empty window drains with runs %v", drain)
	}
}

package enricher

import (
	"testing"
	"time"
)

func TestRecogniseSchedule(t *testing.T) {
	at := func(s ...string) []int64 {
		out := make([]int64, len(s))
		for i, v := range s {
			tm, err := time.Parse("2006-01-02 15:04", v)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = tm.UnixMilli()
		}
		return out
	}
	const span = 15 * time.Minute
	tests := []struct {
		name   string
		runs   []int64
		period string // "" for none
		desc   string
		shown  int // runs given as evidence
	}{
		{"too few runs", at("2025-01-01 03:00", "2025-02-01 03:00"), "", "", 0},
		{"hourly", at("2025-01-01 01:15", "2025-01-01 02:15", "2025-01-01 03:15", "2025-01-01 04:15"), PeriodHourly, "hourly, 4 runs in a row, at about minute 15", 4},
		{"hourly needs four runs", at("2025-01-01 01:15", "2025-01-01 02:15", "2025-01-01 03:15"), "", "", 0},
		{"daily within a bucket", at("2025-01-01 03:00", "2025-01-02 03:15", "2025-01-03 03:00"), PeriodDaily, "daily, 3 runs in a row, at about 03:00 UTC", 3},
		{"daily after noise", at("2024-12-01 11:00", "2025-01-01 03:00", "2025-01-02 03:00", "2025-01-03 03:00"), PeriodDaily, "daily, 3 runs in a row, at about 03:00 UTC", 3},
		{"weekly", at("2025-01-05 22:30", "2025-01-12 22:30", "2025-01-19 22:30"), PeriodWeekly, "weekly, 3 runs in a row, on Sunday at about 22:30 UTC", 3},
		{"monthly", at("2025-01-01 03:00", "2025-02-01 03:00", "2025-03-01 03:00", "2025-04-01 03:00"), PeriodMonthly, "monthly, 4 runs in a row, on day 1 at about 03:00 UTC", 4},
		{"monthly on the 31st", at("2025-01-31 04:00", "2025-02-28 04:00", "2025-03-28 04:00"), PeriodMonthly, "monthly, 3 runs in a row, on day 28 at about 04:00 UTC", 3},
		{"quarterly", at("2024-07-15 02:00", "2024-10-15 02:00", "2025-01-15 02:00"), PeriodQuarterly, "quarterly, 3 runs in a row, on day 15 at about 02:00 UTC", 3},
		{"irregular", at("2025-01-01 03:00", "2025-01-04 07:00", "2025-01-05 01:00", "2025-01-19 13:00"), "", "", 0},
		{"evidence capped", at("2025-01-01 00:00", "2025-01-01 01:00", "2025-01-01 02:00", "2025-01-01 03:00", "2025-01-01 04:00", "2025-01-01 05:00", "2025-01-01 06:00", "2025-01-01 07:00"),
			PeriodHourly, "hourly, 8 runs in a row, at about minute 0", maxScheduleRuns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RecogniseSchedule(tt.runs, span)
			if tt.period == "" {
				if got != nil {
					t.Fatalf("got %+v, want no schedule", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("no schedule, want %s", tt.period)
			}
			if got.Period != tt.period || got.Description != tt.desc || len(got.Runs) != tt.shown {
				t.Errorf("got %s %q with %d runs, want %s %q with %d", got.Period, got.Description, len(got.Runs), tt.period, tt.desc, tt.shown)
			}
			if last := got.Runs[len(got.Runs)-1]; last.UnixMilli() != tt.runs[len(tt.runs)-1] {
				t.Errorf("last run %s, want the record's bucket", last)
			}
		})
	}
}

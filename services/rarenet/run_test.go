package rarenet

import (
	"testing"
	"time"
)

func TestFirstSignalRun(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 3, h, m, 0, 0, time.UTC) }
	for _, tt := range []struct {
		now, want time.Time
		lateness  time.Duration
	}{
		{at(10, 5), at(10, 30), time.Minute},
		{at(10, 0), at(10, 30), time.Minute},
		{at(10, 14), at(10, 30), time.Minute},
		{at(10, 15), at(10, 45), time.Minute},
		{at(10, 5), at(10, 15), 0},
	} {
		if got := FirstSignalRun(tt.now, 15*time.Minute, tt.lateness, 15*time.Minute); !got.Equal(tt.want) {
			t.Errorf("now %s lateness %s: %s, want %s", tt.now.Format("15:04"), tt.lateness, got.Format("15:04"), tt.want.Format("15:04"))
		}
	}
}

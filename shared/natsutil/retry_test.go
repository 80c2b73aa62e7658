package natsutil

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestBackoff: the one retry loop waits First, then doubles up to Max, and stops at the first
// success, at an error not worth another attempt, when For has passed, or when ctx is done,
// returning the last error.
func TestBackoff(t *testing.T) {
	errAgain, errFinal := errors.New("again"), errors.New("final")
	again := func(err error) bool { return errors.Is(err, errAgain) }
	// failing returns f, failing with errs in turn (then succeeding), and the times of its calls.
	failing := func(errs ...error) (func(context.Context) error, *[]time.Time) {
		var calls []time.Time
		return func(context.Context) error {
			calls = append(calls, time.Now())
			if len(calls) > len(errs) {
				return nil
			}
			return errs[len(calls)-1]
		}, &calls
	}
	b := Backoff{First: 10 * time.Millisecond, Max: 20 * time.Millisecond, Again: again}

	t.Run("until success, doubling up to Max", func(t *testing.T) {
		f, calls := failing(errAgain, errAgain, errAgain)
		if err := b.Retry(context.Background(), f); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		if len(*calls) != 4 {
			t.Fatalf("%d attempts, want 4", len(*calls))
		}
		for i, want := range []time.Duration{10, 20, 20} {
			if gap := (*calls)[i+1].Sub((*calls)[i]); gap < want*time.Millisecond {
				t.Errorf("wait %d: %s, want at least %dms", i+1, gap, want)
			}
		}
	})
	t.Run("not again", func(t *testing.T) {
		f, calls := failing(errAgain, errFinal, errAgain)
		if err := b.Retry(context.Background(), f); !errors.Is(err, errFinal) || len(*calls) != 2 {
			t.Errorf("Retry: %v after %d attempts, want %v after 2", err, len(*calls), errFinal)
		}
	})
	t.Run("For has passed", func(t *testing.T) {
		b := b
		b.For = 30 * time.Millisecond
		calls := 0
		start := time.Now()
		err := b.Retry(context.Background(), func(context.Context) error { calls++; return errAgain })
		if !errors.Is(err, errAgain) || calls < 2 || time.Since(start) < b.For {
			t.Errorf("Retry: %v after %d attempts and %s, want %v after several and at least %s", err, calls, time.Since(start), errAgain, b.For)
		}
	})
	t.Run("ctx done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := b.Retry(ctx, func(context.Context) error {
			if calls++; calls == 2 {
				cancel()
			}
			return errAgain
		})
		if !errors.Is(err, errAgain) || calls != 2 {
			t.Errorf("Retry: %v after %d attempts, want %v after 2", err, calls, errAgain)
		}
	})
	t.Run("each attempt its own deadline", func(t *testing.T) {
		b := b
		b.Attempt = time.Millisecond
		var deadlines int
		_ = b.Retry(context.Background(), func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); ok {
				deadlines++
			}
			<-ctx.Done()
			if deadlines < 2 {
				return errAgain
			}
			return errFinal
		})
		if deadlines != 2 {
			t.Errorf("%d attempts had a deadline, want 2", deadlines)
		}
	})
	t.Run("attempts' deadlines doubling up to AttemptMax", func(t *testing.T) {
		b := b
		b.First, b.Max = time.Millisecond, time.Millisecond
		b.Attempt, b.AttemptMax = 10*time.Millisecond, 40*time.Millisecond
		var got []time.Duration
		_ = b.Retry(context.Background(), func(ctx context.Context) error {
			d, _ := ctx.Deadline()
			got = append(got, time.Until(d).Round(10*time.Millisecond))
			if len(got) < 5 {
				return errAgain
			}
			return nil
		})
		if want := []time.Duration{10, 20, 40, 40, 40}; len(got) != len(want) {
			t.Fatalf("%d attempts, want %d", len(got), len(want))
		} else {
			for i := range want {
				if got[i] != want[i]*time.Millisecond {
					t.Errorf("attempt %d's deadline %s away, want %dms", i+1, got[i], want[i])
				}
			}
		}
	})
	t.Run("logged", func(t *testing.T) {
		var buf bytes.Buffer
		b := b
		b.Log, b.What = slog.New(slog.NewTextHandler(&buf, nil)), "connect to NATS"
		f, _ := failing(errAgain)
		if err := b.Retry(context.Background(), f); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		if got := buf.String(); !strings.Contains(got, `msg=retrying what="connect to NATS" err=again in=10ms`) {
			t.Errorf("logged %q", got)
		}
	})
}

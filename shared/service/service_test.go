package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/stream"
)

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantURL string
		wantP   int
		wantR   int
		wantErr string // substring; "" for no error
	}{
		{name: "defaults", wantURL: "nats://127.0.0.1:4222", wantP: 8, wantR: 1},
		{name: "from environment, dashes as underscores",
			env:     map[string]string{"RARENET_NATS_URL": "nats://n1:4222", "RARENET_PARTITIONS": "32", "RARENET_REPLICAS": "3"},
			wantURL: "nats://n1:4222", wantP: 32, wantR: 3},
		{name: "command line wins",
			args:    []string{"-partitions=16"},
			env:     map[string]string{"RARENET_PARTITIONS": "32", "RARENET_NATS_URL": "nats://n1:4222"},
			wantURL: "nats://n1:4222", wantP: 16, wantR: 1},
		{name: "bad values are reported by variable",
			env:     map[string]string{"RARENET_PARTITIONS": "many", "RARENET_REPLICAS": "three"},
			wantErr: "RARENET_PARTITIONS"},
		{name: "lower-case names are not read",
			env:     map[string]string{"rarenet_partitions": "3"},
			wantURL: "nats://127.0.0.1:4222", wantP: 8, wantR: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var c Common
			c.RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := ApplyEnv(fs)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ApplyEnv: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ApplyEnv = %v, want an error naming %s", err, tt.wantErr)
			}
			if tt.wantErr != "" {
				// flag's Set may have written a zero before failing: only the error counts.
				if !strings.Contains(err.Error(), "RARENET_REPLICAS") {
					t.Errorf("error %q does not report every bad variable", err)
				}
				return
			}
			if c.NATSURL != tt.wantURL || c.Partitions != tt.wantP || c.Replicas != tt.wantR {
				t.Errorf("got url %q partitions %d replicas %d, want %q %d %d", c.NATSURL, c.Partitions, c.Replicas, tt.wantURL, tt.wantP, tt.wantR)
			}
		})
	}
}

func TestLogger(t *testing.T) {
	tests := []struct {
		level, format string
		ok            bool
	}{
		{"info", "text", true},
		{"debug", "json", true},
		{"loud", "text", false},
		{"info", "xml", false},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.format, func(t *testing.T) {
			c := Common{LogLevel: tt.level, LogFormat: tt.format}
			l, err := c.Logger()
			if (err == nil) != tt.ok || (l != nil) != tt.ok {
				t.Errorf("Logger() = %v, %v; want ok=%v", l, err, tt.ok)
			}
		})
	}
}

func TestRunRestartingRestartsThenGivesUp(t *testing.T) {
	defer func(w time.Duration) { firstRestartWait = w }(firstRestartWait)
	firstRestartWait = time.Millisecond
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	calls := 0
	err := runRestarting(context.Background(), log, func() error {
		calls++
		if calls < 3 {
			return errors.New("leader lost")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("runRestarting = %v after %d calls; want nil after 3 (two failures, then a clean stop)", err, calls)
	}
	calls = 0
	err = runRestarting(context.Background(), log, func() error { calls++; return errors.New("broken for good") })
	if err == nil || !strings.Contains(err.Error(), "broken for good") || calls != MaxRestarts+1 {
		t.Fatalf("runRestarting = %v after %d calls; want the last error after %d", err, calls, MaxRestarts+1)
	}
	calls = 0
	err = runRestarting(context.Background(), log, func() error {
		calls++
		return fmt.Errorf("ingest: %w", stream.ErrLineMismatch)
	})
	if !errors.Is(err, stream.ErrLineMismatch) || calls != 1 {
		t.Fatalf("runRestarting = %v after %d calls; want a disagreeing setting to stop it at once", err, calls)
	}
}

func TestMetricsReRegisterOnRestart(t *testing.T) {
	m := NewMetrics("test")
	m.Counter("events_total", "Events.", func() int64 { return 1 })
	m.Counter("events_total", "Events.", func() int64 { return 7 }) // a restarted stage's new counter
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "rarenet_test_events_total" {
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 7 {
				t.Errorf("events_total = %v, want the new counter's 7", v)
			}
			return
		}
	}
	t.Error("rarenet_test_events_total not gathered")
}

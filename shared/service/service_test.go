package service

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantURL string
		wantP   int
		wantTTL time.Duration
		wantErr string // substring; "" for no error
	}{
		{name: "defaults", wantURL: "nats://127.0.0.1:4222", wantP: 8, wantTTL: 24 * time.Hour},
		{name: "from environment, dashes as underscores",
			env:     map[string]string{"RARENET_NATS_URL": "nats://n1:4222", "RARENET_PARTITIONS": "32", "RARENET_EMITTED_TTL": "2h"},
			wantURL: "nats://n1:4222", wantP: 32, wantTTL: 2 * time.Hour},
		{name: "command line wins",
			args:    []string{"-partitions=16"},
			env:     map[string]string{"RARENET_PARTITIONS": "32", "RARENET_NATS_URL": "nats://n1:4222"},
			wantURL: "nats://n1:4222", wantP: 16, wantTTL: 24 * time.Hour},
		{name: "bad values are reported by variable",
			env:     map[string]string{"RARENET_PARTITIONS": "many", "RARENET_EMITTED_TTL": "soon"},
			wantErr: "RARENET_PARTITIONS"},
		{name: "lower-case names are not read",
			env:     map[string]string{"rarenet_partitions": "3"},
			wantURL: "nats://127.0.0.1:4222", wantP: 8, wantTTL: 24 * time.Hour},
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
				if !strings.Contains(err.Error(), "RARENET_EMITTED_TTL") {
					t.Errorf("error %q does not report every bad variable", err)
				}
				return
			}
			if c.NATSURL != tt.wantURL || c.Partitions != tt.wantP || c.EmittedTTL != tt.wantTTL {
				t.Errorf("got url %q partitions %d ttl %v, want %q %d %v", c.NATSURL, c.Partitions, c.EmittedTTL, tt.wantURL, tt.wantP, tt.wantTTL)
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

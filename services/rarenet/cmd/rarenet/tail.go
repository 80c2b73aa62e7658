package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rarenet/rarenet/services/ingest/tail"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
)

// defaultLiveURL is where `rarenet run` listens by default: the live sources talk to it
// unless told otherwise.
const defaultLiveURL = "nats://127.0.0.1:4222"

// sourceFlags registers the flags every live source shares.
func sourceFlags(fs *flag.FlagSet, url, logLevel *string) {
	fs.StringVar(url, "nats-url", defaultLiveURL, "NATS server or cluster URL(s), comma separated (default: rarenet run's embedded server)")
	fs.StringVar(logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

func sourceLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func tailCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rarenet tail", flag.ExitOnError)
	var cfg tail.Config
	var url, logLevel, from string
	sourceFlags(fs, &url, &logLevel)
	fs.StringVar(&cfg.Format, "format", "auto", "input format, the raw subject's last token: auto (detected from the first line), auditd, ecs, sysmon, tetragon, osquery or falco")
	fs.StringVar(&cfg.StateFile, "state", filepath.Join(defaultDataDir(), "tail.json"), "file keeping the acknowledged position of each file across restarts; empty keeps none")
	fs.DurationVar(&cfg.Poll, "poll", 250*time.Millisecond, "how often the files are looked at")
	fs.StringVar(&from, "from", "start", "where to begin a file without a saved position: start or end")
	fs.StringVar(&cfg.Host, "host", "", "host name in the message ids (default: this host's name)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet tail [flags] FILE...  (e.g. /var/log/audit/audit.log)")
		fmt.Fprintln(fs.Output(), "Follows the files across rotation and truncation and publishes new lines on rarenet.raw.<format>.")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if err := service.ApplyEnv(fs); err != nil {
		return err
	}
	cfg.Paths = fs.Args()
	if len(cfg.Paths) == 0 {
		fs.Usage()
		return errors.New("no file given")
	}
	switch from {
	case "start":
	case "end":
		cfg.FromEnd = true
	default:
		return fmt.Errorf("--from: want start or end, got %q", from)
	}
	log, err := sourceLogger(logLevel)
	if err != nil {
		return err
	}
	nc, err := natsutil.Connect(url, nil, "tail")
	if err != nil {
		return err
	}
	defer nc.Drain()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	t, err := tail.New(cfg, js, log)
	if err != nil {
		return err
	}
	return t.Run(ctx)
}

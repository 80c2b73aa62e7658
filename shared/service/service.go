// Package service is the common frame of the stage binaries: flags for the NATS connection,
// the stream layout and logging, signal handling, and the streams created before a stage
// starts.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// Common holds the flags every stage binary takes.
type Common struct {
	NATSURL    string
	Partitions int
	Replicas   int
	LogLevel   string
	LogFormat  string
	EmittedTTL time.Duration
}

// RegisterFlags registers the common flags on fs. Every flag can also be set in the
// environment as RARENET_<NAME>, with dashes as underscores (see ApplyEnv).
func (c *Common) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.NATSURL, "nats-url", nats.DefaultURL, "NATS server or cluster URL(s), comma separated")
	fs.IntVar(&c.Partitions, "partitions", stream.DefaultPartitions, "event partitions P, fixed when the streams are created")
	fs.IntVar(&c.Replicas, "replicas", 1, "JetStream stream replicas (3 on a cluster)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&c.EmittedTTL, "emitted-ttl", 24*time.Hour, "how long the windower remembers signalled records (longer than the look-back)")
}

// Logger returns the slog logger the flags ask for, writing to stderr.
func (c *Common) Logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", c.LogFormat)
}

// StreamConfig returns the stream layout the flags ask for.
func (c *Common) StreamConfig() stream.Config {
	return stream.Config{Partitions: c.Partitions, Replicas: c.Replicas}
}

// ApplyEnv sets every flag of fs not given on the command line from RARENET_<NAME> when that
// variable is set, so containers can be configured by environment.
func ApplyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := "RARENET_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Main runs one stage binary: it parses the flags (register adds the stage's own), connects,
// creates the streams if needed and calls run until SIGINT or SIGTERM.
func Main(name string, register func(*flag.FlagSet), validate func() error, run func(context.Context, *nats.Conn, *slog.Logger) error) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	var common Common
	common.RegisterFlags(fs)
	register(fs)
	_ = fs.Parse(os.Args[1:])
	if err := ApplyEnv(fs); err != nil {
		fail(name, err)
	}
	log, err := common.Logger()
	if err != nil {
		fail(name, err)
	}
	if err := validate(); err != nil {
		fail(name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := natsutil.Connect(common.NATSURL, nil, name)
	if err != nil {
		fail(name, err)
	}
	defer nc.Drain()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		fail(name, err)
	}
	if err := stream.Ensure(ctx, js, common.StreamConfig(), common.EmittedTTL); err != nil {
		fail(name, err)
	}
	if err := run(ctx, nc, log); err != nil {
		log.Error("stopped", "stage", name, "err", err)
		os.Exit(1)
	}
}

func fail(name string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(2)
}

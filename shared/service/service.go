// Package service is the common frame of the stage binaries: flags for the NATS connection
// (TLS and credentials included), the stream layout and logging, signal handling, the streams
// created before a stage starts, and the operations endpoints (/healthz, /readyz, /metrics).
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/cli"
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
}

// RegisterFlags registers the common flags on fs. Every flag can also be set in the
// environment as RARENET_<NAME>, with dashes as underscores (see ApplyEnv).
func (c *Common) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.NATSURL, "nats-url", nats.DefaultURL, "NATS server or cluster URL(s), comma separated")
	fs.IntVar(&c.Partitions, "partitions", stream.DefaultPartitions, "event partitions P, fixed when the streams are created")
	fs.IntVar(&c.Replicas, "replicas", 1, "JetStream stream replicas (3 on a cluster)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
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

// Stage describes a stage: its package exports it (Describe), cmd/<stage> runs it alone with
// Run, and the all-in-one runs it with the others, on one process's connections.
type Stage struct {
	// Name is the stage's name: the binary's, the metrics' subsystem, the connection's.
	Name string
	// Summary says what the stage does, for its help.
	Summary string
	// Register adds the stage's own flags; Validate checks them once parsed.
	Register func(*flag.FlagSet)
	Validate func() error
	// Reads and Writes name the streams the stage consumes and publishes to, and Stores the
	// key-value buckets and object stores it creates: its contract with the other stages, as
	// docs/pipeline.md's table has it.
	Reads, Writes, Stores []string
	// Consumers are the durable consumers the stage reads: /readyz waits for them, and their
	// pending counts are the stage's lag on /metrics.
	Consumers []Consumer
	// PartitionConsumers, when set, adds consumers named after the partition count P (known
	// once the flags are parsed): the scorer has one per partition.
	PartitionConsumers func(partitions int) []Consumer
	// New builds the stage on nc and registers its own metrics on m; Run then runs it.
	New func(ctx context.Context, nc *nats.Conn, log *slog.Logger, m *Metrics) (Runner, error)
}

// Runner is a stage built on its connection.
type Runner interface {
	// Run runs the stage until ctx is done.
	Run(ctx context.Context) error
}

// AllConsumers is the stage's consumers for P partitions.
func (st *Stage) AllConsumers(partitions int) []Consumer {
	if st.PartitionConsumers == nil {
		return st.Consumers
	}
	return append(slices.Clone(st.Consumers), st.PartitionConsumers(partitions)...)
}

// Run runs one stage binary: it parses the flags (the stage registers its own), serves
// /healthz, /readyz and /metrics on --http-addr, connects (retrying until NATS answers),
// creates the streams if needed and runs the stage until SIGINT or SIGTERM. With
// --healthcheck URL it only checks another instance's endpoint and exits 0 or 1.
func Run(st Stage) {
	name := st.Name
	if cli.IsVersion(os.Args[1:]) {
		cli.PrintVersion(os.Stdout, name)
		os.Exit(cli.ExitOK)
	}
	summary := st.Summary
	if summary == "" {
		summary = "The " + name + " stage of rarenet."
	}
	c := cli.New(name, summary, name+" [flags]", name+" version")
	c.Notes = "Every flag can also be set as RARENET_<FLAG> in the environment (--nats-url as RARENET_NATS_URL).\n" +
		"Exit status: 0 stopped by SIGINT or SIGTERM, 1 failed, 2 a wrong flag."
	var common Common
	var sec Security
	var httpAddr, healthcheck string
	var startTimeout time.Duration
	var profiling bool
	AddFlags(c, common.RegisterFlags)
	AddFlags(c, sec.RegisterFlags)
	AddFlags(c, func(fs *flag.FlagSet) {
		fs.StringVar(&httpAddr, "http-addr", DefaultHTTPAddr, "serve /healthz, /readyz and /metrics on this address; empty for none")
		fs.StringVar(&healthcheck, "healthcheck", "", "only GET this `URL` (e.g. http://127.0.0.1:9090/healthz) and exit 0 if it answers 200 OK, else 1: the health check of a container with nothing but this binary")
		fs.DurationVar(&startTimeout, "start-timeout", 2*time.Minute, "how long to wait for NATS and the streams at start before giving up")
		fs.BoolVar(&profiling, "pprof", false, "also serve Go's profiles on --http-addr under /debug/pprof/ (they can hold event data: keep that port internal)")
	})
	AddFlags(c, st.Register)
	fs := c.FlagSet()
	if err := c.Parse(os.Args[1:]); err != nil {
		os.Exit(cli.Exit(os.Stderr, name, err))
	}
	if len(c.Args()) > 0 {
		fail(name, c.Usagef("unexpected arguments %q: a stage takes flags only", c.Args()))
	}
	// Read before ApplyEnv: the check mode is asked for on the command line, never inherited
	// from a container's environment.
	if healthcheck != "" {
		if err := HealthCheck(healthcheck); err != nil {
			fmt.Fprintf(os.Stderr, "%s: unhealthy: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if err := ApplyEnv(fs); err != nil {
		fail(name, c.Usagef("%w", err))
	}
	log, err := common.Logger()
	if err != nil {
		fail(name, c.Usagef("%w", err))
	}
	if err := st.Validate(); err != nil {
		fail(name, c.Usagef("%w", err))
	}
	natsOpts, err := sec.Options()
	if err != nil {
		fail(name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Ensure below refuses a --partitions other than the stream's, so these are the ones.
	consumers := st.AllConsumers(common.Partitions)
	ready := NewReadiness(consumers)
	metrics := NewMetrics(name)
	h := Handler(ready, metrics)
	if profiling {
		h = WithProfiling(h)
	}
	Serve(ctx, httpAddr, h, log)

	natsOpts = append(natsOpts,
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("disconnected from NATS", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("NATS error", "subject", subject, "err", err)
		}),
	)
	startCtx, cancelStart := context.WithTimeout(ctx, startTimeout)
	defer cancelStart()
	nc, err := Retry(startCtx, log, "connect to NATS", func() (*nats.Conn, error) {
		return natsutil.Connect(common.NATSURL, nil, name, natsOpts...)
	})
	if errors.Is(err, nats.ErrNoServers) {
		err = fmt.Errorf("no NATS server answered at %s within --start-timeout %s", common.NATSURL, startTimeout)
	}
	if err != nil {
		fail(name, err)
	}
	defer nc.Drain()
	log.Info("connected to NATS", "server", nc.ConnectedUrlRedacted(), "tls", nc.TLSRequired())
	js, err := natsutil.JetStream(nc)
	if err != nil {
		fail(name, err)
	}
	if _, err := Retry(startCtx, log, "create the streams", func() (struct{}, error) {
		// A request the cluster drops while it elects its JetStream leader gets no answer:
		// give each attempt its own deadline.
		attempt, cancel := context.WithTimeout(startCtx, 10*time.Second)
		defer cancel()
		err := stream.Ensure(attempt, js, common.StreamConfig())
		if misconfigured(err) {
			return struct{}{}, errPermanent{err}
		}
		return struct{}{}, err
	}); err != nil {
		fail(name, err)
	}
	cancelStart()
	metrics.reg.MustRegister(newConnCollector(nc), NewConsumerCollector(js, consumers))
	ready.Running(nc, js)
	go ready.Watch(ctx, log, ReadinessInterval)
	run := func() error {
		r, err := st.New(ctx, nc, log, metrics)
		if err != nil {
			return err
		}
		return r.Run(ctx)
	}
	if err := runRestarting(ctx, log, run); err != nil {
		log.Error("stopped", "stage", name, "err", err)
		os.Exit(1)
	}
}

// ReadinessInterval is how often a stage checks its own readiness, to log when it changes.
const ReadinessInterval = 5 * time.Second

// Restarts bounds the in-process restarts of a failing stage: at most MaxRestarts within
// RestartWindow, after which the process exits and its supervisor takes over.
const (
	MaxRestarts   = 5
	RestartWindow = time.Minute
)

// firstRestartWait is the pause before the first restart; it doubles up to 10s.
var firstRestartWait = 500 * time.Millisecond

// runRestarting runs a stage and runs it again when it fails. Every stage resumes from its
// durable state (consumers, checkpoints, KV), so a failure that outlasted the retries inside
// it (a NATS node lost, a leader election, a KV write refused) costs a restart in place rather
// than the process.
func runRestarting(ctx context.Context, log *slog.Logger, run func() error) error {
	var failures []time.Time
	wait := firstRestartWait
	for {
		err := run()
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if misconfigured(err) {
			return err // no restart mends it
		}
		now := time.Now()
		failures = append(failures, now)
		for len(failures) > 0 && now.Sub(failures[0]) > RestartWindow {
			failures = failures[1:]
		}
		if len(failures) > MaxRestarts {
			return fmt.Errorf("%d failures within %s, the last: %w", len(failures), RestartWindow, err)
		}
		log.Error("stage failed: restarting it from its durable state", "err", err, "in", wait.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// misconfigured reports a failure no retry or restart mends: the stage was started with a
// setting the pipeline's streams disagree with (the partition count, the bucket span, the
// allowed lateness).
func misconfigured(err error) bool {
	return errors.Is(err, stream.ErrPartitionMismatch) || errors.Is(err, stream.ErrLineMismatch)
}

// errPermanent stops retry at once.
type errPermanent struct{ error }

// Retry calls f until it succeeds, fails permanently or ctx is done, logging each failure:
// at start NATS may not answer yet, or a new cluster may not have elected its JetStream
// leader.
func Retry[T any](ctx context.Context, log *slog.Logger, what string, f func() (T, error)) (T, error) {
	var v T
	b := natsutil.Backoff{First: 250 * time.Millisecond, Max: 5 * time.Second, Log: log, What: what,
		Again: func(err error) bool { return !errors.As(err, new(errPermanent)) }}
	err := b.Retry(ctx, func(context.Context) (err error) {
		v, err = f()
		return err
	})
	var perm errPermanent
	switch {
	case err == nil:
		return v, nil
	case errors.As(err, &perm):
		return v, perm.error
	case ctx.Err() != nil:
		return v, fmt.Errorf("%s: %w (gave up: %w)", what, err, context.Cause(ctx))
	}
	return v, err
}

// fail reports err and exits: 2 for a usage error, 1 for a failure.
func fail(name string, err error) {
	os.Exit(cli.Exit(os.Stderr, name, err))
}

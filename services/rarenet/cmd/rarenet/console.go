package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// consoleCmd serves the web console against any deployment: it needs to read the signals and
// the history, and to write its own bucket and the exceptions (the console user of
// deploy/nats/accounts.conf), nothing else.
func consoleCmd(ctx context.Context, args []string) error {
	c := cli.New("rarenet console",
		"Serves the web console against any deployment: the signals with filters and a timeline, each\n"+
			"signal's answers to the investigation guide, triage, exceptions, live updates (docs/console.md).\n"+
			"Loopback by default; another address needs --token-file or --insecure.",
		"rarenet console [--nats-url URL] [--listen ADDR] [--token-file FILE]")
	c.Notes = envNote
	var cfg console.Config
	var sec service.Security
	var url, logLevel, logFormat, healthcheck string
	var replicas int
	var startTimeout time.Duration
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.StringVar(&url, "nats-url", nats.DefaultURL, "NATS server or cluster URL(s), comma separated")
		fs.IntVar(&replicas, "replicas", 1, "replicas of the console's key-value bucket (3 on a cluster)")
	})
	service.AddFlags(c, sec.RegisterFlags)
	c.Flags(cli.Output, func(fs *flag.FlagSet) { cfg.RegisterFlags(fs, "", "127.0.0.1:8080") })
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
		fs.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	})
	c.Flags(cli.Operations, func(fs *flag.FlagSet) {
		fs.StringVar(&healthcheck, "healthcheck", "", "only GET this `URL` (e.g. http://127.0.0.1:8080/healthz) and exit 0 if it answers 200 OK, else 1")
		fs.DurationVar(&startTimeout, "start-timeout", 2*time.Minute, "how long to wait for NATS at start before giving up")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if len(c.Args()) > 0 {
		return c.Usagef("unexpected arguments %q", c.Args())
	}
	if healthcheck != "" {
		if err := service.HealthCheck(healthcheck); err != nil {
			return fmt.Errorf("unhealthy: %w", err)
		}
		return nil
	}
	if err := service.ApplyEnv(c.FlagSet()); err != nil {
		return c.Usagef("%w", err)
	}
	if err := cfg.Validate(); err != nil {
		return c.Usagef("%w", err)
	}
	common := service.Common{LogLevel: logLevel, LogFormat: logFormat}
	log, err := common.Logger()
	if err != nil {
		return c.Usagef("%w", err)
	}
	opts, err := sec.Options()
	if err != nil {
		return err
	}
	cfg.Streams = stream.Config{Replicas: replicas}
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	opts = append(opts, nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("disconnected from NATS", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted()) }))
	nc, err := service.Retry(startCtx, log, "connect to NATS", func() (*nats.Conn, error) {
		return natsutil.Connect(url, nil, console.Stage, opts...)
	})
	if err != nil {
		return err
	}
	defer nc.Drain()
	log.Info("connected to NATS", "server", nc.ConnectedUrlRedacted(), "tls", nc.TLSRequired())
	srv, err := service.Retry(startCtx, log, "start the console", func() (*console.Server, error) {
		attempt, cancel := context.WithTimeout(startCtx, 10*time.Second)
		defer cancel()
		return console.New(attempt, cfg, nc, log)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "rarenet console: %s\n", srv.URL())
	return srv.Run(ctx)
}

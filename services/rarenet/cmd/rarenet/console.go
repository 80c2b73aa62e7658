package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// consoleCmd serves the web console against any deployment: it needs to read the signals and
// the history, and to write its own bucket and the exceptions (the console user of
// deploy/nats/accounts.conf), nothing else.
func consoleCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rarenet console", flag.ExitOnError)
	var cfg console.Config
	var sec service.Security
	url := fs.String("nats-url", nats.DefaultURL, "NATS server or cluster URL(s), comma separated")
	replicas := fs.Int("replicas", 1, "replicas of the console's key-value bucket (3 on a cluster)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	healthcheck := fs.String("healthcheck", "", "only GET this URL (e.g. http://127.0.0.1:8080/healthz) and exit 0 if it answers 200 OK, else 1")
	startTimeout := fs.Duration("start-timeout", 2*time.Minute, "how long to wait for NATS at start before giving up")
	cfg.RegisterFlags(fs, "", "127.0.0.1:8080")
	sec.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet console [--nats-url URL] [--listen ADDR] [--token-file FILE]  (every flag also as RARENET_<FLAG>)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if *healthcheck != "" {
		if err := service.HealthCheck(*healthcheck); err != nil {
			return fmt.Errorf("unhealthy: %w", err)
		}
		return nil
	}
	if err := service.ApplyEnv(fs); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	common := service.Common{LogLevel: *logLevel, LogFormat: *logFormat}
	log, err := common.Logger()
	if err != nil {
		return err
	}
	opts, err := sec.Options()
	if err != nil {
		return err
	}
	cfg.Streams = stream.Config{Replicas: *replicas}
	startCtx, cancel := context.WithTimeout(ctx, *startTimeout)
	defer cancel()
	opts = append(opts, nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("disconnected from NATS", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted()) }))
	nc, err := service.Retry(startCtx, log, "connect to NATS", func() (*nats.Conn, error) {
		return natsutil.Connect(*url, nil, console.Stage, opts...)
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

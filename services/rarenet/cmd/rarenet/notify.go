package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/notify"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// notifyCmd runs the notifier against a NATS server, or with --test sends one sample message
// to each destination and exits.
func notifyCmd(ctx context.Context, args []string) error {
	c := cli.New("rarenet notify",
		"Delivers every signal to webhooks (HMAC-signed), Slack, Mattermost, syslog, e-mail or a program,\n"+
			"by the routes of --config, once each; failures are dead-lettered per destination (rarenet dlq).\n"+
			"--test --to URL sends one sample message and exits. See docs/notify.md.",
		"rarenet notify [--nats-url URL] --config FILE [--to URL]...",
		"rarenet notify --test --to URL")
	c.Notes = notes(envNote, "Exit status: 0 stopped by SIGINT or SIGTERM (--test: every destination took the sample), 1 failed, 2 a wrong command line.")
	var o notify.Options
	var sec service.Security
	var url, httpAddr, logLevel string
	var test bool
	service.AddFlags(c, o.RegisterFlags)
	service.AddFlags(c, sec.RegisterFlags)
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.StringVar(&url, "nats-url", nats.DefaultURL, "NATS server or cluster URL(s)")
	})
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.BoolVar(&test, "test", false, "send one sample message to each destination (--to or the configuration's) and exit")
		fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	})
	c.Flags(cli.Operations, func(fs *flag.FlagSet) {
		fs.StringVar(&httpAddr, "http-addr", "", "serve /healthz, /readyz and /metrics on this address")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if err := service.ApplyEnv(c.FlagSet()); err != nil {
		return c.Usagef("%w", err)
	}
	if len(c.Args()) > 0 {
		return c.Usagef("unexpected arguments %q (destinations go in --to URL)", c.Args())
	}
	common := service.Common{LogLevel: logLevel, LogFormat: "text"}
	log, err := common.Logger()
	if err != nil {
		return c.Usagef("%w", err)
	}
	if err := o.Validate(); err != nil {
		return c.Usagef("%w", err)
	}
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	metrics := notify.NewMetrics()
	n, err := notify.New(cfg, log, metrics)
	if err != nil {
		return err
	}
	defer n.Close()
	if test {
		return sendTest(ctx, n)
	}
	opts, err := sec.Options()
	if err != nil {
		return err
	}
	nc, err := connect(url, stream.NotifyStage, opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if httpAddr != "" {
		js, err := natsutil.JetStream(nc)
		if err != nil {
			return err
		}
		m := service.NewMetrics(stream.NotifyStage)
		for _, c := range metrics.Collectors() {
			if err := m.Register(c); err != nil {
				return err
			}
		}
		ready := service.NewReadiness([]service.Consumer{{Stream: stream.Signals, Durable: stream.NotifyConsumer}})
		ready.Running(nc, js)
		service.Serve(ctx, httpAddr, service.Handler(ready, m), log)
	}
	return n.Run(ctx, nc, o.RunOptions())
}

// sendTest sends the sample to every destination and reports each.
func sendTest(ctx context.Context, n *notify.Notifier) error {
	res := n.SendTest(ctx)
	names := make([]string, 0, len(res))
	for name := range res {
		names = append(names, name)
	}
	sort.Strings(names)
	failed := 0
	for _, name := range names {
		if err := res[name]; err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "%s: failed: %v\n", name, err)
			continue
		}
		fmt.Fprintf(os.Stderr, "%s: sent\n", name)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d destinations failed", failed, len(names))
	}
	return nil
}

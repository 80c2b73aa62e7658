package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/notify"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// notifyCmd runs the notifier against a NATS server, or with --test sends one sample message
// to each destination and exits.
func notifyCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rarenet notify", flag.ExitOnError)
	var o notify.Options
	var sec service.Security
	o.RegisterFlags(fs)
	sec.RegisterFlags(fs)
	url := fs.String("nats-url", nats.DefaultURL, "NATS server or cluster URL(s)")
	test := fs.Bool("test", false, "send one sample message to each destination (--to or the configuration's) and exit")
	httpAddr := fs.String("http-addr", "", "serve /healthz, /readyz and /metrics on this address")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet notify [--nats-url URL] --config FILE [--to URL]...  (signals to destinations, docs/notify.md)")
		fmt.Fprintln(fs.Output(), "       rarenet notify --test --to URL                             (one sample message)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if err := service.ApplyEnv(fs); err != nil {
		return err
	}
	common := service.Common{LogLevel: *logLevel, LogFormat: "text"}
	log, err := common.Logger()
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
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
	if *test {
		return sendTest(ctx, n)
	}
	opts, err := sec.Options()
	if err != nil {
		return err
	}
	nc, err := natsutil.Connect(*url, nil, stream.NotifyStage, opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if *httpAddr != "" {
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
		service.Serve(ctx, *httpAddr, service.Handler(ready, m), log)
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

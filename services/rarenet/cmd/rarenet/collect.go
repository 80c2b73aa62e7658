package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/rarenet/rarenet/services/ingest/collect"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
)

func collectCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rarenet collect", flag.ExitOnError)
	var cfg collect.Config
	var url, logLevel string
	sourceFlags(fs, &url, &logLevel)
	fs.DurationVar(&cfg.Interval, "interval", time.Second, "polling interval: connections shorter than this may be missed")
	fs.StringVar(&cfg.Host, "host", "", "host.name of the events (default: this host's name)")
	fs.StringVar(&cfg.ProcRoot, "proc", "/proc", "the proc filesystem to read")
	fs.StringVar(&cfg.Passwd, "passwd", "/etc/passwd", "passwd file mapping user ids to user.name")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet collect [flags]")
		fmt.Fprintln(fs.Output(), "Polls /proc for new outbound connections and publishes them as ECS on rarenet.raw.ecs (run as root to see every process).")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if err := service.ApplyEnv(fs); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log, err := sourceLogger(logLevel)
	if err != nil {
		return err
	}
	c, err := collect.New(cfg)
	if err != nil {
		return err
	}
	nc, err := natsutil.Connect(url, nil, "collect")
	if err != nil {
		return err
	}
	defer nc.Drain()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	return c.Run(ctx, js, log)
}

package main

import (
	"context"
	"flag"
	"time"

	"github.com/rarenet/rarenet/services/sources/collect"
	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
)

func collectCmd(ctx context.Context, args []string) error {
	c := cli.New("rarenet collect",
		"A sensor without kernel modules: polls /proc for new outbound connections and publishes them\n"+
			"as ECS on rarenet.raw.ecs. Run it as root to see every process. Connections shorter than\n"+
			"--interval may be missed: rarenet sense (eBPF) or auditd see every connect.",
		"rarenet collect [flags]")
	c.Notes = envNote
	var cfg collect.Config
	var url, logLevel string
	sec := sourceFlags(c, &url, &logLevel, &cfg.SourceName)
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.DurationVar(&cfg.Interval, "interval", time.Second, "polling interval: connections shorter than this may be missed")
		fs.StringVar(&cfg.Host, "host", "", "host.name of the events (default: this host's name)")
		fs.StringVar(&cfg.ProcRoot, "proc", "/proc", "the proc filesystem to read")
		fs.StringVar(&cfg.Passwd, "passwd", "/etc/passwd", "passwd file mapping user ids to user.name")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if err := service.ApplyEnv(c.FlagSet()); err != nil {
		return c.Usagef("%w", err)
	}
	if err := rawpub.CheckSourceName(cfg.SourceName); err != nil {
		return c.Usagef("--source-name: %w", err)
	}
	if len(c.Args()) > 0 {
		return c.Usagef("unexpected arguments %q: collect takes flags only", c.Args())
	}
	log, err := sourceLogger(logLevel)
	if err != nil {
		return c.Usagef("%w", err)
	}
	col, err := collect.New(cfg)
	if err != nil {
		return err
	}
	nc, err := connectSecure(c, sec, url, "collect")
	if err != nil {
		return err
	}
	defer nc.Drain()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	return col.Run(ctx, js, log)
}

package main

import (
	"context"
	"flag"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/services/sources/sense"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
)

func senseCmd(ctx context.Context, args []string) error {
	c := cli.New("rarenet sense",
		"An eBPF sensor (no kernel module, no libbpf): publishes every connect (IPv4, IPv6, with its\n"+
			"result) as ECS on rarenet.raw.ecs. Needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE; in a\n"+
			"container, the host's pid namespace (docs/sensor.md).",
		"rarenet sense [flags]")
	c.Notes = envNote
	var cfg sense.Config
	var url, logLevel, httpAddr string
	var keepCaps bool
	sec := sourceFlags(c, &url, &logLevel, &cfg.SourceName)
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&cfg.Host, "host", "", "host.name of the events (default: this host's name)")
		fs.StringVar(&cfg.Probe, "probe", sense.ProbeAuto, "how to hook connect: auto (the first the kernel allows) or one of "+strings.Join(sense.Probes, ", "))
		fs.IntVar(&cfg.RingBuffer, "ring-buffer", sense.DefaultRingBuffer, "ring buffer size in bytes (a power of two): records that find it full are lost and counted")
		fs.DurationVar(&cfg.FlushInterval, "flush-interval", sense.DefaultFlushInterval, "longest wait of an event before it is published")
		fs.StringVar(&cfg.ProcRoot, "proc", "/proc", "the proc filesystem of the host's pid namespace")
		fs.StringVar(&cfg.Passwd, "passwd", "/etc/passwd", "passwd file mapping user ids to user.name")
		fs.BoolVar(&cfg.KeepLoopback, "keep-loopback", false, "report connects to loopback addresses too (the datafeed drops them)")
	})
	c.Flags(cli.Operations, func(fs *flag.FlagSet) {
		fs.BoolVar(&keepCaps, "keep-capabilities", false, "do not drop the capabilities the sensor no longer needs once attached")
		fs.StringVar(&httpAddr, "http-addr", "", "serve /healthz, /readyz and Prometheus /metrics on this address, e.g. :9090; empty: none")
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
		return c.Usagef("unexpected arguments %q: sense takes flags only", c.Args())
	}
	if err := sec.Validate(); err != nil {
		return c.Usagef("%w", err)
	}
	log, err := sourceLogger(logLevel)
	if err != nil {
		return err
	}
	s, err := sense.New(cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	if !keepCaps {
		kept, err := sense.DropCapabilities(sense.Kept...)
		if err != nil {
			return err
		}
		log.Info("capabilities dropped", "kept", strings.Join(kept, ","))
	}
	opts, err := sec.Options()
	if err != nil {
		return err
	}
	nc, err := connect(url, "sense", opts...)
	if err != nil {
		return err
	}
	defer nc.Drain()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	ready := service.NewReadiness(nil)
	ready.Running(nc, js)
	m := service.NewMetrics("sense")
	st := s.Stats()
	m.Counter("records_total", "connect records read from the kernel's ring buffer", st.Records.Load)
	m.Counter("lost_total", "connect records the kernel dropped because the ring buffer was full", s.LostRecords)
	m.Counter("malformed_total", "ring buffer samples that were not a connect record", st.Malformed.Load)
	m.Counter("process_gone_total", "processes that exited before /proc could be read (events without executable, args, cwd)", st.ProcessGone.Load)
	m.Counter("published_total", "events acknowledged by NATS", st.Published.Load)
	m.Counter("dropped_total", "events dropped from a full backlog while NATS was unavailable", st.Dropped.Load)
	service.Serve(ctx, httpAddr, service.Handler(ready, m), log)
	start := time.Now()
	err = s.Run(ctx, js, log)
	log.Info("stopped", "records", st.Records.Load(), "published", st.Published.Load(), "lost", st.Lost.Load(),
		"dropped", st.Dropped.Load(), "uptime", time.Since(start).Round(time.Second))
	return err
}

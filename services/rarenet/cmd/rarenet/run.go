package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/service"
)

func runCmd(ctx context.Context, args []string) error {
	c := cli.New("rarenet run",
		"Runs the pipeline live: an embedded NATS server with JetStream (data kept in --data-dir) and the\n"+
			"four stages. Sources publish raw input on rarenet.raw.<format> (rarenet tail, collect, sense);\n"+
			"buckets close and the rule runs on the wall clock, so the first signals come after a bucket has\n"+
			"closed and the rule has run (up to about 30 minutes), and only against the model's history.\n"+
			"Each new signal is printed: NDJSON when stdout is a file or pipe, a readable line on a terminal.",
		"rarenet run [flags]")
	c.Notes = notes(envNote, "Exit status: 0 stopped by SIGINT or SIGTERM, 1 failed, 2 a wrong command line.")
	var o rarenet.Options
	var common service.Common
	var out string
	// The live pipeline runs on the wall clock: --clock is the stage binaries' choice only.
	sec := pipelineFlags(c, &o, &common, "clock")
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "embedded server's JetStream directory (geoip/ in it holds the GeoIP databases)")
		fs.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "embedded server's client address; empty for in-process only")
	})
	var targets string
	c.Flags(cli.Pipeline, func(fs *flag.FlagSet) {
		fs.StringVar(&targets, "target", "all", "the stages to run: all, or a comma-separated list of "+strings.Join(rarenet.Stages, ", ")+
			" (the others run elsewhere against --listen or --nats-url, as separate binaries or other rarenet run --target)")
	})
	c.Flags(cli.Operations, func(fs *flag.FlagSet) {
		fs.StringVar(&o.HTTPAddr, "http-addr", "", "serve /healthz, /readyz and every stage's /metrics on this address (e.g. 127.0.0.1:9090); empty for none")
	})
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.StringVar(&out, "out", "", "write the signals as NDJSON to this file (- for stdout); default stdout, readable lines on a terminal")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if len(c.Args()) > 0 {
		return c.Usagef("unexpected arguments %q: run takes flags only (replay reads files)", c.Args())
	}
	if targets != "all" {
		o.Targets = strings.Split(targets, ",")
		if err := rarenet.CheckTargets(o.Targets); err != nil {
			return c.Usagef("--target: %w", err)
		}
	}
	if err := finishOptions(c, &o, &common, sec); err != nil {
		return err
	}
	geoipDirFollowsDataDir(c.FlagSet(), &o)
	log, err := common.Logger()
	if err != nil {
		return err
	}
	if o.NATSURL == "" {
		if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
			return err
		}
	}
	w, closeOut, err := signalsOutput("rarenet run", out)
	if err != nil {
		return err
	}
	o.Notices = os.Stderr
	err = rarenet.RunLive(ctx, o, w, log)
	if errors.Is(err, natsembed.ErrAddrInUse) {
		err = fmt.Errorf("%w; pass --listen ADDR (is another rarenet run listening there? then e.g. --listen 127.0.0.1:4223), or --nats-url URL to run against that server", err)
	}
	return errors.Join(natsError(o.NATSURL, err, true), closeOut())
}

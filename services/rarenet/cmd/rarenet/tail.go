package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/services/sources/tail"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
)

// defaultLiveURL is where `rarenet run` listens by default: the live sources talk to it
// unless told otherwise.
const defaultLiveURL = "nats://127.0.0.1:4222"

// sourceFlags registers the flags every live source shares, the connection's security among
// them.
func sourceFlags(c *cli.Command, url, logLevel, sourceName *string) *service.Security {
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.StringVar(url, "nats-url", defaultLiveURL, "NATS server or cluster URL(s), comma separated (default: rarenet run's embedded server, "+defaultLiveURL+")")
		fs.StringVar(sourceName, "source-name", "", "publish on rarenet.raw.<format>.`NAME`, the subject a source-bound NATS user may publish on; ingest then takes only events of NAME's hosts in its token file (docs/security.md)")
	})
	sec := natsSecurity(c)
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.StringVar(logLevel, "log-level", "info", "log level: debug, info, warn, error")
	})
	return sec
}

func sourceLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func tailCmd(ctx context.Context, args []string) error {
	c := cli.New("rarenet tail",
		"Follows log files (typically /var/log/audit/audit.log) across rotation and truncation and\n"+
			"publishes their new lines on rarenet.raw.<format>; after a restart it resumes from the\n"+
			"position NATS acknowledged, kept in --state.",
		"rarenet tail [flags] FILE...")
	c.Notes = envNote
	var cfg tail.Config
	var url, logLevel, from string
	sec := sourceFlags(c, &url, &logLevel, &cfg.SourceName)
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&cfg.Format, "format", "auto", "input `FORMAT`, the raw subject's last token: auto (detected from the first line), auditd, ecs, sysmon, tetragon, osquery or falco")
		fs.StringVar(&from, "from", "start", "where to begin a file without a saved position: start or end")
		fs.DurationVar(&cfg.Poll, "poll", 250*time.Millisecond, "how often the files are looked at")
		fs.StringVar(&cfg.StateFile, "state", filepath.Join(defaultDataDir(), "tail.json"), "file keeping the acknowledged position of each file across restarts; empty keeps none")
		fs.StringVar(&cfg.Host, "host", "", "host name in the message ids (default: this host's name)")
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
	cfg.Paths = c.Args()
	if len(cfg.Paths) == 0 {
		return c.Usagef("no file given (e.g. /var/log/audit/audit.log)")
	}
	switch from {
	case "start":
	case "end":
		cfg.FromEnd = true
	default:
		return c.Usagef("--from: want start or end, got %q", from)
	}
	log, err := sourceLogger(logLevel)
	if err != nil {
		return c.Usagef("%w", err)
	}
	nc, err := connectSecure(c, sec, url, "tail")
	if err != nil {
		return err
	}
	defer nc.Drain()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	t, err := tail.New(cfg, js, log)
	if err != nil {
		return err
	}
	return t.Run(ctx)
}

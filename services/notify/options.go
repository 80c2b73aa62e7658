package notify

import (
	"errors"
	"flag"
	"log/slog"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/natsutil"
)

// Options are the notifier's flags, shared by the notify binary and `rarenet notify`.
type Options struct {
	ConfigFile string
	To         []string
	AckWait    time.Duration
	From       string
	SentTTL    time.Duration
}

// RegisterFlags registers the notifier's flags on fs.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.ConfigFile, "config", "", "TOML file of destinations and routes (docs/notify.md)")
	fs.Func("to", "send every signal to this destination URL too (repeatable), e.g. webhook+https://host/path?secret_file=/run/secret", func(s string) error {
		o.To = append(o.To, s)
		return nil
	})
	fs.DurationVar(&o.AckWait, "ack-wait", natsutil.DefaultAckWait, "how long the signals held by a notifier that died wait before they are delivered again")
	fs.StringVar(&o.From, "from", "new", "where a new consumer starts: new (signals published from now on) or all (every signal the stream holds); an existing one resumes")
	fs.DurationVar(&o.SentTTL, "sent-ttl", 30*24*time.Hour, "how long confirmed deliveries are remembered (kept from being sent again)")
}

// Validate checks the flags, and the configuration they name: its destinations are built
// (secrets read, templates rendered with the sample signal) and closed again, so a mistake
// stops the start with a message instead of a failing delivery.
func (o *Options) Validate() error {
	if o.ConfigFile == "" && len(o.To) == 0 {
		return errors.New("give --config FILE or --to URL")
	}
	if o.From != "new" && o.From != "all" {
		return errors.New("--from: want new or all")
	}
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	n, err := New(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	n.Close()
	return nil
}

// Config loads the configuration file, if any, and adds the --to destinations.
func (o *Options) Config() (*Config, error) {
	c := &Config{}
	if o.ConfigFile != "" {
		var err error
		if c, err = LoadConfig(o.ConfigFile); err != nil {
			return nil, err
		}
	}
	if err := c.AddTo(o.To); err != nil {
		return nil, err
	}
	return c, nil
}

// RunOptions returns the run settings the flags ask for.
func (o *Options) RunOptions() RunOptions {
	return RunOptions{AckWait: o.AckWait, DeliverAll: strings.EqualFold(o.From, "all"), SentTTL: o.SentTTL}
}

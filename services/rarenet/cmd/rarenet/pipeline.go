package main

import (
	"flag"
	"os"
	"path/filepath"

	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/service"
)

// pipelineFlags registers the flags of run and replay: the common ones, the connection's
// security (for --nats-url), every stage's (once each, under the group it belongs to) and
// the console's, but not those named in skip (the flags the command has no use for).
func pipelineFlags(c *cli.Command, o *rarenet.Options, common *service.Common, skip ...string) *service.Security {
	o.Enricher.GeoIPDir = defaultGeoIPDir()
	service.AddFlags(c, common.RegisterFlags, skip...)
	common.NATSURL = ""
	url := c.Lookup("nats-url")
	url.DefValue = ""
	url.Usage = "use this external NATS server or cluster instead of the embedded one"
	sec := natsSecurity(c)
	// A setting several stages share (bucket span, lateness, clock, profile, lease TTL, ack
	// wait) is one flag that sets each stage's field (service.BucketSpanFlag and the others).
	for _, st := range o.Describe() {
		service.AddFlags(c, st.Register, skip...)
	}
	c.Flags(cli.Output, func(fs *flag.FlagSet) { o.Console.RegisterFlags(fs, "ui-", "") }) // --ui-listen ADDR serves the web console too
	return sec
}

// finishOptions checks every flag of the pipeline, each stage's included, before anything
// starts. Its errors are usage errors.
func finishOptions(c *cli.Command, o *rarenet.Options, common *service.Common, sec *service.Security) error {
	if err := service.ApplyEnv(c.FlagSet()); err != nil {
		return c.Usagef("%w", err)
	}
	if err := sec.Validate(); err != nil {
		return c.Usagef("%w", err)
	}
	if *sec != (service.Security{}) {
		if common.NATSURL == "" {
			return c.Usagef("the NATS connection flags (--nats-user, --nats-creds, --tls-ca, ...) are for a server given with --nats-url; the embedded server needs none")
		}
		opts, err := sec.Options()
		if err != nil {
			return err
		}
		o.NATSOptions = opts
	}
	if err := o.Console.Validate(); err != nil {
		return c.Usagef("%w", err)
	}
	o.NATSURL = common.NATSURL
	o.Streams = common.StreamConfig()
	// The rule's machine_learning_job_id picks the job, unless --job or --job-id did.
	if err := rarenet.SelectJob(o, func(name string) bool { return given(c, name) }); err != nil {
		return c.Usagef("%w", err)
	}
	for _, st := range o.Describe() {
		if err := st.Validate(); err != nil {
			return c.Usagef("%w", err)
		}
	}
	if _, err := common.Logger(); err != nil {
		return c.Usagef("%w", err)
	}
	if common.Partitions < 1 {
		return c.Usagef("--partitions must be at least 1, got %d", common.Partitions)
	}
	return nil
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rarenet")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "rarenet")
	}
	return "rarenet-data"
}

// envNote is the note every command's help ends with.
const envNote = "Every flag can also be set as RARENET_<FLAG> in the environment (--nats-url as RARENET_NATS_URL)."

// exitNote documents the exit status of the commands that read input.
const exitNote = "Exit status: 0 done, 1 failed (the message says why; what was read before is still written),\n" +
	"2 a wrong command line, 3 input read but not one line of it accepted, 130 interrupted."

// notes joins help notes.
func notes(ns ...string) string {
	s := ""
	for _, n := range ns {
		if s != "" {
			s += "\n"
		}
		s += n
	}
	return s
}

// given reports whether flag name was set on the command line or from the environment.
func given(c *cli.Command, name string) bool {
	set := false
	c.FlagSet().Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

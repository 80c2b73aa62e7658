package service

import (
	"flag"

	"github.com/rarenet/rarenet/shared/cli"
)

// flagGroups places the flags of the stages and of the common frame in the help's groups; a
// stage flag not named here is a Pipeline flag. The all-in-one's run and replay use it too,
// so a flag reads under the same heading wherever it appears.
var flagGroups = map[string]cli.Group{
	// What comes in.
	"format": cli.Input, "datafeed": cli.Input, "datafeed-file": cli.Input, "http-listen": cli.Input,
	"from": cli.Input, "http-tokens": cli.Input, "http-tls-cert": cli.Input, "http-tls-key": cli.Input,
	"http-tls-client-ca": cli.Input, "http-insecure": cli.Input, "http-rate": cli.Input, "http-burst": cli.Input,
	"http-max-concurrent": cli.Input,
	// The rule the windower runs.
	"rule": cli.Rule, "rule-builtin": cli.Rule, "anomaly-threshold": cli.Rule, "max-signals": cli.Rule,
	"suppress-for": cli.Rule, "signal-late": cli.Rule, "max-catch-up": cli.Rule,
	// The connection, or the embedded server.
	"nats-url": cli.NATS, "tls-ca": cli.NATS, "tls-cert": cli.NATS, "tls-key": cli.NATS,
	"nats-creds": cli.NATS, "nats-user": cli.NATS, "nats-password-file": cli.NATS,
	"nats-inbox-prefix": cli.NATS, "listen": cli.NATS, "data-dir": cli.NATS, "replicas": cli.NATS,
	// What goes out.
	"signal-format": cli.Output, "log-level": cli.Output, "log-format": cli.Output,
	"config": cli.Output, "to": cli.Output, "sent-ttl": cli.Output,
	// Running as a service.
	"http-addr": cli.Operations, "healthcheck": cli.Operations, "start-timeout": cli.Operations,
	"pprof": cli.Operations,
}

// FlagGroup returns the help group of a stage or common flag (Pipeline when unlisted).
func FlagGroup(name string) cli.Group {
	if g, ok := flagGroups[name]; ok {
		return g
	}
	return cli.Pipeline
}

// AddFlags registers the flags of register on c, each under its FlagGroup.
func AddFlags(c *cli.Command, register func(*flag.FlagSet), skip ...string) {
	c.FlagsExcept(cli.Pipeline, register, skip...)
	staged := flag.NewFlagSet("", flag.ContinueOnError)
	register(staged)
	staged.VisitAll(func(f *flag.Flag) {
		if g := FlagGroup(f.Name); g != cli.Pipeline {
			c.Regroup(g, f.Name)
		}
	})
}

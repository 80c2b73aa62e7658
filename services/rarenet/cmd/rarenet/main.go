// Command rarenet is the all-in-one binary: an embedded NATS server with JetStream and the
// four stages in one process, for one machine, demos and tests, and the tools around them.
//
//	rarenet run        live: sources publish on rarenet.raw.<format>, signals print as NDJSON
//	rarenet replay     history through the full pipeline in event time, signals as NDJSON
//	rarenet normalize  the ingest stage alone: normalized network events as NDJSON
//	rarenet tail       follow log files and publish their new lines on rarenet.raw.<format>
//	rarenet collect    a /proc sensor: new outbound connections as ECS on rarenet.raw.ecs
//	rarenet sense      an eBPF sensor: every connect as ECS on rarenet.raw.ecs
//	rarenet dlq        the dead letters: rejected input, late events, failed deliveries
//	rarenet notify     signals to webhooks, chat, syslog, mail or a program, once each
//	rarenet token      make a token for the HTTP input or the console
//	rarenet geoip      fetch free GeoIP databases (AS, country) for the enricher
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rarenet/rarenet/shared/cli"
)

// command is one subcommand of the all-in-one.
type command struct {
	name, synopsis, does string
	run                  func(ctx context.Context, args []string) error
}

// commands lists the subcommands in the order the usage shows them.
func commands() []command {
	return []command{
		{"run", "rarenet run [flags]", "run live: embedded NATS and the four stages; publish input on rarenet.raw.<format>", runCmd},
		{"replay", "rarenet replay [flags] FILE...", "replay history (\"-\" is stdin) through the pipeline; signals as NDJSON", replayCmd},
		{"normalize", "rarenet normalize [flags] FILE...", "decode and filter only, no NATS; network events as NDJSON", func(_ context.Context, args []string) error { return normalizeCmd(args) }},
		{"tail", "rarenet tail [flags] FILE...", "follow logs (rotation-safe, resumable) into rarenet.raw.<format>", tailCmd},
		{"collect", "rarenet collect [flags]", "sensor from /proc: new outbound connections into rarenet.raw.ecs", collectCmd},
		{"sense", "rarenet sense [flags]", "eBPF sensor: every connect, however short, into rarenet.raw.ecs", senseCmd},
		{"signals", "rarenet signals [flags]", "print every new signal on rarenet.signals", signalsCmd},
		{"dlq", "rarenet dlq [replay] [flags]", "show the dead letters (rejected input, late events, failed deliveries); re-submit them", dlqCmd},
		{"notify", "rarenet notify --config FILE [flags]", "deliver signals to webhooks, Slack, syslog, mail... (--test: a sample)", notifyCmd},
		{"exceptions", "rarenet exceptions add|list|remove", "manage rule exceptions", exceptionsCmd},
		{"token", "rarenet token NAME [HOST-PATTERN...]", "make a token for the HTTP input or the console, and its token-file line", tokenCmd},
		{"console", "rarenet console [flags]", "the web console: triage signals in a browser", consoleCmd},
		{"geoip", "rarenet geoip update [flags]", "fetch free AS and country databases for the enricher", geoipCmd},
		{"version", "rarenet version", "print the version and the commit rarenet was built from", func(context.Context, []string) error {
			cli.PrintVersion(os.Stdout, "rarenet")
			return nil
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `rarenet: detect Linux processes that unusually use the network (Elastic's "Unusual Linux
Network Activity", open).

Usage:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-38s %s\n", c.synopsis, c.does)
	}
	fmt.Fprint(w, `
"rarenet COMMAND --help" shows a command's flags. Every flag can also be set as RARENET_<FLAG>.
Exit status: 0 done, 1 failed, 2 a wrong command line, 3 no input line accepted (replay,
normalize), 130 interrupted.
`)
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the command args[0] names with the rest of args and returns the exit code.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return cli.ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return dispatch([]string{args[1], "--help"}, stdout, stderr)
		}
		usage(stdout)
		return cli.ExitOK
	case "-version", "--version":
		cli.PrintVersion(stdout, "rarenet")
		return cli.ExitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := cli.Interrupted(ctx, c.run(ctx, args[1:]))
		return cli.Exit(stderr, "rarenet "+c.name, err)
	}
	return cli.Exit(stderr, "rarenet", &cli.UsageError{Command: "rarenet", Err: fmt.Errorf("unknown command %q", args[0])})
}

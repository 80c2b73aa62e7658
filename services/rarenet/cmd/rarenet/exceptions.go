package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/service"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, "; ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

const exceptionsUsage = `Usage:
  rarenet exceptions add --entry 'FIELD is|is one of|matches VALUE' [--entry ...] [--rule-id ID] [--comment TEXT]
  rarenet exceptions list [--rule-id ID] [--json]
  rarenet exceptions remove [--rule-id ID] EXCEPTION_ID

An exception suppresses the signals of records that match all of its entries (process.name,
host.name, user.name, destination.ip, ...; an influencer with many values matches when any
does). Exceptions live in the rarenet_exceptions bucket; running windowers pick changes up
before their next run. Every subcommand takes --nats-url (default nats://127.0.0.1:4222);
"rarenet exceptions add --help" shows a subcommand's flags.
`

func exceptionsCmd(ctx context.Context, args []string) error {
	return exceptions(ctx, args, os.Stdout)
}

func exceptions(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return &cli.UsageError{Command: "rarenet exceptions", Err: errors.New("no subcommand: add, list or remove")}
	}
	var url, ruleID, comment string
	var entries stringList
	var asJSON, force bool
	var c *cli.Command
	switch args[0] {
	case "add":
		c = cli.New("rarenet exceptions add", "Adds an exception to a rule: its signals stop for records that match every --entry.",
			"rarenet exceptions add --entry 'FIELD is|is one of|matches VALUE' [--entry ...] [--rule-id ID] [--comment TEXT]")
		c.Notes = "FIELD is one of " + strings.Join(windower.ExceptionFields, ", ") + "."
		c.Flags(cli.Rule, func(fs *flag.FlagSet) {
			fs.Var(&entries, "entry", "an `ENTRY` (required, repeatable: all must match): 'FIELD is VALUE', 'FIELD is one of V1,V2' or 'FIELD matches GLOB'")
			fs.StringVar(&ruleID, "rule-id", windower.DefaultRule().ID, "the rule's rule_id: a built-in rule's, or one a windower has run on this server")
			fs.StringVar(&comment, "comment", "", "`TEXT` saying why the exception exists")
			fs.BoolVar(&force, "force", false, "accept a --rule-id no windower has run here yet (a rule about to be deployed)")
		})
	case "list":
		c = cli.New("rarenet exceptions list", "Lists the exceptions, of one rule or of all.", "rarenet exceptions list [--rule-id ID] [--json]")
		c.Flags(cli.Rule, func(fs *flag.FlagSet) {
			fs.StringVar(&ruleID, "rule-id", "", "only this rule's exceptions")
		})
		c.Flags(cli.Output, func(fs *flag.FlagSet) {
			fs.BoolVar(&asJSON, "json", false, "print the exceptions as NDJSON")
		})
	case "remove":
		c = cli.New("rarenet exceptions remove", "Removes an exception by the id add printed (list shows them).", "rarenet exceptions remove [--rule-id ID] EXCEPTION_ID")
		c.Flags(cli.Rule, func(fs *flag.FlagSet) {
			fs.StringVar(&ruleID, "rule-id", "", "the rule the exception belongs to (default: any)")
		})
	case "-h", "-help", "--help", "help":
		fmt.Fprint(out, exceptionsUsage)
		return nil
	default:
		return &cli.UsageError{Command: "rarenet exceptions", Err: fmt.Errorf("unknown subcommand %q: want add, list or remove", args[0])}
	}
	c.Flags(cli.NATS, func(fs *flag.FlagSet) {
		fs.StringVar(&url, "nats-url", nats.DefaultURL, "NATS server or cluster URL(s)")
	})
	sec := natsSecurity(c)
	c.Out = out
	if err := c.Parse(args[1:]); err != nil {
		return err
	}
	if err := service.ApplyEnv(c.FlagSet()); err != nil {
		return c.Usagef("%w", err)
	}
	var x windower.Exception
	switch args[0] {
	case "add":
		if len(c.Args()) > 0 {
			return c.Usagef("unexpected arguments %q: an entry goes in --entry '...'", c.Args())
		}
		if len(entries) == 0 {
			return c.Usagef("no --entry: an exception needs at least one")
		}
		x = windower.Exception{RuleID: ruleID, Comment: comment, Created: time.Now().UTC()}
		for _, s := range entries {
			e, err := windower.ParseEntry(s)
			if err != nil {
				return c.Usagef("--entry: %w", err)
			}
			x.Entries = append(x.Entries, e)
		}
	case "list":
		if len(c.Args()) > 0 {
			return c.Usagef("unexpected arguments %q", c.Args())
		}
	case "remove":
		if len(c.Args()) != 1 {
			return c.Usagef("remove takes one exception id (rarenet exceptions list shows them)")
		}
	}
	nc, err := connectSecure(c, sec, url, "exceptions")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	if args[0] == "add" && !force {
		if err := windower.CheckRuleID(ctx, js, ruleID); err != nil {
			if errors.Is(err, windower.ErrUnknownRule) {
				return c.Usagef("--rule-id: %w; --force adds it anyway", err)
			}
			return err
		}
	}
	kv, err := windower.ExceptionsKV(ctx, js)
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		id, err := windower.AddException(ctx, kv, &x)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, id)
	case "list":
		xs, err := windower.ListExceptions(ctx, kv, ruleID)
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(out)
			for _, x := range xs {
				if err := enc.Encode(x); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRULE\tENTRIES\tCOMMENT")
		for _, x := range xs {
			parts := make([]string, len(x.Entries))
			for i, e := range x.Entries {
				parts[i] = e.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.ID, x.RuleID, strings.Join(parts, " AND "), x.Comment)
		}
		return tw.Flush()
	case "remove":
		if err := windower.RemoveException(ctx, kv, ruleID, c.Args()[0]); err != nil {
			return err
		}
		fmt.Fprintln(out, "removed", c.Args()[0])
	}
	return nil
}

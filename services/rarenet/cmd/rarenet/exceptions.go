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
	"github.com/rarenet/rarenet/shared/natsutil"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, "; ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

const exceptionsUsage = `Usage:
  rarenet exceptions add --rule-id ID --entry 'FIELD is|is one of|matches VALUE' [--entry ...] [--comment TEXT]
  rarenet exceptions list [--rule-id ID] [--json]
  rarenet exceptions remove [--rule-id ID] EXCEPTION_ID

An exception suppresses the signals of records that match all of its entries (process.name,
host.name, user.name, destination.ip, ...; an influencer with many values matches when any
does). Exceptions live in the rarenet_exceptions bucket; running windowers pick changes up
before their next run. Every subcommand takes --nats-url (default nats://127.0.0.1:4222).
`

func exceptionsCmd(ctx context.Context, args []string) error {
	return exceptions(ctx, args, os.Stdout)
}

func exceptions(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, exceptionsUsage)
		return errors.New("no subcommand: add, list or remove")
	}
	fs := flag.NewFlagSet("rarenet exceptions "+args[0], flag.ContinueOnError)
	url := fs.String("nats-url", nats.DefaultURL, "NATS server or cluster URL(s)")
	ruleID := fs.String("rule-id", "", "the rule's rule_id (add: default the built-in rule's)")
	var entries stringList
	var comment string
	var asJSON bool
	switch args[0] {
	case "add":
		fs.Var(&entries, "entry", "an entry: 'FIELD is VALUE', 'FIELD is one of V1,V2' or 'FIELD matches GLOB' (repeat: all must match)")
		fs.StringVar(&comment, "comment", "", "why the exception exists")
	case "list":
		fs.BoolVar(&asJSON, "json", false, "print the exceptions as NDJSON")
	case "remove":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(out, exceptionsUsage)
		return nil
	default:
		fmt.Fprint(os.Stderr, exceptionsUsage)
		return fmt.Errorf("unknown subcommand %q", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	nc, err := natsutil.Connect(*url, nil, "exceptions")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return err
	}
	kv, err := windower.ExceptionsKV(ctx, js)
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		x := windower.Exception{RuleID: *ruleID, Comment: comment, Created: time.Now().UTC()}
		if x.RuleID == "" {
			x.RuleID = windower.DefaultRule().ID
		}
		for _, s := range entries {
			e, err := windower.ParseEntry(s)
			if err != nil {
				return err
			}
			x.Entries = append(x.Entries, e)
		}
		id, err := windower.AddException(ctx, kv, &x)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, id)
	case "list":
		xs, err := windower.ListExceptions(ctx, kv, *ruleID)
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
		if fs.NArg() != 1 {
			return errors.New("remove takes one exception id")
		}
		if err := windower.RemoveException(ctx, kv, *ruleID, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintln(out, "removed", fs.Arg(0))
	}
	return nil
}

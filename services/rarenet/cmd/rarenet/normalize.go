package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/cli"
)

func normalizeCmd(args []string) error {
	c := cli.New("rarenet normalize",
		"Runs the ingest stage alone, without NATS: decodes the files (\"-\" is stdin, .gz read as gzip)\n"+
			"and writes the network events that pass the datafeed filter as NDJSON. Rejected lines go to\n"+
			"stderr as file:line: reason, the first of each kind of reason, then how many more (-v: all).",
		"rarenet normalize [flags] FILE...")
	c.Notes = exitNote
	o := rarenet.NormalizeOptions{Out: os.Stdout, Errors: os.Stderr}
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&o.Format, "format", "auto", "input `FORMAT`: auto (detected per file), ecs, auditd, sysmon, tetragon, osquery or falco")
		fs.StringVar(&o.Datafeed, "datafeed", "rarenet", "datafeed filter: rarenet, v1 or v3")
	})
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.BoolVar(&o.All, "all", false, "also write the events the datafeed filter drops, with the reason in rarenet.filtered")
		fs.BoolVar(&o.AllRejects, "v", false, "show every rejected line, not only the first of each kind of reason")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	o.Files = c.Args()
	if len(o.Files) == 0 {
		return c.Usagef("no input file given (- reads stdin)")
	}
	if err := rarenet.CheckFormat(o.Format); err != nil {
		return c.Usagef("%w", err)
	}
	if _, err := datafeed.ByName(o.Datafeed); err != nil {
		return c.Usagef("--datafeed: %w", err)
	}
	if err := rarenet.CheckInputs(o.Files); err != nil {
		return err
	}
	st, err := rarenet.Normalize(o)
	fmt.Fprintf(os.Stderr, "rarenet normalize: %d lines, %d network events, %d filtered, %d rejected\n",
		st.Lines, st.Accepted, st.Filtered, st.Rejected)
	if errors.Is(err, rarenet.ErrNothingAccepted) {
		return cli.WithCode(cli.ExitNoInput, err)
	}
	return err
}

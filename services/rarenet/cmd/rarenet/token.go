package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/tokens"
)

// tokenCmd makes a token for the HTTP input or the console: the token once, for its holder,
// and the line that goes into the token file, which holds only the token's hash.
func tokenCmd(_ context.Context, args []string) error {
	c := cli.New("rarenet token",
		"Makes a random token and prints it on stdout, for its holder only, and on stderr the line to add\n"+
			"to a token file (--http-tokens of ingest and run, --token-file of the console): NAME, the\n"+
			"token's SHA-256, and the host patterns or role given. The file never holds the token itself.\n"+
			"Rotate a token: add the new line, hand out the new token, remove the old line (the file is\n"+
			"read again on change or SIGHUP).",
		"rarenet token [--append FILE] NAME [HOST-PATTERN...] [role=read|triage]")
	var appendTo string
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.StringVar(&appendTo, "append", "", "append the line to this token file (created with mode 0600) instead of printing it")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if len(c.Args()) < 1 {
		return c.Usagef("want NAME [HOST-PATTERN...] [role=read|triage]")
	}
	token, line, err := tokens.Generate(c.Args()[0], c.Args()[1:]...)
	if err != nil {
		return c.Usagef("%w", err)
	}
	if appendTo != "" {
		f, err := os.OpenFile(appendTo, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(f, line); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "rarenet token: %s added to %s\n", c.Args()[0], appendTo)
	} else {
		fmt.Fprintf(os.Stderr, "rarenet token: add this line to the token file:\n%s\n", line)
	}
	fmt.Fprintln(os.Stdout, token)
	return nil
}

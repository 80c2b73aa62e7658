// Command evaluate measures a set of signals against the ground truth simulate writes:
// recall per attack class, false signals per 100 host-days, duplicates, delay
// (docs/quality.md). It is a tool of the quality harness, not part of the product binary:
//
//	cd e2e && go run ./cmd/evaluate --labels labels.ndjson signals.ndjson
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rarenet/rarenet/e2e/quality/evaluate"
	"github.com/rarenet/rarenet/shared/cli"
)

func main() {
	os.Exit(cli.Exit(os.Stderr, "evaluate", evaluateCmd(os.Args[1:])))
}

// evaluateCmd measures signals against the ground truth of a simulation.
func evaluateCmd(args []string) error {
	c := cli.New("evaluate",
		"Measures a set of signals against the ground truth of simulate --labels: recall per\n"+
			"attack class, false signals per 100 host-days, duplicates, delay (docs/quality.md).",
		"evaluate --labels FILE SIGNALS  (SIGNALS: a file of signals as NDJSON, - for stdin)")
	var labels string
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&labels, "labels", "", "ground truth written by simulate --labels (required)")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if labels == "" {
		return c.Usagef("--labels FILE is required (simulate --labels FILE writes it)")
	}
	if len(c.Args()) != 1 {
		return c.Usagef("want one signals file, got %d", len(c.Args()))
	}
	lf, err := os.Open(labels)
	if err != nil {
		return err
	}
	defer lf.Close()
	ls, hostDays, err := evaluate.ReadLabels(lf)
	if err != nil {
		return fmt.Errorf("%s: %w", labels, err)
	}
	sr := io.Reader(os.Stdin)
	if name := c.Args()[0]; name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		sr = f
	}
	signals, err := evaluate.ReadSignals(sr)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Args()[0], err)
	}
	rep := evaluate.Evaluate(ls, signals, hostDays)
	fmt.Print(rep.String())
	return nil
}

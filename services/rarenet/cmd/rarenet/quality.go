package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/rarenet/rarenet/services/rarenet/evaluate"
	"github.com/rarenet/rarenet/services/rarenet/sim"
	"github.com/rarenet/rarenet/shared/cli"
)

// approxSimulatedMB estimates the size of a simulated history: the default two weeks of 24
// hosts write about 200 MB of ECS.
func approxSimulatedMB(spec sim.Spec) int {
	return max(1, spec.Days*spec.Hosts*200/(14*24))
}

// simulateCmd writes a simulated fleet history with its ground truth.
func simulateCmd(args []string) error {
	c := cli.New("rarenet simulate",
		"Writes a simulated fleet history (ECS NDJSON or auditd) with injected attacks and benign\n"+
			"surprises, and with --labels its ground truth, for rarenet evaluate (docs/quality.md). The\n"+
			"default fleet is two weeks of 24 hosts: about 200 MB, so --out FILE (or a pipe) is needed.",
		"rarenet simulate --out FILE [--labels FILE] [flags]",
		"rarenet simulate [flags] | rarenet replay -")
	spec := sim.DefaultSpec(1)
	var out, labels, format string
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.Uint64Var(&spec.Seed, "seed", spec.Seed, "random seed: the same seed gives the same fleet")
		fs.IntVar(&spec.Days, "days", spec.Days, "days of history")
		fs.IntVar(&spec.Hosts, "hosts", spec.Hosts, "hosts (roles web, db, worker, ops in turn)")
		fs.IntVar(&spec.Attacks, "attacks", spec.Attacks, "attacks of each class")
		fs.DurationVar(&spec.Warmup, "warmup", spec.Warmup, "history before the first attack")
	})
	c.Flags(cli.Output, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "ecs", "ecs or auditd")
		fs.StringVar(&out, "out", "-", "events file; - is stdout (refused on a terminal)")
		fs.StringVar(&labels, "labels", "", "write the ground truth (NDJSON) to this file")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if len(c.Args()) > 0 {
		return c.Usagef("unexpected arguments %q: the events go to --out FILE", c.Args())
	}
	if spec.Days < 1 || spec.Hosts < 1 || spec.Attacks < 0 || spec.Warmup < 0 {
		return c.Usagef("--days and --hosts must be at least 1, --attacks and --warmup not negative")
	}
	// Attacks come after the warm-up and two hours before the end.
	if history := time.Duration(spec.Days) * 24 * time.Hour; spec.Attacks > 0 && history <= spec.Warmup+2*time.Hour {
		return c.Usagef("--days %d leaves no time for attacks after --warmup %s: give more --days, a shorter --warmup, or --attacks 0", spec.Days, spec.Warmup)
	}
	if format != "ecs" && format != "auditd" {
		return c.Usagef("--format: want ecs or auditd, got %q", format)
	}
	if out == "-" && term.IsTerminal(int(os.Stdout.Fd())) {
		return c.Usagef("refusing to write %d host-days of events (about %d MB) to a terminal: pass --out FILE, or pipe it (| rarenet replay -)",
			spec.Days*spec.Hosts, approxSimulatedMB(spec))
	}
	f := sim.Simulate(spec)
	w := io.Writer(os.Stdout)
	if out != "-" {
		file, err := os.Create(out)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	var err error
	if format == "auditd" {
		err = sim.WriteAuditd(w, f.Events)
	} else {
		err = sim.WriteECS(w, f.Events)
	}
	if err != nil {
		return err
	}
	if labels != "" {
		lf, err := os.Create(labels)
		if err != nil {
			return err
		}
		if err := f.WriteLabels(lf); err != nil {
			lf.Close()
			return err
		}
		if err := lf.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "rarenet simulate: %d events, %d labels, %.0f host-days\n", len(f.Events), len(f.Labels), f.HostDays())
	return nil
}

// evaluateCmd measures signals against the ground truth of a simulation.
func evaluateCmd(args []string) error {
	c := cli.New("rarenet evaluate",
		"Measures a set of signals against the ground truth of rarenet simulate --labels: recall per\n"+
			"attack class, false signals per 100 host-days, duplicates, delay (docs/quality.md).",
		"rarenet evaluate --labels FILE SIGNALS  (SIGNALS: a file of signals as NDJSON, - for stdin)")
	var labels string
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&labels, "labels", "", "ground truth written by rarenet simulate --labels (required)")
	})
	if err := c.Parse(args); err != nil {
		return err
	}
	if labels == "" {
		return c.Usagef("--labels FILE is required (rarenet simulate --labels FILE writes it)")
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

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/rarenet/rarenet/services/rarenet/evaluate"
	"github.com/rarenet/rarenet/services/rarenet/sim"
)

// simulateCmd writes a simulated fleet history with its ground truth.
func simulateCmd(args []string) error {
	fs := flag.NewFlagSet("rarenet simulate", flag.ExitOnError)
	spec := sim.DefaultSpec(1)
	var out, labels, format string
	fs.Uint64Var(&spec.Seed, "seed", spec.Seed, "random seed: the same seed gives the same fleet")
	fs.IntVar(&spec.Days, "days", spec.Days, "days of history")
	fs.IntVar(&spec.Hosts, "hosts", spec.Hosts, "hosts (roles web, db, worker, ops in turn)")
	fs.IntVar(&spec.Attacks, "attacks", spec.Attacks, "attacks of each class")
	fs.DurationVar(&spec.Warmup, "warmup", spec.Warmup, "history before the first attack")
	fs.StringVar(&format, "format", "ecs", "ecs or auditd")
	fs.StringVar(&out, "out", "-", "events file; - is stdout")
	fs.StringVar(&labels, "labels", "", "write the ground truth (NDJSON) to this file")
	_ = fs.Parse(args)
	if spec.Days < 1 || spec.Hosts < 1 {
		return errors.New("--days and --hosts must be at least 1")
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
	switch format {
	case "ecs":
		err = sim.WriteECS(w, f.Events)
	case "auditd":
		err = sim.WriteAuditd(w, f.Events)
	default:
		err = fmt.Errorf("--format: want ecs or auditd, got %q", format)
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
	fs := flag.NewFlagSet("rarenet evaluate", flag.ExitOnError)
	var labels string
	fs.StringVar(&labels, "labels", "", "ground truth written by rarenet simulate --labels (required)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: rarenet evaluate --labels FILE SIGNALS  (- is stdin)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if labels == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("need --labels and one signals file")
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
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		sr = f
	}
	signals, err := evaluate.ReadSignals(sr)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	rep := evaluate.Evaluate(ls, signals, hostDays)
	fmt.Print(rep.String())
	return nil
}

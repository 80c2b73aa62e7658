package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rarenet/rarenet/services/rarenet/evaluate"
	"github.com/rarenet/rarenet/services/rarenet/sim"
)

// simulateCmd writes a simulated fleet history with its ground truth.
func simulateCmd(args []string) error {
	fs := flag.NewFlagSet("rarenet simulate", flag.ExitOnError)
	var out, labels, format, scenario string
	var seed uint64
	var days, hosts, attacks int
	var warmup time.Duration
	fs.StringVar(&scenario, "scenario", "", "draw the fleet from this scenario file (TOML, see services/rarenet/sim/scenarios); default: the built-in default scenario")
	fs.Uint64Var(&seed, "seed", 1, "random seed: the same scenario and seed give the same fleet")
	fs.IntVar(&days, "days", 0, "days of history (0: the scenario's)")
	fs.IntVar(&hosts, "hosts", 0, "hosts, taking the scenario's roles in turn (0: the scenario's)")
	fs.IntVar(&attacks, "attacks", -1, "attacks of each class (-1: the scenario's)")
	fs.DurationVar(&warmup, "warmup", -1, "history before the first attack (-1ns: the scenario's)")
	fs.StringVar(&format, "format", "ecs", "ecs or auditd")
	fs.StringVar(&out, "out", "-", "events file; - is stdout")
	fs.StringVar(&labels, "labels", "", "write the ground truth (NDJSON) to this file")
	_ = fs.Parse(args)
	sc, err := sim.Builtin(sim.DefaultScenario)
	if scenario != "" {
		sc, err = sim.LoadScenario(scenario)
	}
	if err != nil {
		return err
	}
	spec := sc.Spec(seed)
	if days != 0 {
		spec.Days = days
	}
	if hosts != 0 {
		spec.Hosts = hosts
	}
	if attacks >= 0 {
		spec.Attacks = attacks
	}
	if warmup >= 0 {
		spec.Warmup = warmup
	}
	if spec.Days < 2 || spec.Hosts < 1 || spec.Warmup >= time.Duration(spec.Days)*24*time.Hour {
		return errors.New("--days must be at least 2, --hosts at least 1, and --warmup shorter than the history")
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

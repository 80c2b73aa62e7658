// Command simulate writes a simulated fleet history with injected attacks and benign
// surprises, and its ground truth, for evaluate and the quality harness (docs/quality.md).
// It is a tool of the harness, not part of the product binary:
//
//	cd e2e && go run ./cmd/simulate --out events.ndjson --labels labels.ndjson
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/rarenet/rarenet/e2e/quality/sim"
	"github.com/rarenet/rarenet/shared/cli"
)

func main() {
	os.Exit(cli.Exit(os.Stderr, "simulate", simulate(os.Args[1:])))
}

// approxSimulatedMB estimates the size of a simulated history: the default two weeks of 24
// hosts write about 200 MB of ECS.
func approxSimulatedMB(spec sim.Spec) int {
	return max(1, spec.Days*spec.Hosts*200/(14*24))
}

// simulate writes a simulated fleet history with its ground truth.
func simulate(args []string) error {
	c := cli.New("simulate",
		"Writes a simulated fleet history (ECS NDJSON or auditd) with injected attacks and benign\n"+
			"surprises, and with --labels its ground truth, for evaluate (docs/quality.md). The\n"+
			"fleet is drawn from a scenario (roles, daemons, jobs and how they are scheduled, agents,\n"+
			"tools, reboots): the built-in default, two weeks of 24 hosts, writes about 200 MB, so\n"+
			"--out FILE (or a pipe) is needed.",
		"simulate --out FILE [--scenario FILE] [--labels FILE] [flags]",
		"simulate [flags] | rarenet replay -")
	var out, labels, format, scenario string
	var seed uint64
	var days, hosts, attacks int
	var warmup time.Duration
	c.Flags(cli.Input, func(fs *flag.FlagSet) {
		fs.StringVar(&scenario, "scenario", "", "draw the fleet from this scenario file (TOML, as e2e/quality/sim/scenarios/*.toml); default: the built-in default scenario")
		fs.Uint64Var(&seed, "seed", 1, "random seed: the same scenario and seed give the same fleet")
		fs.IntVar(&days, "days", 0, "days of history (0: the scenario's)")
		fs.IntVar(&hosts, "hosts", 0, "hosts, taking the scenario's roles in turn (0: the scenario's)")
		fs.IntVar(&attacks, "attacks", -1, "attacks of each class (-1: the scenario's)")
		fs.DurationVar(&warmup, "warmup", -1, "history before the first attack (-1ns: the scenario's)")
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
	fmt.Fprintf(os.Stderr, "simulate: %d events, %d labels, %.0f host-days\n", len(f.Events), len(f.Labels), f.HostDays())
	return nil
}

package main

import (
	"flag"
	"runtime"
	"strings"

	"github.com/rarenet/rarenet/e2e/quality"
	"github.com/rarenet/rarenet/e2e/quality/sim"
)

// options cut the run down while developing: `go run ./cmd/quality -scenario 0 -seeds 2
// -detectors enhanced,new-destination` measures two seeds of the first scenario with the
// detectors whose names contain either word; -scenario-file measures a scenario file's
// fleets instead. make quality runs everything.
type options struct {
	scenario  int
	seeds     int
	detectors string
	file      string
	workers   int
	doc       bool
}

func parseFlags() options {
	var o options
	flag.IntVar(&o.scenario, "scenario", -1, "measure only this scenario (0-based index); -1: all")
	flag.IntVar(&o.seeds, "seeds", 0, "measure only the first N seeds of each scenario; 0: all")
	flag.StringVar(&o.detectors, "detectors", "", "comma-separated words: measure only detectors whose names contain one (=name: exactly that one); empty: all")
	flag.StringVar(&o.file, "scenario-file", "", "measure the fleets of this scenario file (TOML, as e2e/quality/sim/scenarios/*.toml) at its size and seeds, instead of the document's scenarios")
	flag.IntVar(&o.workers, "workers", runtime.NumCPU(), "replays run at once")
	flag.BoolVar(&o.doc, "doc", false, "write the whole document (preamble and notes) even when the run is cut down; its first line names the command")
	flag.Parse()
	return o
}

// scenarios are the scenarios the options select.
func (o options) scenarios() ([]quality.Scenario, error) {
	var all []quality.Scenario
	if o.file != "" {
		sc, err := sim.LoadScenario(o.file)
		if err != nil {
			return nil, err
		}
		all = []quality.Scenario{quality.FromFile(sc)}
	} else {
		var err error
		if all, err = quality.Scenarios(); err != nil {
			return nil, err
		}
	}
	if o.scenario >= 0 && o.scenario < len(all) {
		all = all[o.scenario : o.scenario+1]
	}
	for i := range all {
		if o.seeds > 0 && o.seeds < len(all[i].Seeds) {
			all[i].Seeds = all[i].Seeds[:o.seeds]
		}
	}
	return all, nil
}

// keep selects detectors by the words of -detectors.
func (o options) keep() func(string) bool {
	if o.detectors == "" {
		return nil
	}
	words := strings.Split(o.detectors, ",")
	return func(d string) bool {
		for _, w := range words {
			if exact, ok := strings.CutPrefix(w, "="); ok && d == exact || w != "" && !ok && strings.Contains(d, w) {
				return true
			}
		}
		return false
	}
}

// partial reports whether the options cut the run down: the output is then not the
// document.
func (o options) partial() bool {
	return o.scenario >= 0 || o.seeds > 0 || o.detectors != "" || o.file != ""
}

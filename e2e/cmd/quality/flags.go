package main

import (
	"flag"
	"strings"

	"github.com/rarenet/rarenet/e2e/quality"
)

// options cut the run down while developing: `go run ./cmd/quality -scenario 0 -seeds 2
// -detectors enhanced,new-destination` measures two seeds of the first scenario with the
// detectors whose names contain either word. make quality runs everything.
type options struct {
	scenario  int
	seeds     int
	detectors string
}

func parseFlags() options {
	var o options
	flag.IntVar(&o.scenario, "scenario", -1, "measure only this scenario (0-based index); -1: all")
	flag.IntVar(&o.seeds, "seeds", 0, "measure only the first N seeds of each scenario; 0: all")
	flag.StringVar(&o.detectors, "detectors", "", "comma-separated words: measure only detectors whose names contain one (=name: exactly that one); empty: all")
	flag.Parse()
	return o
}

// scenarios are the scenarios the options select.
func (o options) scenarios() []quality.Scenario {
	all := quality.Scenarios()
	if o.scenario >= 0 && o.scenario < len(all) {
		all = all[o.scenario : o.scenario+1]
	}
	for i := range all {
		if o.seeds > 0 && o.seeds < len(all[i].Seeds) {
			all[i].Seeds = all[i].Seeds[:o.seeds]
		}
	}
	return all
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
func (o options) partial() bool { return o.scenario >= 0 || o.seeds > 0 || o.detectors != "" }

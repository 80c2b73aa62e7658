package quality

import (
	"fmt"
	"time"

	"github.com/rarenet/rarenet/e2e/quality/sim"
)

// Scenario is a family of fleets: one scenario of the simulator at one size, several seeds.
type Scenario struct {
	Name  string
	Spec  func(seed uint64) sim.Spec
	Seeds []uint64
	// Ablation also measures each enhanced improvement on its own, and the new-destination
	// detector's granularities, on the first AblationSeeds seeds (0: all).
	Ablation      bool
	AblationSeeds int
}

// seedsFor are the seeds a detector is measured on.
func (sc Scenario) seedsFor(detector string) []uint64 {
	switch detector {
	case Faithful, Enhanced, NewTerms:
		return sc.Seeds
	}
	if sc.AblationSeeds > 0 && sc.AblationSeeds < len(sc.Seeds) {
		return sc.Seeds[:sc.AblationSeeds]
	}
	return sc.Seeds
}

// Detectors are the detectors measured on a scenario, in table order.
func (sc Scenario) Detectors() []string {
	if sc.Ablation {
		return []string{Faithful, Enhanced, HostOnly, ScheduleOnly, RolloutOnly, DestOnly, DestByIP, DestByNet, DestByService, NewTerms}
	}
	return []string{Faithful, Enhanced, NewTerms}
}

// FromFile is a scenario file's fleets at the file's size and seeds.
func FromFile(sc *sim.Scenario) Scenario {
	return Scenario{Name: fmt.Sprintf("%s (%d hosts, %d days)", sc.Name, sc.Hosts, sc.Days), Spec: sc.Spec, Seeds: sc.Seeds}
}

// resized is a scenario's fleets at another size: hosts, days, warm-up and attacks.
func resized(sc *sim.Scenario, name string, hosts, days int, warmup time.Duration, attacks int, seeds ...uint64) Scenario {
	return Scenario{Name: name, Seeds: seeds, Spec: func(seed uint64) sim.Spec {
		s := sc.Spec(seed)
		s.Hosts, s.Days, s.Warmup, s.Attacks = hosts, days, warmup, attacks
		return s
	}}
}

// Scenarios are the scenarios of docs/quality.md: the default scenario at its own size (with
// the single-improvement rows), at the size of the held-out fleets the issue reports (16
// hosts, a week, two days of warm-up), larger and shorter, and every other built-in scenario
// file at its own size. The seeds of the resized rows were never looked at while the
// enhanced profile was built.
func Scenarios() ([]Scenario, error) {
	def, err := sim.Builtin(sim.DefaultScenario)
	if err != nil {
		return nil, err
	}
	first := FromFile(def)
	first.Ablation, first.AblationSeeds = true, 2
	out := []Scenario{first,
		resized(def, "default, 16 hosts, 7 days, 2-day warm-up", 16, 7, 48*time.Hour, 4, 101, 102, 103, 104),
		resized(def, "default, 40 hosts, 10 days, 2-day warm-up", 40, 10, 48*time.Hour, 5, 111, 112),
	}
	for _, name := range sim.BuiltinScenarios()[1:] {
		sc, err := sim.Builtin(name)
		if err != nil {
			return nil, err
		}
		out = append(out, FromFile(sc))
	}
	return out, nil
}

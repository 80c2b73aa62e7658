// Package quality runs the detection-quality harness: simulated fleets with ground truth,
// replayed through the all-in-one pipeline in each profile, and the naive new-terms baseline,
// all measured by the same evaluation.
package quality

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/services/rarenet/evaluate"
	"github.com/rarenet/rarenet/services/rarenet/sim"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/stream"
)

// Detectors measured, in table order. The "only" ones are the faithful profile with one of
// the enhanced profile's improvements, so each is measured on its own.
const (
	Faithful     = "faithful"
	Enhanced     = "enhanced"
	HostOnly     = "faithful + rare-on-host"
	ScheduleOnly = "faithful + schedule-aware"
	RolloutOnly  = "faithful + rollout-aware"
	DestOnly     = "faithful + new-destination"
	NewTerms     = "new-terms"
)

// The new-destination detector under the granularities it was chosen against
// (docs/quality.md), each alone on the faithful profile; DestOnly is the default one.
const (
	DestByIP      = "faithful + new-destination by exact address"
	DestByNet     = "faithful + new-destination by /24 and port"
	DestByService = "faithful + new-destination by port and internal/external"
)

// Options is the all-in-one pipeline of `rarenet replay`, in a profile.
func Options(profile string) rarenet.Options {
	o := rarenet.Options{Streams: stream.Config{Partitions: 8, Replicas: 1, Memory: true}, EmittedTTL: time.Hour}
	o.Ingest.Datafeed = "rarenet"
	o.Ingest.BucketSpan = 15 * time.Minute
	o.Ingest.AllowedLateness = time.Minute
	o.Scorer.Job = scorer.RuleJob()
	o.Scorer.AllowedLateness = time.Minute
	o.Windower.Rule = windower.DefaultRule()
	switch profile {
	case Faithful, Enhanced:
		o.Scorer.Profile, o.Enricher.Profile = profile, profile
	case HostOnly:
		o.Scorer.Job.HostRarity = true
	case ScheduleOnly:
		o.Enricher.ScheduleAware = true
	case RolloutOnly:
		o.Enricher.RolloutAware = true
	case DestOnly, DestByIP, DestByNet, DestByService:
		o.Scorer.Job.NewDestinations = true
		o.Scorer.Job.DestinationKey = map[string]string{DestOnly: scorer.DestKeyDefault, DestByIP: scorer.DestKeyIP,
			DestByNet: scorer.DestKeyNet, DestByService: scorer.DestKeyService}[profile]
	}
	return o
}

// Run measures one detector on one fleet.
func Run(ctx context.Context, f *sim.Fleet, detector string) (evaluate.Report, error) {
	if detector == NewTerms {
		return evaluate.Evaluate(f.Labels, evaluate.NewTerms(f.Events, 24*time.Hour), f.HostDays()), nil
	}
	var in, out bytes.Buffer
	if err := sim.WriteECS(&in, f.Events); err != nil {
		return evaluate.Report{}, err
	}
	_, err := rarenet.Replay(ctx, rarenet.ReplayOptions{Pipeline: Options(detector), Files: []string{"-"}, Format: "ecs",
		Stdin: &in, Out: &out})
	if err != nil {
		return evaluate.Report{}, err
	}
	signals, err := evaluate.ReadSignals(&out)
	if err != nil {
		return evaluate.Report{}, err
	}
	return evaluate.Evaluate(f.Labels, signals, f.HostDays()), nil
}

// Scenario is a family of fleets: one spec, several seeds.
type Scenario struct {
	Name  string
	Spec  func(seed uint64) sim.Spec
	Seeds []uint64
	// Ablation also measures each enhanced improvement on its own, and the new-destination
	// detector's granularities.
	Ablation bool
}

// Detectors are the detectors measured on a scenario, in table order.
func (sc Scenario) Detectors() []string {
	if sc.Ablation {
		return []string{Faithful, Enhanced, HostOnly, ScheduleOnly, RolloutOnly, DestOnly, DestByIP, DestByNet, DestByService, NewTerms}
	}
	return []string{Faithful, Enhanced, NewTerms}
}

// Scenarios are the project's own fleet and fleets of another shape, never used to choose
// the enhanced profile's constants.
func Scenarios() []Scenario {
	return []Scenario{
		{"simulator default (24 hosts, 14 days)", sim.DefaultSpec, []uint64{1, 2, 3, 4, 5}, true},
		{"unseen: 40 hosts, 10 days, 2-day warm-up", func(seed uint64) sim.Spec {
			s := sim.DefaultSpec(seed)
			s.Hosts, s.Days, s.Warmup, s.Attacks = 40, 10, 48*time.Hour, 5
			return s
		}, []uint64{101, 102, 103}, false},
	}
}

// Table measures every detector on every scenario and writes two Markdown tables: the
// results, and the benign signals by what caused them. keep selects detectors (nil: all), and
// scenarios may be cut down, for quicker runs while developing.
func Table(ctx context.Context, w io.Writer, progress io.Writer, scenarios []Scenario, keep func(detector string) bool) error {
	var rows []row
	for _, sc := range scenarios {
		var detectors []string
		for _, d := range sc.Detectors() {
			if keep == nil || keep(d) {
				detectors = append(detectors, d)
			}
		}
		reps := map[string][]evaluate.Report{}
		for _, seed := range sc.Seeds {
			f := sim.Simulate(sc.Spec(seed))
			for _, d := range detectors {
				if progress != nil {
					fmt.Fprintf(progress, "quality: %s seed %d %s\n", sc.Name, seed, d)
				}
				rep, err := Run(ctx, f, d)
				if err != nil {
					return fmt.Errorf("%s seed %d %s: %w", sc.Name, seed, d, err)
				}
				reps[d] = append(reps[d], rep)
			}
		}
		for _, d := range detectors {
			rows = append(rows, row{sc.Name, d, reps[d]})
		}
	}
	fmt.Fprintln(w, "| scenario | detector | never-seen tools (recall) | reused names (recall) | new destinations (recall) | benign signals | false signals / 100 host-days | duplicates | mean delay |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		rs := r.reps
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.scenario, r.detector,
			spread(rs, func(r evaluate.Report) float64 { return 100 * r.Recall(sim.ClassNeverSeenTool) }, "%.0f%%"),
			spread(rs, func(r evaluate.Report) float64 { return 100 * r.Recall(sim.ClassReusedName) }, "%.0f%%"),
			spread(rs, func(r evaluate.Report) float64 { return 100 * r.Recall(sim.ClassNewDestination) }, "%.0f%%"),
			spread(rs, func(r evaluate.Report) float64 { return float64(r.False) }, "%.0f"),
			spread(rs, func(r evaluate.Report) float64 { return r.FalsePer100HostDays }, "%.2f"),
			spread(rs, func(r evaluate.Report) float64 { return float64(r.Duplicates) }, "%.1f"),
			spread(rs, func(r evaluate.Report) float64 { return r.MeanDelay.Minutes() }, "%.0f min"))
	}
	writeCuts(w, rows)
	causes := []struct{ name, class string }{{"schedules", sim.ClassSchedule}, {"rollout", sim.ClassRollout},
		{"provider moved", sim.ClassDestinationChange}, {"loopback", sim.ClassLoopback}, {"unlabelled", "unlabelled"}}
	fmt.Fprintln(w)
	fmt.Fprint(w, "Benign signals by cause (mean over seeds, with the range):\n\n| scenario | detector |")
	for _, c := range causes {
		fmt.Fprintf(w, " %s |", c.name)
	}
	fmt.Fprint(w, "\n|---|---|")
	for range causes {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s |", r.scenario, r.detector)
		for _, c := range causes {
			fmt.Fprintf(w, " %s |", spread(r.reps, func(r evaluate.Report) float64 { return float64(r.FalseBy[c.class]) }, "%.1f"))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// row is one detector's reports on one scenario, one per seed.
type row struct {
	scenario, detector string
	reps               []evaluate.Report
}

// writeCuts writes, per scenario, how much the enhanced profile cuts benign signals against
// the faithful one, seed by seed: all of them, and those of schedules and rollouts alone,
// which the target (at least 60%) names.
func writeCuts(w io.Writer, rows []row) {
	byScenario := map[string]map[string][]evaluate.Report{}
	var order []string
	for _, r := range rows {
		if byScenario[r.scenario] == nil {
			byScenario[r.scenario] = map[string][]evaluate.Report{}
			order = append(order, r.scenario)
		}
		byScenario[r.scenario][r.detector] = r.reps
	}
	all := func(r evaluate.Report) int { return r.False }
	jobs := func(r evaluate.Report) int { return r.FalseBy[sim.ClassSchedule] + r.FalseBy[sim.ClassRollout] }
	first := true
	for _, sc := range order {
		f, e := byScenario[sc][Faithful], byScenario[sc][Enhanced]
		if len(f) == 0 || len(f) != len(e) {
			continue
		}
		if first {
			fmt.Fprint(w, "\nBenign signals cut by the enhanced profile against the faithful one, seed by seed, all of them\n"+
				"and (in brackets) those of schedules and rollouts only:\n\n")
			first = false
		}
		var cuts []string
		for i := range f {
			cuts = append(cuts, cut(all(f[i]), all(e[i]))+" ["+cut(jobs(f[i]), jobs(e[i]))+"]")
		}
		fmt.Fprintf(w, "- %s: %s\n", sc, strings.Join(cuts, ", "))
	}
}

// cut writes the reduction from n to m: "63% (19 → 7)".
func cut(n, m int) string {
	c := 0.0
	if n > 0 {
		c = 100 * (1 - float64(m)/float64(n))
	}
	return fmt.Sprintf("%.0f%% (%d → %d)", c, n, m)
}

// spread writes the mean of a measure over seeds and its range.
func spread(rs []evaluate.Report, f func(evaluate.Report) float64, format string) string {
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, r := range rs {
		v := f(r)
		lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
	}
	mean := fmt.Sprintf(format, sum/float64(len(rs)))
	if lo == hi {
		return mean
	}
	return mean + " (" + strings.TrimSpace(fmt.Sprintf(format, lo)) + "–" + strings.TrimSpace(fmt.Sprintf(format, hi)) + ")"
}

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
	NewTerms     = "new-terms"
)

// Options is the all-in-one pipeline of `rarenet replay`, in a profile.
func Options(profile string) rarenet.Options {
	o := rarenet.Options{Streams: stream.Config{Partitions: 8, Replicas: 1, Memory: true}, EmittedTTL: time.Hour}
	o.Ingest.Datafeed = "rarenet"
	o.Ingest.BucketSpan = 15 * time.Minute
	o.Ingest.AllowedLateness = time.Minute
	o.Scorer.Job = scorer.DefaultJob()
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
	// Ablation also measures each enhanced improvement on its own.
	Ablation bool
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

// Table measures every detector on every scenario and writes the results as Markdown.
func Table(ctx context.Context, w io.Writer, progress io.Writer) error {
	fmt.Fprintln(w, "| scenario | detector | never-seen tools (recall) | reused names (recall) | benign signals | false signals / 100 host-days | duplicates | mean delay |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, sc := range Scenarios() {
		detectors := []string{Faithful, Enhanced, NewTerms}
		if sc.Ablation {
			detectors = []string{Faithful, Enhanced, HostOnly, ScheduleOnly, RolloutOnly, NewTerms}
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
			rs := reps[d]
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", sc.Name, d,
				spread(rs, func(r evaluate.Report) float64 { return 100 * r.Recall(sim.ClassNeverSeenTool) }, "%.0f%%"),
				spread(rs, func(r evaluate.Report) float64 { return 100 * r.Recall(sim.ClassReusedName) }, "%.0f%%"),
				spread(rs, func(r evaluate.Report) float64 { return float64(r.False) }, "%.0f"),
				spread(rs, func(r evaluate.Report) float64 { return r.FalsePer100HostDays }, "%.2f"),
				spread(rs, func(r evaluate.Report) float64 { return float64(r.Duplicates) }, "%.0f"),
				spread(rs, func(r evaluate.Report) float64 { return r.MeanDelay.Minutes() }, "%.0f min"))
		}
	}
	return nil
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

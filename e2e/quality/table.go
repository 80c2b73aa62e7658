package quality

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/rarenet/rarenet/e2e/quality/evaluate"
	"github.com/rarenet/rarenet/e2e/quality/sim"
)

// row is one detector's reports on one scenario, one per seed.
type row struct {
	scenario, detector string
	hostDays           float64
	reps               []evaluate.Report
}

// measure runs every detector on every seed of every scenario, workers replays at a time
// (each replay is a pipeline of its own on its own embedded server), and returns the rows in
// table order.
func measure(ctx context.Context, progress io.Writer, scenarios []Scenario, keep func(string) bool, workers int) ([]row, error) {
	type task struct {
		f        *sim.Fleet
		r        *row
		i        int
		detector string
		label    string
	}
	var rows []*row
	var tasks []task
	for _, sc := range scenarios {
		var detectors []string
		for _, d := range sc.Detectors() {
			if keep == nil || keep(d) {
				detectors = append(detectors, d)
			}
		}
		byDetector := map[string]*row{}
		for _, d := range detectors {
			r := &row{scenario: sc.Name, detector: d, reps: make([]evaluate.Report, len(sc.seedsFor(d)))}
			byDetector[d] = r
			rows = append(rows, r)
		}
		for i, seed := range sc.Seeds {
			f := sim.Simulate(sc.Spec(seed))
			for _, d := range detectors {
				if i >= len(sc.seedsFor(d)) {
					continue
				}
				byDetector[d].hostDays += f.HostDays()
				tasks = append(tasks, task{f, byDetector[d], i, d, fmt.Sprintf("%s seed %d %s", sc.Name, seed, d)})
			}
		}
	}
	var mu sync.Mutex
	var firstErr error
	next := make(chan task)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				if progress != nil {
					mu.Lock()
					fmt.Fprintf(progress, "quality: %s\n", t.label)
					mu.Unlock()
				}
				rep, err := Run(ctx, t.f, t.detector)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", t.label, err)
				}
				t.r.reps[t.i] = rep
				mu.Unlock()
			}
		}()
	}
	for _, t := range tasks {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- t
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	out := make([]row, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	return out, nil
}

// Table measures every detector on every scenario, workers replays at a time, and writes
// the Markdown tables of docs/quality.md: the targets, the results, the reused names by
// kind, the cuts seed by seed, and the benign signals by cause. keep selects detectors (nil:
// all), and scenarios may be cut down, for quicker runs while developing.
func Table(ctx context.Context, w io.Writer, progress io.Writer, scenarios []Scenario, keep func(detector string) bool, workers int) error {
	rows, err := measure(ctx, progress, scenarios, keep, workers)
	if err != nil {
		return err
	}
	writeTargets(w, rows)
	fmt.Fprintln(w)
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
	writeKinds(w, rows)
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

// Targets of issue 15, enhanced against faithful, on every scenario.
const (
	targetReused   = 0.9
	targetDest     = 0.8
	targetCut      = 0.6
	targetFalseMax = 2.0
)

// jobsAndRollouts counts a report's benign signals from schedules and rollouts.
func jobsAndRollouts(r evaluate.Report) int {
	return r.FalseBy[sim.ClassSchedule] + r.FalseBy[sim.ClassRollout]
}

// recallOver is the detected share of a class's attacks over all seeds.
func recallOver(rs []evaluate.Report, class string) (detected, labels int) {
	for _, r := range rs {
		for _, c := range r.Classes {
			if c.Class == class {
				detected, labels = detected+c.Detected, labels+c.Labels
			}
		}
	}
	return detected, labels
}

// writeTargets writes, per scenario, the enhanced profile against the targets, over
// all of the scenario's seeds: recall per attack class, the cut in benign signals from
// schedules and rollouts against the faithful profile, and the false signals per 100
// host-days.
func writeTargets(w io.Writer, rows []row) {
	byScenario := map[string]map[string]row{}
	var order []string
	for _, r := range rows {
		if byScenario[r.scenario] == nil {
			byScenario[r.scenario] = map[string]row{}
			order = append(order, r.scenario)
		}
		byScenario[r.scenario][r.detector] = r
	}
	mark := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	fmt.Fprintln(w, "| scenario (seeds) | never-seen tools (100%) | reused names (≥ 90%) | new destinations (≥ 80%) | benign from schedules and rollouts, faithful → enhanced (cut ≥ 60%) | false signals / 100 host-days (≤ 2.0) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, sc := range order {
		e, ok := byScenario[sc][Enhanced]
		f, okf := byScenario[sc][Faithful]
		if !ok || !okf {
			continue
		}
		recall := func(class string, target float64) string {
			d, n := recallOver(e.reps, class)
			if n == 0 {
				return "–"
			}
			return fmt.Sprintf("%s %d of %d (%.0f%%)", mark(float64(d) >= target*float64(n)-1e-9), d, n, 100*float64(d)/float64(n))
		}
		var fb, eb, ef int
		for i := range e.reps {
			fb, eb, ef = fb+jobsAndRollouts(f.reps[i]), eb+jobsAndRollouts(e.reps[i]), ef+e.reps[i].False
		}
		rate := 100 * float64(ef) / e.hostDays
		fmt.Fprintf(w, "| %s (%d) | %s | %s | %s | %s %d → %d (%s) | %s %.2f |\n", sc, len(e.reps),
			recall(sim.ClassNeverSeenTool, 1), recall(sim.ClassReusedName, targetReused), recall(sim.ClassNewDestination, targetDest),
			mark(fb > 0 && float64(eb) <= (1-targetCut)*float64(fb)), fb, eb, pct(fb, eb), mark(rate <= targetFalseMax), rate)
	}
}

// writeKinds writes the enhanced profile's recall of each kind of reused name, per scenario.
func writeKinds(w io.Writer, rows []row) {
	var lines []string
	for _, r := range rows {
		if r.detector != Enhanced {
			continue
		}
		kinds := map[string][2]int{}
		for _, rep := range r.reps {
			for k, c := range rep.Kinds {
				kinds[k] = [2]int{kinds[k][0] + c.Detected, kinds[k][1] + c.Labels}
			}
		}
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		slices.Sort(names)
		var parts []string
		for _, k := range names {
			parts = append(parts, fmt.Sprintf("%s %d of %d", strings.TrimPrefix(k, sim.ClassReusedName+"/"), kinds[k][0], kinds[k][1]))
		}
		lines = append(lines, fmt.Sprintf("- %s: %s", r.scenario, strings.Join(parts, ", ")))
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nReused names caught by the enhanced profile, by kind (a host that never ran the name; a user\nthat never ran it on the host), over all seeds:\n\n%s\n", strings.Join(lines, "\n"))
	}
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
			cuts = append(cuts, cut(all(f[i]), all(e[i]))+" ["+cut(jobsAndRollouts(f[i]), jobsAndRollouts(e[i]))+"]")
		}
		fmt.Fprintf(w, "- %s: %s\n", sc, strings.Join(cuts, ", "))
	}
}

// pct writes the reduction from n to m in percent.
func pct(n, m int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*(1-float64(m)/float64(n)))
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

package e2e

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
)

// The summary of issue 12's figures that make bench prints once every benchmark has run (from
// TestMain): one row per figure and format, with the measured value, the baseline measured in
// the same run, their ratio, the target and a verdict. A figure below its target is a
// measurement, not a failure: only errors fail the run.

// figureRow is one row of the summary.
type figureRow struct {
	figure, format         string
	measured, baseline     string
	ratio, target, verdict string
	load                   string // the load average when the figure was taken
	notes                  string
}

// Verdicts of the summary.
const (
	verdictPass  = "PASS"
	verdictBelow = "BELOW TARGET"
	verdictInfo  = "(measured)"
)

// figures holds the summary's rows, in the order the benchmarks report them; facts holds
// values one benchmark measured that another's row uses (the cluster's events/s for the share
// of the per-bucket cost).
var figures = struct {
	mu    sync.Mutex
	rows  []figureRow
	facts map[string]float64
}{facts: map[string]float64{}}

// reportFigure adds a row to the summary; pass decides its verdict.
func reportFigure(r figureRow, pass bool) {
	r.verdict = verdictBelow
	if pass {
		r.verdict = verdictPass
	}
	if r.load == "" {
		r.load = loadAverage()
	}
	figures.mu.Lock()
	defer figures.mu.Unlock()
	figures.rows = append(figures.rows, r)
}

// reportInfo adds a row that has no target: a measurement the issue asks to report.
func reportInfo(r figureRow) {
	r.verdict = verdictInfo
	if r.target == "" {
		r.target = "-"
	}
	if r.ratio == "" {
		r.ratio = "-"
	}
	if r.baseline == "" {
		r.baseline = "-"
	}
	if r.load == "" {
		r.load = loadAverage()
	}
	figures.mu.Lock()
	defer figures.mu.Unlock()
	figures.rows = append(figures.rows, r)
}

// setFact and fact pass a value between benchmarks of one run.
func setFact(name string, v float64) {
	figures.mu.Lock()
	defer figures.mu.Unlock()
	figures.facts[name] = v
}

func fact(name string) (float64, bool) {
	figures.mu.Lock()
	defer figures.mu.Unlock()
	v, ok := figures.facts[name]
	return v, ok
}

// printFigures writes the summary table, if any benchmark reported a figure.
func printFigures(w io.Writer) {
	figures.mu.Lock()
	defer figures.mu.Unlock()
	if len(figures.rows) == 0 {
		return
	}
	mode := "full"
	if d := os.Getenv("BENCH_DAYS"); d != "" {
		mode = "BENCH_DAYS=" + d + ": histories of " + d + " days, not issue 12's 28"
	}
	if os.Getenv("BENCH_QUICK") != "" {
		mode = "QUICK (BENCH_QUICK=1: small inputs, a smoke run; the figures are not issue 12's)"
	}
	fmt.Fprintf(w, "\n=== issue 12 figures (%s run; each ratio against a baseline measured in the same run; load average 1/5/15 min when taken) ===\n", mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tformat\tmeasured\tbaseline (same run)\tratio\ttarget\tverdict\tload")
	pass, below := 0, 0
	for _, r := range figures.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.figure, r.format, r.measured, r.baseline, r.ratio, r.target, r.verdict, r.load)
		switch r.verdict {
		case verdictPass:
			pass++
		case verdictBelow:
			below++
		}
	}
	tw.Flush()
	for _, r := range figures.rows {
		if r.notes != "" {
			fmt.Fprintf(w, "  %s (%s): %s\n", r.figure, r.format, r.notes)
		}
	}
	fmt.Fprintf(w, "=== %d PASS, %d BELOW TARGET (a figure below its target is a measurement, not a failed run) ===\n", pass, below)
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes, as /proc/loadavg says.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], "/")
}

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rarenet/rarenet/e2e/history"
)

// The throughput benchmarks of issue 12 (make bench). Each figure is measured in the same run
// as its baseline, on a shared and noisy machine: measurements are interleaved, repeated
// benchRounds times when one takes under benchRepeatBelow, and reported as the median with the
// spread of the runs.
//
// Switches (environment, since go test passes no flags of its own to a benchmark):
//
//	BENCH_QUICK=1          a smoke run: small histories, one round each, short live steps
//	BENCH_DAYS=N           days of the large history (default 28: about a million events)
//	BENCH_LIVE_STEP=20s    how long the live benchmark holds each rate
//	BENCH_LIVE_RATES=a,b   the live benchmark's rates in events/s, in order
//	BENCH_LIVE=f/p/i,...   the live ramps to run (format/pipeline/input, * for any)
//	BENCH_PPROF=1          the cluster's stages serve Go's profiles (--pprof); the log says where
//	BENCH_REPLICAS=a,b     the stages whose second replica BenchmarkReplayClusterReplicas
//	                       measures (default all four), e.g. enricher
//	BENCH_LOGS_DIR=dir     every cluster replay's logs (nodes, stages, driver) are written there
//	BENCH_ROUNDS=N         how many rounds the measurements shorter than benchRepeatBelow take
//	                       (default benchRounds; scaleOutRounds for the scale-out)
//	BENCH_AGAINST=rev      BenchmarkReplayClusterAgainst compares this tree's binaries with
//	                       those of git revision rev (not run otherwise)
//	BENCH_AGAINST_STACKS=  its stacks, e.g. 1,1,1,1;1,2,1,1 (default 2,2,2,2)
const (
	benchRounds      = 3
	benchRepeatBelow = 30 * time.Second
)

// natscliVersion is the NATS command-line tool whose `nats bench` measures the JetStream
// baseline: the version issue 12 measured with.
const natscliVersion = "v0.5.0"

// benchEnv is what the switches above select.
type benchEnv struct {
	quick bool
	// days is the large history's length; smallDays the memory benchmark's smaller one (a
	// quarter of days).
	days, smallDays int
	// sparseDays is the length of the few-events-per-bucket history of the per-bucket cost.
	sparseDays int
	liveStep   time.Duration
	liveRates  []int
	// replicas are the stages (indexes of stageNames) given a second replica in
	// BenchmarkReplayClusterReplicas.
	replicas []int
	// liveOnly, when set, holds the live ramps to run, as format/pipeline/input with * for
	// any (BENCH_LIVE), e.g. auditd/all-in-one/*.
	liveOnly []string
}

// benchProfiles reports whether BENCH_PPROF asks the cluster's nats-servers and stages to
// serve Go's profiles.
func benchProfiles() bool { return os.Getenv("BENCH_PPROF") != "" }

// liveSelected reports whether the live ramp of format, pipeline and input is to run.
func (e benchEnv) liveSelected(format, pipeline, input string) bool {
	if e.liveOnly == nil {
		return true
	}
	for _, sel := range e.liveOnly {
		f := strings.Split(sel, "/")
		if (f[0] == "*" || f[0] == format) && (f[1] == "*" || f[1] == pipeline) && (f[2] == "*" || f[2] == input) {
			return true
		}
	}
	return false
}

func loadBenchEnv(b *testing.B) benchEnv {
	b.Helper()
	e := benchEnv{days: 28, sparseDays: 14, liveStep: 20 * time.Second,
		liveRates: []int{10_000, 25_000, 50_000, 75_000, 100_000, 150_000}, replicas: []int{0, 1, 2, 3}}
	if os.Getenv("BENCH_QUICK") != "" {
		e.quick = true
		e.days, e.sparseDays, e.liveStep = 4, 3, 8*time.Second
		e.liveRates = []int{2_000, 5_000, 10_000}
	}
	if s := os.Getenv("BENCH_DAYS"); s != "" {
		d, err := strconv.Atoi(s)
		if err != nil || d < 4 {
			b.Fatalf("BENCH_DAYS=%q: want a whole number of days, at least 4 (the smaller history is a quarter of it)", s)
		}
		e.days = d
	}
	e.smallDays = e.days / 4
	if s := os.Getenv("BENCH_LIVE_STEP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 2*time.Second {
			b.Fatalf("BENCH_LIVE_STEP=%q: want a duration of at least 2s, e.g. 30s", s)
		}
		e.liveStep = d
	}
	if s := os.Getenv("BENCH_LIVE_RATES"); s != "" {
		e.liveRates = nil
		for _, f := range strings.Split(s, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || r <= 0 {
				b.Fatalf("BENCH_LIVE_RATES=%q: want events per second separated by commas, e.g. 10000,20000", s)
			}
			e.liveRates = append(e.liveRates, r)
		}
	}
	if s := os.Getenv("BENCH_LIVE"); s != "" {
		for _, sel := range strings.Split(s, ",") {
			f := strings.Split(strings.TrimSpace(sel), "/")
			if len(f) != 3 || !slices.Contains([]string{"*", "ecs", "auditd"}, f[0]) ||
				!slices.Contains([]string{"*", "all-in-one", "cluster"}, f[1]) || !slices.Contains([]string{"*", "http", "nats"}, f[2]) {
				b.Fatalf("BENCH_LIVE=%q: want format/pipeline/input separated by commas, each part * or one of ecs|auditd, all-in-one|cluster, http|nats; e.g. auditd/all-in-one/*", s)
			}
			e.liveOnly = append(e.liveOnly, strings.Join(f, "/"))
		}
	}
	if s := os.Getenv("BENCH_REPLICAS"); s != "" {
		e.replicas = nil
		for _, f := range strings.Split(s, ",") {
			i := slices.Index(stageNames[:], strings.TrimSpace(f))
			if i < 0 {
				b.Fatalf("BENCH_REPLICAS=%q: want stage names separated by commas, among %s", s, strings.Join(stageNames[:], ", "))
			}
			e.replicas = append(e.replicas, i)
		}
	}
	return e
}

// skipShort skips a benchmark under -short: each builds binaries and runs processes for minutes.
func skipShort(b *testing.B) {
	b.Helper()
	if testing.Short() {
		b.Skip("builds binaries and replays large histories through separate processes; skipped with -short")
	}
}

// benchBinaries returns the directory of the service binaries and the standalone nats-server
// (see binaries), with natscli installed beside them.
func benchBinaries(b *testing.B) string {
	b.Helper()
	dir := binaries(b)
	if _, err := os.Stat(filepath.Join(dir, "nats")); err == nil {
		return dir
	}
	install := exec.Command("go", "install", "github.com/nats-io/natscli/nats@"+natscliVersion)
	install.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off")
	install.Dir = os.TempDir()
	if out, err := install.CombinedOutput(); err != nil {
		b.Fatalf("go install natscli: %v\n%s", err, out)
	}
	return dir
}

// benchHistory is a history written to a file once per test binary.
type benchHistory struct {
	path   string
	events int // history events, the numerator of events/s
	spec   history.Spec
	// buckets is the number of 15-minute buckets the history spans.
	buckets int
}

// histories caches the benchmarks' history files: a million-event history takes seconds to
// generate and hundreds of MB to hold, so each is written once and shared by every benchmark.
var histories = struct {
	mu    sync.Mutex
	dir   string
	files map[string]benchHistory
}{files: map[string]benchHistory{}}

// writeBenchHistory writes spec in format ("ecs" or "auditd") to a temporary file, once per
// test binary; TestMain removes the files.
func writeBenchHistory(b *testing.B, format string, spec history.Spec) benchHistory {
	b.Helper()
	key := fmt.Sprintf("%s-%d-%dd-%dh-%dr-%dpb", format, spec.Seed, spec.Days, spec.Hosts, spec.Regulars, spec.PerBucket)
	histories.mu.Lock()
	defer histories.mu.Unlock()
	if h, ok := histories.files[key]; ok {
		return h
	}
	if histories.dir == "" {
		dir, err := os.MkdirTemp("", "rarenet-bench-history-")
		if err != nil {
			b.Fatal(err)
		}
		histories.dir = dir
	}
	events := history.Events(spec)
	h := benchHistory{path: filepath.Join(histories.dir, key+"."+format), events: len(events), spec: spec, buckets: spec.Days * 24 * 4}
	f, err := os.Create(h.path)
	if err != nil {
		b.Fatal(err)
	}
	switch format {
	case "ecs":
		err = history.WriteECS(f, events)
	case "auditd":
		err = history.WriteAuditd(f, events)
	default:
		err = fmt.Errorf("no writer for format %q", format)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatalf("writing the %s history: %v", format, err)
	}
	if fi, err := os.Stat(h.path); err == nil {
		b.Logf("history %s: %d days, %d hosts, %s events, %.0f MB", filepath.Base(h.path), spec.Days, spec.Hosts,
			thousands(float64(h.events)), float64(fi.Size())/1e6)
	}
	histories.files[key] = h
	return h
}

// removeBenchHistories deletes the history files; TestMain calls it.
func removeBenchHistories() {
	histories.mu.Lock()
	defer histories.mu.Unlock()
	if histories.dir != "" {
		os.RemoveAll(histories.dir)
	}
}

// largeSpec is the default fleet (6 hosts, 40 regular processes, three injections) over days:
// 28 days are about a million events.
func largeSpec(days int) history.Spec {
	s := history.Default()
	s.Days = days
	return s
}

// sparseSpec has about one event per bucket: one host and one regular process (sshd, in 90%
// of the buckets), plus the default injections. Its replay time is the pipeline's fixed cost
// per bucket (closing it, scoring, the rule runs), not its cost per event.
func sparseSpec(days int) history.Spec {
	s := history.Default()
	s.Days, s.Hosts, s.Regulars, s.PerBucket = days, 1, 1, 1
	return s
}

// processRun is one finished child process.
type processRun struct {
	wall time.Duration
	// maxRSS is the child's peak resident set in bytes, as wait4 reports it. Go starts
	// children with vfork, and Linux then counts the parent's peak (this benchmark's, with
	// its histories in memory) as the child's: an upper bound only. A replay reports its own
	// (replayAllInOne).
	maxRSS int64
	// cpu is the child's user and system time.
	cpu    time.Duration
	stdout []byte
	stderr []byte // the log, for most binaries
}

// runProcess runs a binary to completion, timing it from start to exit, and fails the
// benchmark with its output when it fails.
func runProcess(b *testing.B, name string, args ...string) processRun {
	b.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, lastLines(stderr.String(), 40))
	}
	r := processRun{wall: time.Since(began), stdout: stdout.Bytes(), stderr: stderr.Bytes(),
		cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	return r
}

// lastLines keeps the end of a long output.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// replayStatsFile is what the benchmarks read of `rarenet replay --stats`.
type replayStatsFile struct {
	Signals int64 `json:"signals"`
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// readReplayStats reads the JSON summary `rarenet replay --stats` wrote.
func readReplayStats(b *testing.B, path string) replayStatsFile {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var st replayStatsFile
	if err := json.Unmarshal(raw, &st); err != nil {
		b.Fatalf("--stats %s: %v", path, err)
	}
	return st
}

// countLines counts the signals (NDJSON lines) of an --out file.
func countLines(b *testing.B, path string) int {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Count(raw, []byte{'\n'})
}

// benchSample is the values of one measurement over the rounds of a benchmark.
type benchSample []float64

func (s benchSample) median() float64 {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// spread describes the runs: "1 run", or "3 runs 120,000..125,000 (±2.0%)", the half range
// relative to the median.
func (s benchSample) spread() string {
	if len(s) <= 1 {
		return "1 run"
	}
	lo, hi := slices.Min(s), slices.Max(s)
	rel := 0.0
	if m := s.median(); m != 0 {
		rel = (hi - lo) / 2 / m * 100
	}
	return fmt.Sprintf("%d runs %s..%s (±%.1f%%)", len(s), thousands(lo), thousands(hi), rel)
}

// pairedRatios divides each of s's runs by base's run of the same round (interleave's
// values are in round order): a round's runs are minutes apart at most, so what slows the
// whole machine for a while (these are shared) falls on both sides of each ratio. Rounds
// that only one of them ran are left out.
func pairedRatios(s, base benchSample) benchSample {
	var out benchSample
	for i := range min(len(s), len(base)) {
		if base[i] > 0 {
			out = append(out, s[i]/base[i])
		}
	}
	return out
}

// ratioSpread describes ratios: "5 rounds 0.93..1.08".
func (s benchSample) ratioSpread() string {
	if len(s) == 0 {
		return "no rounds"
	}
	if len(s) == 1 {
		return "1 round"
	}
	return fmt.Sprintf("%d rounds %.2f..%.2f", len(s), slices.Min(s), slices.Max(s))
}

// ratioUpperBound is the one-sided 95% upper confidence bound of the geometric mean of paired
// ratios (Student's t on their logarithms; ok is false below 2 ratios). A configuration is
// measurably slower than its baseline when the bound is below 1: its rounds were slower by
// more than their own spread explains.
func ratioUpperBound(s benchSample) (bound float64, ok bool) {
	n := len(s)
	if n < 2 {
		return 0, false
	}
	var sum, sq float64
	for _, r := range s {
		sum += math.Log(r)
	}
	mean := sum / float64(n)
	for _, r := range s {
		sq += (math.Log(r) - mean) * (math.Log(r) - mean)
	}
	sd := math.Sqrt(sq / float64(n-1))
	return math.Exp(mean + tOneSided95(n-1)*sd/math.Sqrt(float64(n))), true
}

// tOneSided95 is Student's t distribution's 95th percentile for df degrees of freedom (df 1-10,
// from the standard tables; 10's beyond, which errs wide).
func tOneSided95(df int) float64 {
	t := []float64{6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812}
	return t[min(max(df, 1), len(t))-1]
}

// measurement is one figure measured by a run of something: run returns the value and how long
// the run took.
type measurement struct {
	name string
	run  func() (value float64, took time.Duration)
}

// interleave runs the measurements in turn, round after round, each round starting with the
// next one, so that the machine's load falls on all of them alike. A measurement whose first
// run took benchRepeatBelow or longer runs once; the others run benchRounds times (once with
// BENCH_QUICK). It returns each measurement's values, in round order.
func interleave(b *testing.B, ms ...measurement) []benchSample {
	b.Helper()
	return interleaveRounds(b, benchRounds, ms...)
}

// interleaveRounds is interleave with rounds rounds instead of benchRounds (BENCH_ROUNDS and
// BENCH_QUICK still win).
func interleaveRounds(b *testing.B, rounds int, ms ...measurement) []benchSample {
	b.Helper()
	out := make([]benchSample, len(ms))
	repeat := make([]bool, len(ms))
	if os.Getenv("BENCH_QUICK") != "" {
		rounds = 1 // a smoke run: that every measurement works, not how steady it is
	}
	if s := os.Getenv("BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_ROUNDS=%q: want a whole number of rounds, at least 1", s)
		}
		rounds = n
	}
	for round := range rounds {
		// Each round starts one measurement further on, so that none always runs first, or
		// always after the same other one.
		for k := range ms {
			i := (round + k) % len(ms)
			m := ms[i]
			if round > 0 && !repeat[i] {
				continue
			}
			ticks := machineTicks()
			v, took := m.run()
			_, steal := ticks.shares(machineTicks())
			b.Logf("  %s, round %d: %s in %.1fs (stolen by the hypervisor: %.0f%%)", m.name, round+1, thousands(v), took.Seconds(), 100*steal)
			if round == 0 {
				repeat[i] = took < benchRepeatBelow
			}
			out[i] = append(out[i], v)
		}
	}
	return out
}

// ratioText formats a ratio with two decimals, or with three where two would put it on the
// other side of its target than it is (0.998 against ">= 1.00" reads 0.998, not 1.00 beside
// BELOW TARGET). ok is the target's test.
func ratioText(ratio float64, ok func(float64) bool) string {
	s := strconv.FormatFloat(ratio, 'f', 2, 64)
	if r, err := strconv.ParseFloat(s, 64); err == nil && ok(r) != ok(ratio) {
		return strconv.FormatFloat(ratio, 'f', 3, 64)
	}
	return s
}

// thousands formats a figure with thousands separators and no decimals (or two below 100).
func thousands(v float64) string {
	if v < 100 && v > -100 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	s := strconv.FormatInt(int64(v+0.5), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// verdict says whether a figure meets its target, as the summary does.
func verdict(ok bool) string {
	if ok {
		return verdictPass
	}
	return verdictBelow
}

// cpuTicksPerSecond is the unit of the CPU times /proc/PID/stat gives (USER_HZ, 100 on
// every Linux architecture Go builds for: sysconf(_SC_CLK_TCK)).
const cpuTicksPerSecond = 100

// cpuTicks is the machine's CPU time so far, over every core, in ticks (/proc/stat): idle
// (idle and iowait), stolen (time the hypervisor ran other guests while this one had work),
// and in all.
type cpuTicks struct{ idle, steal, total int64 }

// machineTicks reads the machine's cpuTicks from /proc/stat's first line, whose fields are
// user, nice, system, idle, iowait, irq, softirq, steal, then guest and guest_nice, which user
// and nice already count.
func machineTicks() cpuTicks {
	var t cpuTicks
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return t
	}
	for i, v := range f[1:min(len(f), 9)] {
		n, _ := strconv.ParseInt(v, 10, 64)
		t.total += n
		switch i {
		case 3, 4: // idle, iowait
			t.idle += n
		case 7:
			t.steal += n
		}
	}
	return t
}

// shares says what share of the machine's cores' time between readings t and u they idled,
// and what share the hypervisor took for other guests: a round whose replay lost a tenth of
// the machine that way is slower for it, whatever the stack did.
func (t cpuTicks) shares(u cpuTicks) (idle, steal float64) {
	if u.total <= t.total {
		return 0, 0
	}
	all := float64(u.total - t.total)
	return float64(u.idle-t.idle) / all, float64(u.steal-t.steal) / all
}

// processCPU returns the CPU time (user and system) the process pid has used so far, as
// /proc/PID/stat says (fields 14 and 15), or 0 when it cannot be read (the process is gone).
func processCPU(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / cpuTicksPerSecond
}

func TestRatioText(t *testing.T) {
	atLeast1 := func(r float64) bool { return r >= 1 }
	atMost110 := func(r float64) bool { return r <= 1.10 }
	for _, c := range []struct {
		ratio float64
		ok    func(float64) bool
		want  string
	}{
		{0.998, atLeast1, "0.998"}, // two decimals would read 1.00 beside BELOW TARGET
		{0.994, atLeast1, "0.99"},
		{1.004, atLeast1, "1.00"},
		{1.0, atLeast1, "1.00"},
		{1.55, atLeast1, "1.55"},
		{1.104, atMost110, "1.104"}, // 1.10 would pass
		{1.096, atMost110, "1.10"},
	} {
		if got := ratioText(c.ratio, c.ok); got != c.want {
			t.Errorf("ratioText(%v) = %q, want %q", c.ratio, got, c.want)
		}
	}
}

func TestRatioUpperBound(t *testing.T) {
	for _, c := range []struct {
		ratios []float64
		want   float64 // the bound, to 3 decimals (worked out apart, with Python's statistics)
		slower bool
	}{
		// The second enricher (a standby, 0.00-0.01 s of CPU) in the nineteenth session's
		// make bench: a median of 0.92 that the rounds' spread does not tell from 1.
		{[]float64{0.85, 0.88, 0.92, 1.02, 1.08}, 1.042, false},
		// Slower in every round by 8-12%: measurably slower.
		{[]float64{0.88, 0.90, 0.91, 0.92, 0.89}, 0.915, true},
		// Slower by a quarter in four rounds of five, and a little faster in one: still slower.
		{[]float64{0.70, 0.72, 0.75, 0.80, 1.01}, 0.908, true},
		{[]float64{1.0, 1.0}, 1.000, false},
	} {
		got, ok := ratioUpperBound(c.ratios)
		if !ok || math.Abs(got-c.want) > 0.0006 || (got < 1) != c.slower {
			t.Errorf("ratioUpperBound(%v) = %.4f, %v; want %.3f (slower %v)", c.ratios, got, ok, c.want, c.slower)
		}
	}
	if _, ok := ratioUpperBound([]float64{0.9}); ok {
		t.Error("a bound from one round")
	}
}

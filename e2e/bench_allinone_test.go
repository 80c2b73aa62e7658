package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkReplay is issue 12's first figure: `rarenet replay` of the built binary, as a whole
// process, over a million-event history (28 days of the default fleet) written as ECS NDJSON
// and as raw auditd, against raw JetStream measured in the same run: natscli's own `nats bench
// js pub async` of single 256-byte messages to a file-storage stream of a standalone
// nats-server. events/s is the history's events over the process's wall time (start-up and
// shut-down included); the target is a ratio of 1.5 for each format.
//
//	make bench    (or: cd e2e && go test -run '^$' -bench 'BenchmarkReplay$' -benchtime 1x -v .)
func BenchmarkReplay(b *testing.B) {
	skipShort(b)
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	spec := largeSpec(env.days)
	ecs := writeBenchHistory(b, "ecs", spec)
	auditd := writeBenchHistory(b, "auditd", spec)
	url := startNATSServer(b, bin)
	wantECS, wantAuditd := onePerInjection(ecs), onePerInjection(auditd)

	for range b.N {
		rss := map[string]benchSample{}
		replayEPS := func(format string, h benchHistory, want *signalCount) measurement {
			return measurement{name: "replay " + format + " events/s", run: func() (float64, time.Duration) {
				r := replayAllInOne(b, bin, h, want)
				rss[format] = append(rss[format], float64(r.maxRSS))
				return float64(h.events) / r.wall.Seconds(), r.wall
			}}
		}
		s := interleave(b,
			measurement{name: "baseline msgs/s", run: func() (float64, time.Duration) {
				return natsBenchPub(b, bin, url, ecs.events)
			}},
			replayEPS("ecs", ecs, wantECS),
			replayEPS("auditd", auditd, wantAuditd),
		)
		base := s[0].median()
		b.Logf("baseline: nats bench js pub async --size 256 --storage file --msgs %d: %s msgs/s (%s)",
			ecs.events, thousands(base), s[0].spread())
		for i, format := range []string{"ecs", "auditd"} {
			eps := s[i+1].median()
			ratio := eps / base
			pass := func(r float64) bool { return r >= 1.5 }
			b.Logf("replay %s: %s events/s; baseline %s msgs/s; ratio %s (target 1.5: %s); %s; peak RSS %.0f MiB",
				format, thousands(eps), thousands(base), ratioText(ratio, pass), verdict(pass(ratio)), s[i+1].spread(), rss[format].median()/(1<<20))
			b.ReportMetric(eps, format+"-events/s")
			b.ReportMetric(ratio, format+"-x-jetstream")
			reportFigure(figureRow{figure: "1 all-in-one replay vs JetStream", format: format,
				measured: thousands(eps) + " events/s", baseline: thousands(base) + " msgs/s (nats bench js pub async)",
				ratio: ratioText(ratio, pass), target: ">= 1.50",
				notes: fmt.Sprintf("rarenet replay of %s events (%d days); replay %s; baseline %s", thousands(float64(ecs.events)), spec.Days, s[i+1].spread(), s[0].spread())},
				pass(ratio))
		}
		b.ReportMetric(base, "jetstream-msgs/s")
	}
}

// BenchmarkReplayMemory is issue 12's second figure: the peak resident set of `rarenet replay`
// (VmHWM, which it reports in --stats) over the default fleet's history of a quarter of the
// large history's days (7) and of all of them (28), as ECS NDJSON and as raw auditd. Targets: at
// most 512 MiB, and the larger input at most 1.10 times the smaller one's.
//
//	make bench    (or: cd e2e && go test -run '^$' -bench 'BenchmarkReplayMemory$' -benchtime 1x -v .)
func BenchmarkReplayMemory(b *testing.B) {
	skipShort(b)
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	formats := []string{"ecs", "auditd"}
	var small, large []benchHistory
	for _, format := range formats {
		small = append(small, writeBenchHistory(b, format, largeSpec(env.smallDays)))
		large = append(large, writeBenchHistory(b, format, largeSpec(env.days)))
	}

	for range b.N {
		peak := func(format string, h benchHistory) measurement {
			return measurement{name: format + " peak RSS MiB of " + strconv.Itoa(h.spec.Days) + " days", run: func() (float64, time.Duration) {
				r := replayAllInOne(b, bin, h, onePerInjection(h))
				return float64(r.maxRSS) / (1 << 20), r.wall
			}}
		}
		var ms []measurement
		for i, format := range formats {
			ms = append(ms, peak(format, small[i]), peak(format, large[i]))
		}
		s := interleave(b, ms...)
		const limit = 512
		for i, format := range formats {
			lo, hi := s[2*i].median(), s[2*i+1].median()
			sm, lg := small[i], large[i]
			ratio := hi / lo
			b.Logf("%s: peak RSS of rarenet replay: %.0f MiB for %d days (%s events; %s), %.0f MiB for %d days (%s events; %s)",
				format, lo, sm.spec.Days, thousands(float64(sm.events)), s[2*i].spread(), hi, lg.spec.Days, thousands(float64(lg.events)), s[2*i+1].spread())
			flat := func(r float64) bool { return r <= 1.10 }
			b.Logf("%s: peak RSS: largest %.0f MiB (target <= %d MiB: %s); %d days / %d days = %s (target <= 1.10: %s)",
				format, max(lo, hi), limit, verdict(max(lo, hi) <= limit), lg.spec.Days, sm.spec.Days, ratioText(ratio, flat), verdict(flat(ratio)))
			b.ReportMetric(lo, format+"-small-peak-RSS-MiB")
			b.ReportMetric(hi, format+"-large-peak-RSS-MiB")
			b.ReportMetric(ratio, format+"-large/small-RSS")
			reportFigure(figureRow{figure: "2 peak RSS, 4x the input", format: format,
				measured: fmt.Sprintf("%.0f MiB (%s events)", hi, thousands(float64(lg.events))),
				baseline: fmt.Sprintf("%.0f MiB (%s events)", lo, thousands(float64(sm.events))),
				ratio:    ratioText(ratio, flat), target: fmt.Sprintf("<= 1.10, <= %d MiB", limit),
				notes: fmt.Sprintf("peak RSS (VmHWM, from --stats) of rarenet replay over %d and %d days; %s; %s", sm.spec.Days, lg.spec.Days, s[2*i].spread(), s[2*i+1].spread())},
				flat(ratio) && max(lo, hi) <= limit)
		}
	}
}

// replayAllInOne runs `rarenet replay FILE` (embedded NATS, every stage in one process) and
// checks its signals.
func replayAllInOne(b *testing.B, bin string, h benchHistory, want *signalCount) processRun {
	b.Helper()
	dir := b.TempDir()
	out, stats := filepath.Join(dir, "signals.ndjson"), filepath.Join(dir, "stats.json")
	args := []string{"replay", "--out", out, "--stats", stats, h.path}
	r := runProcess(b, filepath.Join(bin, "rarenet"), args...)
	// The replay's own peak (VmHWM), not wait4's, which counts this process's memory too.
	if st := want.check(b, h, out, stats, "rarenet "+strings.Join(args, " ")); st.PeakRSS > 0 {
		r.maxRSS = st.PeakRSS
	}
	return r
}

// signalCount is how many signals every replay of a history must write: a fast pipeline that
// loses or doubles signals has measured nothing.
type signalCount struct {
	n   int
	why string
}

// onePerInjection expects what the default fleet's histories give: one signal per injection.
func onePerInjection(h benchHistory) *signalCount {
	return &signalCount{n: len(h.spec.Injections), why: "one per injected process"}
}

// sameAsFirst expects every replay to write as many signals as the first: for histories
// whose signals no test pins down.
func sameAsFirst() *signalCount { return &signalCount{n: -1} }

// check fails the benchmark unless the replay wrote the expected signals, by its --stats and
// its --out, and returns the --stats it read.
func (w *signalCount) check(b *testing.B, h benchHistory, out, stats, command string) replayStatsFile {
	b.Helper()
	st := readReplayStats(b, stats)
	signals := st.Signals
	lines := countLines(b, out)
	if w.n < 0 {
		w.n, w.why = lines, "as many as the first replay: "+command
	}
	if signals != int64(w.n) || lines != w.n {
		b.Fatalf("%s: %d signals (%d lines in --out), want %d (%s); history %+v", command, signals, lines, w.n, w.why, h.spec)
	}
	return st
}

// startNATSServer starts a standalone nats-server with JetStream on a file store, for the
// baseline, until the benchmark ends.
func startNATSServer(b *testing.B, bin string) string {
	b.Helper()
	port := freePort(b)
	start(b, filepath.Join(bin, "nats-server"), "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", b.TempDir())
	waitPort(b, port)
	return "nats://127.0.0.1:" + strconv.Itoa(port)
}

// natsBenchRate is natscli's result line: "... publisher stats: 59,486 msgs/sec ~ 14 MiB/sec ...".
var natsBenchRate = regexp.MustCompile(`([0-9][0-9,]*) msgs/sec`)

// natsBenchPub runs natscli's JetStream async publish benchmark of msgs single 256-byte
// messages to a file-storage stream (created, then purged before each run) and returns its
// msgs/sec.
func natsBenchPub(b *testing.B, bin, url string, msgs int) (float64, time.Duration) {
	b.Helper()
	r := runProcess(b, filepath.Join(bin, "nats"), "--no-context", "-s", url, "bench", "js", "pub", "async",
		"--size", "256", "--storage", "file", "--msgs", strconv.Itoa(msgs), "--create", "--purge", "--no-progress",
		"rarenet.bench.baseline")
	m := natsBenchRate.FindSubmatch(r.stdout)
	if m == nil {
		b.Fatalf("nats bench printed no msgs/sec:\n%s", r.stdout)
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(string(m[1]), ",", ""), 64)
	if err != nil {
		b.Fatalf("nats bench rate %q: %v", m[1], err)
	}
	return v, r.wall
}

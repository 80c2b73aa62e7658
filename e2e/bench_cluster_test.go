package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkReplayCluster is issue 12's third figure: the large history through the
// multi-process stack (a 3-node cluster of standalone nats-servers, R3 streams, two of every
// stage, `rarenet replay --driver-only`), against the all-in-one in the same run. events/s is
// the history's events over the driver's wall time (the stages are up before it starts).
// Target: the cluster at 0.33 of the all-in-one or more.
//
//	make bench    (or: cd e2e && go test -run '^$' -bench 'BenchmarkReplayCluster$' -benchtime 1x -v .)
func BenchmarkReplayCluster(b *testing.B) {
	skipShort(b)
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	h := writeBenchHistory(b, "ecs", largeSpec(env.days))
	two := stageCounts{2, 2, 2, 2}
	want := onePerInjection(h)

	for range b.N {
		s := interleave(b,
			measurement{name: "all-in-one events/s", run: func() (float64, time.Duration) {
				r := replayAllInOne(b, bin, h, want)
				return float64(h.events) / r.wall.Seconds(), r.wall
			}},
			measurement{name: "cluster " + two.String() + " events/s", run: func() (float64, time.Duration) {
				wall := replayCluster(b, bin, two, h, want)
				return float64(h.events) / wall.Seconds(), wall
			}},
		)
		one, cl := s[0].median(), s[1].median()
		ratio := cl / one
		b.Logf("replay all-in-one: %s events/s (%s)", thousands(one), s[0].spread())
		b.Logf("replay cluster (3 nodes, R3, %s): %s events/s (%s); ratio to the all-in-one %.2f (target 0.33: %s)",
			two, thousands(cl), s[1].spread(), ratio, verdict(ratio >= 0.33))
		b.ReportMetric(one, "all-in-one-events/s")
		b.ReportMetric(cl, "cluster-events/s")
		b.ReportMetric(ratio, "cluster/all-in-one")
	}
}

// BenchmarkReplayClusterReplicas replays the history through one of each stage, then through
// one of each with a second replica of one stage, for each stage: issue 12 asks that adding a
// replica never makes the cluster slower. It uses the smaller history (a quarter of the large
// one's days): the comparison is between five cluster runs, each of them slow.
//
//	make bench    (or: cd e2e && go test -run '^$' -bench 'BenchmarkReplayClusterReplicas$' -benchtime 1x -v .)
func BenchmarkReplayClusterReplicas(b *testing.B) {
	skipShort(b)
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	h := writeBenchHistory(b, "ecs", largeSpec(env.smallDays))
	configs := []stageCounts{{1, 1, 1, 1}, {2, 1, 1, 1}, {1, 2, 1, 1}, {1, 1, 2, 1}, {1, 1, 1, 2}}
	want := onePerInjection(h)

	for range b.N {
		var ms []measurement
		for _, c := range configs {
			ms = append(ms, measurement{name: "cluster " + c.String() + " events/s", run: func() (float64, time.Duration) {
				wall := replayCluster(b, bin, c, h, want)
				return float64(h.events) / wall.Seconds(), wall
			}})
		}
		s := interleave(b, ms...)
		base := s[0].median()
		b.Logf("cluster replay of %s events (%d days), 3 nodes, R3:", thousands(float64(h.events)), h.spec.Days)
		b.Logf("  %-40s %s events/s (%s)", configs[0].String(), thousands(base), s[0].spread())
		slower := 0
		for i, c := range configs[1:] {
			eps := s[i+1].median()
			ratio := eps / base
			note := ""
			if ratio < 1 {
				slower++
				note = "  SLOWER with a second " + stageNames[c.added()]
			}
			b.Logf("  %-40s %s events/s (%s); %.2f x one of each%s", c.String(), thousands(eps), s[i+1].spread(), ratio, note)
			b.ReportMetric(ratio, "x-with-2-"+stageNames[c.added()])
		}
		b.Logf("a second replica made the cluster slower for %d of 4 stages (target: none)", slower)
		b.ReportMetric(base, "one-of-each-events/s")
	}
}

// BenchmarkBucketCost measures the fixed cost of a bucket: a history of about one event per
// 15-minute bucket (one host, one regular process) replayed through the all-in-one and the
// cluster (two of every stage), where the wall time is nearly all per-bucket work: closing it
// in every partition, the model's update, the rule runs, barriers and KV writes. It reports
// milliseconds per bucket (the replay's wall time, start-up included, over the buckets).
//
//	make bench    (or: cd e2e && go test -run '^$' -bench 'BenchmarkBucketCost$' -benchtime 1x -v .)
func BenchmarkBucketCost(b *testing.B) {
	skipShort(b)
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	h := writeBenchHistory(b, "ecs", sparseSpec(env.sparseDays))
	two := stageCounts{2, 2, 2, 2}
	perBucket := func(wall time.Duration) float64 { return float64(wall.Microseconds()) / 1e3 / float64(h.buckets) }
	// Few events make few signals, and no test pins down which: every run must agree with
	// the first.
	want := sameAsFirst()

	for range b.N {
		s := interleave(b,
			measurement{name: "all-in-one ms/bucket", run: func() (float64, time.Duration) {
				r := replayAllInOne(b, bin, h, want)
				return perBucket(r.wall), r.wall
			}},
			measurement{name: "cluster " + two.String() + " ms/bucket", run: func() (float64, time.Duration) {
				wall := replayCluster(b, bin, two, h, want)
				return perBucket(wall), wall
			}},
		)
		b.Logf("per-bucket cost, %d buckets of %.1f events on average (%s events, %d days, 1 host):",
			h.buckets, float64(h.events)/float64(h.buckets), thousands(float64(h.events)), h.spec.Days)
		b.Logf("  all-in-one: %.2f ms/bucket (%s)", s[0].median(), s[0].spread())
		b.Logf("  cluster (3 nodes, R3, %s): %.2f ms/bucket (%s); %.1f x the all-in-one",
			two, s[1].median(), s[1].spread(), s[1].median()/s[0].median())
		b.ReportMetric(s[0].median(), "all-in-one-ms/bucket")
		b.ReportMetric(s[1].median(), "cluster-ms/bucket")
	}
}

// stageNames are the four stages, in the order of stageCounts.
var stageNames = [4]string{"ingest", "scorer", "enricher", "windower"}

// stageCounts is how many replicas of each stage (ingest, scorer, enricher, windower) run.
type stageCounts [4]int

func (c stageCounts) String() string {
	parts := make([]string, len(c))
	for i, n := range c {
		parts[i] = fmt.Sprintf("%d %s", n, stageNames[i])
	}
	return strings.Join(parts, ", ")
}

// added is the stage of a one-of-each-plus-one configuration with two replicas.
func (c stageCounts) added() int {
	return max(slices.Index(c[:], 2), 0)
}

// stack is a 3-node cluster with stage processes against it.
type stack struct {
	c      *cluster
	stages []*proc
	// httpURLs are the ingest replicas' HTTP inputs (live stacks only).
	httpURLs []string
}

// startStack starts a 3-node cluster and counts[i] replicas of each stage with R3 streams and 8
// partitions. A replay stack closes buckets and runs the rule on event time (--clock
// watermark, as `rarenet replay --driver-only` needs); a live one on the wall clock, with an
// HTTP input on every ingest. It returns once every stage is up: the first replica of each has
// started (the windower holds the rule's lease), and so has every further one (a second scorer
// has taken its share of the partitions).
func startStack(b *testing.B, bin string, counts stageCounts, live bool) *stack {
	b.Helper()
	s := &stack{c: startCluster(b, bin, 3)}
	common := []string{"--nats-url", s.c.url(), "--partitions", "8", "--replicas", "3", "--http-addr", ""}
	args := func(stage int) []string {
		a := slices.Clone(common)
		switch {
		case stage == 0 && live:
			port := freePort(b)
			s.httpURLs = append(s.httpURLs, "http://127.0.0.1:"+strconv.Itoa(port))
			a = append(a, "--http-listen", "127.0.0.1:"+strconv.Itoa(port))
		case (stage == 1 || stage == 3) && !live:
			a = append(a, "--clock", "watermark")
		}
		return a
	}
	ready := [4]string{"msg=started", "msg=started", "msg=started", "msg=active"}
	for i, n := range counts {
		if n == 0 {
			b.Fatalf("no %s in %s", stageNames[i], counts)
		}
		p := start(b, filepath.Join(bin, stageNames[i]), args(i)...)
		waitOutput(b, p, ready[i])
		s.stages = append(s.stages, p)
	}
	for i, n := range counts {
		for range n - 1 {
			p := start(b, filepath.Join(bin, stageNames[i]), args(i)...)
			s.stages = append(s.stages, p)
			switch stageNames[i] {
			case "windower":
				// A second windower stands by for the lease and says nothing: wait until it
				// is connected rather than for a message.
				time.Sleep(time.Second)
			case "scorer":
				waitOutput(b, p, "msg=started")
				// The partitions are shared out by leases: a second scorer that has taken
				// none would measure one scorer.
				deadline := time.Now().Add(30 * time.Second)
				for !strings.Contains(p.out.String(), "msg=taken") && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
				if !strings.Contains(p.out.String(), "msg=taken") {
					b.Logf("the second scorer took no partition within 30s: it may take them during the run")
				}
			default:
				waitOutput(b, p, "msg=started")
			}
		}
	}
	for _, u := range s.httpURLs {
		port, _ := strconv.Atoi(u[strings.LastIndexByte(u, ':')+1:])
		waitPort(b, port)
	}
	return s
}

// close stops the stages, then the NATS nodes, each process sent SIGTERM at once so that a
// benchmark of several stacks does not wait for them one by one.
func (s *stack) close() {
	stopAll := func(ps []*proc) {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(p.stop)
		}
		wg.Wait()
	}
	stopAll(s.stages)
	stopAll(s.c.nodes)
}

// replayCluster starts a stack of counts, replays h through it with `rarenet replay
// --driver-only`, checks the signals, stops the stack and returns the driver's wall time.
func replayCluster(b *testing.B, bin string, counts stageCounts, h benchHistory, want *signalCount) time.Duration {
	b.Helper()
	s := startStack(b, bin, counts, false)
	defer s.close()
	dir := b.TempDir()
	out, stats := filepath.Join(dir, "signals.ndjson"), filepath.Join(dir, "stats.json")
	args := []string{"replay", "--nats-url", s.c.url(), "--partitions", "8", "--replicas", "3", "--driver-only",
		"--timeout", "30m", "--out", out, "--stats", stats, h.path}
	r := runProcess(b, filepath.Join(bin, "rarenet"), args...)
	want.check(b, h, out, stats, fmt.Sprintf("with %s on a 3-node cluster: rarenet %s", counts, strings.Join(args, " ")))
	return r.wall
}

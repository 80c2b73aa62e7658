package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkReplayClusterAgainst is an A/B of two builds: the million-event cluster replay of
// figure 3 with the binaries of this tree and with those of another revision (BENCH_AGAINST, a
// git revision of this repository), taking turns round after round, for each stack of
// BENCH_AGAINST_STACKS (default "2,2,2,2"; ";"-separated, each the replicas of ingest, scorer,
// enricher and windower). It reports, per stack, the median over the rounds of this tree's
// events/s over the other build's in the same round. A change whose effect is a few per cent
// cannot be seen in figures measured minutes apart on a shared machine; this is how to see it
// before keeping it. The nats-server is the same for both. It is skipped without
// BENCH_AGAINST: make bench does not run it.
//
//	cd e2e && BENCH_AGAINST=HEAD~1 BENCH_AGAINST_STACKS='1,1,1,1;1,2,1,1' go test -run '^$' -bench 'BenchmarkReplayClusterAgainst$' -benchtime 1x -v .
func BenchmarkReplayClusterAgainst(b *testing.B) {
	skipShort(b)
	rev := os.Getenv("BENCH_AGAINST")
	if rev == "" {
		b.Skip("BENCH_AGAINST names no git revision to compare this tree's binaries with")
	}
	stacks := []stageCounts{{2, 2, 2, 2}}
	if v := os.Getenv("BENCH_AGAINST_STACKS"); v != "" {
		var err error
		if stacks, err = parseStacks(v); err != nil {
			b.Fatalf("BENCH_AGAINST_STACKS=%q: %v", v, err)
		}
	}
	env := loadBenchEnv(b)
	bin := benchBinaries(b)
	other := binariesAt(b, rev, bin)
	h := writeBenchHistory(b, "ecs", largeSpec(env.days))
	want := onePerInjection(h)

	for range b.N {
		for _, c := range stacks {
			ms := []measurement{
				{name: "this tree, " + c.String(), run: func() (float64, time.Duration) {
					wall := replayCluster(b, bin, c, h, want)
					return float64(h.events) / wall.Seconds(), wall
				}},
				{name: rev + ", " + c.String(), run: func() (float64, time.Duration) {
					wall := replayCluster(b, other, c, h, want)
					return float64(h.events) / wall.Seconds(), wall
				}},
			}
			s := interleaveRounds(b, scaleOutRounds, ms...)
			paired := pairedRatios(s[0], s[1])
			b.Logf("cluster replay of %s events (%d days), %s: this tree %s events/s (%s), %s %s events/s (%s); this tree / %s: %.3f (median of %s; ratio of the medians %.3f)",
				thousands(float64(h.events)), h.spec.Days, c, thousands(s[0].median()), s[0].spread(),
				rev, thousands(s[1].median()), s[1].spread(), rev, paired.median(), paired.ratioSpread(), s[0].median()/s[1].median())
		}
	}
}

// parseStacks reads "1,2,1,1;2,2,2,2": stacks of replicas of ingest, scorer, enricher and
// windower, each at least one.
func parseStacks(v string) ([]stageCounts, error) {
	var out []stageCounts
	for _, part := range strings.Split(v, ";") {
		f := strings.Split(strings.TrimSpace(part), ",")
		if len(f) != len(stageNames) {
			return nil, fmt.Errorf("stack %q: want %d counts (%s), comma-separated", part, len(stageNames), strings.Join(stageNames[:], ", "))
		}
		var c stageCounts
		for i, s := range f {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("stack %q: %s count %q: want a whole number, at least 1", part, stageNames[i], s)
			}
			c[i] = n
		}
		out = append(out, c)
	}
	return out, nil
}

// binariesAt builds the commands of revision rev of this repository (a detached git worktree
// in a temporary directory) and returns their directory, which also holds links to the tools
// of tools (the nats-server and natscli of this tree's benchmarks), so the two builds differ
// only in rarenet's code.
func binariesAt(b *testing.B, rev, tools string) string {
	b.Helper()
	root := repoRoot(b)
	tree, dir := b.TempDir(), b.TempDir()
	wt := filepath.Join(tree, "src")
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("worktree", "add", "--detach", wt, rev)
	b.Cleanup(func() { git("worktree", "remove", "--force", wt) })
	if err := buildCommands(wt, dir); err != nil {
		b.Fatalf("BENCH_AGAINST=%s: %v", rev, err)
	}
	for _, tool := range []string{"nats-server", "nats"} {
		if err := os.Symlink(filepath.Join(tools, tool), filepath.Join(dir, tool)); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

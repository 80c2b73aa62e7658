package e2e

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rarenet/rarenet/e2e/history"
)

// TestScorerSurvivesSIGKILL kills the scorer with SIGKILL at random points of a replay and
// restarts it each time; the signals must be exactly those of an uninterrupted run: the
// checkpoints and the acknowledgement discipline lose nothing and count nothing twice.
//
// The kill points come from a seed logged at the start; to hunt for a rare failure, run it
// repeatedly: go test -run TestScorerSurvivesSIGKILL -count=10 ./e2e/
func TestScorerSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and kills processes; skipped with -short")
	}
	bin := binaries(t)
	spec := history.Default()
	file := writeHistory(t, "ecs", spec)
	want, _ := replay(t, defaultOptions(8), "ecs", file)
	checkInjectedSignals(t, spec, want)

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	start(t, filepath.Join(bin, "nats-server"), "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", t.TempDir())
	waitPort(t, port)
	common := []string{"--nats-url", url, "--partitions", "8"}
	start(t, filepath.Join(bin, "ingest"), common...)
	start(t, filepath.Join(bin, "enricher"), common...)
	start(t, filepath.Join(bin, "windower"), append(common, "--clock", "watermark")...)
	scorerArgs := append(common, "--clock", "watermark")
	scorer := start(t, filepath.Join(bin, "scorer"), scorerArgs...)

	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	out := filepath.Join(t.TempDir(), "signals.ndjson")
	go func() {
		_, err := runErr(filepath.Join(bin, "rarenet"), "replay", "--nats-url", url, "--partitions", "8", "--driver-only",
			"--timeout", "5m", "--out", out, file)
		b, _ := os.ReadFile(out)
		done <- result{b, err}
	}()
	kills := 0
	var res *result
	for res == nil {
		select {
		case r := <-done:
			res = &r
		case <-time.After(time.Duration(200+rng.IntN(1200)) * time.Millisecond):
			if kills == 4 {
				r := <-done
				res = &r
				break
			}
			if err := scorer.cmd.Process.Kill(); err != nil {
				t.Fatalf("SIGKILL scorer: %v", err)
			}
			<-scorer.done
			kills++
			scorer = start(t, filepath.Join(bin, "scorer"), scorerArgs...)
		}
	}
	if res.err != nil {
		t.Fatalf("replay after %d kills: %v", kills, res.err)
	}
	got := res.out
	t.Logf("scorer killed %d times", kills)
	if kills == 0 {
		t.Fatal("the replay ended before the first kill: the test proved nothing")
	}
	if a, b := canonical(t, want), canonical(t, decodeSignals(t, got)); !slices.Equal(a, b) {
		t.Fatalf("signals after %d kills differ from an uninterrupted run:\nwant %v\ngot  %v", kills, a, b)
	}
}

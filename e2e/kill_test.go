package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/e2e/history"
)

// TestScorerSurvivesSIGKILL kills the scorer with SIGKILL at random points of a replay and
// restarts it each time; the signals must be exactly those of an uninterrupted run: the
// checkpoints and the acknowledgement discipline lose nothing and count nothing twice.
//
// The kill points (rule runs) come from a seed logged at the start; to hunt for a rare
// failure, run it repeatedly: go test -run TestScorerSurvivesSIGKILL -count=10 ./e2e/
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

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// The kills are placed by rule runs, not by time: the whole replay takes about a second on a
	// fast machine, and a kill timed in wall-clock milliseconds came after its end (CI, 6
	// December). The history has 288 fifteen-minute intervals, each a rule run; one kill falls
	// at random in each quarter of the first 240, so the first comes while most of the input
	// is still ahead of the scorer.
	var plan []action
	midInput := 0 // kills of a scorer that had not yet seen the end of input
	for q := range 4 {
		at := int64(60*q + 5 + rng.IntN(55))
		plan = append(plan, action{at, func() string {
			seenEnd := strings.Contains(scorer.out.String(), "end of input")
			if !seenEnd {
				midInput++
			}
			kill(t, scorer)
			scorer = start(t, filepath.Join(bin, "scorer"), scorerArgs...)
			return fmt.Sprintf("SIGKILL the scorer (it had seen the end of input: %v)", seenEnd)
		}})
	}
	out := filepath.Join(t.TempDir(), "signals.ndjson")
	kills, err := runPlan(t, nc, plan, func() error {
		_, err := runErr(filepath.Join(bin, "rarenet"), "replay", "--nats-url", url, "--partitions", "8", "--driver-only",
			"--timeout", "5m", "--out", out, file)
		return err
	})
	if err != nil {
		t.Fatalf("replay after %d kills: %v", kills, err)
	}
	t.Logf("scorer killed %d times, %d of them before it saw the end of input", kills, midInput)
	if midInput == 0 {
		t.Fatal("no kill came before the scorer saw the end of input: the test proved nothing")
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := canonical(t, want), canonical(t, decodeSignals(t, got)); !slices.Equal(a, b) {
		t.Fatalf("signals after %d kills differ from an uninterrupted run:\nwant %v\ngot  %v", kills, a, b)
	}
}

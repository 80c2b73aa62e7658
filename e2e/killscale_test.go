package e2e

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/e2e/history"
)

// KillScaleEnv switches TestReplicasSurviveKillsAtScale on: RARENET_KILL_SCALE=20 gives 20
// SIGKILLs per stage. It is not run by default (CI runs TestReplicasSurviveKills' five).
const KillScaleEnv = "RARENET_KILL_SCALE"

// TestReplicasSurviveKillsAtScale replays a history through two replicas of every stage on a
// 3-node cluster while it SIGKILLs a random replica of each stage N times (each replaced at
// once by a new process with the same flags), and loses one NATS node and restarts it on its
// own store. The signals must be exactly those of the all-in-one. The seed is logged; set
// RARENET_KILL_SEED to repeat a run's choices.
func TestReplicasSurviveKillsAtScale(t *testing.T) {
	perStage, _ := strconv.Atoi(os.Getenv(KillScaleEnv))
	if perStage < 1 {
		t.Skip("set " + KillScaleEnv + "=20 to run it: 20 SIGKILLs per stage and a NATS node lost and restarted during one replay (minutes)")
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("RARENET_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("%s=%d RARENET_KILL_SEED=%d", KillScaleEnv, perStage, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	bin := binaries(t)
	spec := history.Default()
	// Four days, not the default three: the plan's actions take time of their own (a process
	// started, a node stopped), and rule runs count up meanwhile; with the kills spread over
	// runs 10 to 250 of 288, a pipeline that recovered from them quickly now and then ended
	// the replay before the plan (61 of 82 actions done, in one run of six).
	spec.Days = 4
	file := writeHistory(t, "ecs", spec)
	want, _ := replay(t, defaultOptions(8), "ecs", file)
	checkInjectedSignals(t, spec, want)

	c := startCluster(t, bin, 3)
	common := []string{"--nats-url", c.url(), "--partitions", "8", "--replicas", "3", "--http-addr", ""}
	args := map[string][]string{
		"ingest":   append(slices.Clone(common), "--ack-wait", "3s"),
		"scorer":   append(slices.Clone(common), "--clock", "watermark", "--lease-ttl", "1s"),
		"enricher": append(slices.Clone(common), "--ack-wait", "3s", "--lease-ttl", "1s"),
		"windower": append(slices.Clone(common), "--clock", "watermark", "--lease-ttl", "1s"),
	}
	stages := []string{"ingest", "scorer", "enricher", "windower"}
	procs := map[string][]*proc{}
	for _, name := range stages {
		first := start(t, filepath.Join(bin, name), args[name]...)
		ready := "started"
		if name == "windower" {
			ready = "msg=active"
		}
		waitOutput(t, first, ready)
		procs[name] = []*proc{first, start(t, filepath.Join(bin, name), args[name]...)}
	}

	nc, err := nats.Connect(c.urls[0]) // node 1: the plan stops and restarts node 3
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// The history has 384 rule runs: the kills are spread over runs 10 to 250, a stage at a
	// time in turn, the NATS node lost at run 40 and back at run 100.
	var plan []action
	total := perStage * len(stages)
	for i := range total {
		name := stages[i%len(stages)]
		plan = append(plan, action{int64(10 + i*240/total), func() string {
			k := rng.IntN(2)
			kill(t, procs[name][k])
			procs[name][k] = start(t, filepath.Join(bin, name), args[name]...)
			return "SIGKILL " + name + " replica " + strconv.Itoa(k) + ", replaced"
		}})
	}
	node := c.nodes[2]
	plan = append(plan, action{40, func() string { kill(t, node); return "SIGKILL NATS node 3" }},
		action{100, func() string {
			c.nodes[2] = start(t, node.cmd.Path, node.cmd.Args[1:]...)
			return "NATS node 3 restarted on its store"
		}})

	out := filepath.Join(t.TempDir(), "signals.ndjson")
	next, err := runPlan(t, nc, plan, func() error {
		_, err := runErr(filepath.Join(bin, "rarenet"), "replay", "--nats-url", c.url(), "--partitions", "8",
			"--replicas", "3", "--driver-only", "--timeout", "10m", "--out", out, file)
		return err
	})
	if err != nil {
		dumpJetStream(t, nc)
		t.Fatalf("replay with %d of %d actions done: %v", next, len(plan), err)
	}
	if next < len(plan) {
		t.Fatalf("the replay ended after %d of %d actions: the test proved less than it claims", next, len(plan))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeSignals(t, b)
	if a, b := canonical(t, want), canonical(t, got); !slices.Equal(a, b) {
		t.Fatalf("signals with %d kills per stage differ from the all-in-one: %s", perStage, signalDiff(want, got))
	}
	t.Logf("%d kills per stage and a NATS node lost and restarted: the %d signals of the all-in-one", perStage, len(want))
}

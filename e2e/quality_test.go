package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/rarenet/rarenet/e2e/quality"
	"github.com/rarenet/rarenet/e2e/quality/sim"
)

// TestQualityTargets holds the detectors to issue 15's targets on one small fleet of the
// default scenario, with schedules as they really run (timers with random delays, cron at
// per-host minutes, anacron, boot-relative timers, reboots) and a short history (two days
// of warm-up): the faithful profile catches every never-seen tool, never signals a
// loopback-only process and cannot see a common process's new destination; the enhanced
// profile raises the same never-seen-tool signals, catches at least two thirds of the
// reused names and of the new destinations, and cuts the benign signals of schedules and
// rollouts by at least 60%. docs/quality.md has the full tables over several seeds and
// scenarios (make quality).
func TestQualityTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a simulated fleet twice; skipped with -short")
	}
	spec := sim.DefaultSpec(7)
	spec.Hosts, spec.Days, spec.Warmup, spec.Attacks = 12, 14, 48*time.Hour, 4
	f := sim.Simulate(spec)
	shapes := map[string]bool{}
	kinds := map[string]bool{}
	for _, l := range f.Labels {
		switch l.Class {
		case sim.ClassSchedule:
			shapes[l.Kind] = true
		case sim.ClassReusedName:
			kinds[l.Kind] = true
		}
	}
	if len(shapes) < 2 || len(kinds) != 2 {
		t.Fatalf("the fleet has schedules %v and reused names %v: want two kinds of schedule or more and both kinds of reused name", shapes, kinds)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	faithful, err := quality.Run(ctx, f, quality.Faithful)
	if err != nil {
		t.Fatal(err)
	}
	enhanced, err := quality.Run(ctx, f, quality.Enhanced)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("faithful:\n%s", faithful.String())
	t.Logf("enhanced:\n%s", enhanced.String())
	if r := faithful.Recall(sim.ClassNeverSeenTool); r != 1 {
		t.Errorf("faithful never-seen-tool recall %.2f, want 1", r)
	}
	if r := enhanced.Recall(sim.ClassNeverSeenTool); r != 1 {
		t.Errorf("enhanced never-seen-tool recall %.2f, want 1", r)
	}
	for _, rep := range []struct {
		name string
		n    int
	}{{"faithful", faithful.FalseBy[sim.ClassLoopback]}, {"enhanced", enhanced.FalseBy[sim.ClassLoopback]}} {
		if rep.n != 0 {
			t.Errorf("%s signalled the loopback-only process %d times", rep.name, rep.n)
		}
	}
	fj := faithful.FalseBy[sim.ClassSchedule] + faithful.FalseBy[sim.ClassRollout]
	ej := enhanced.FalseBy[sim.ClassSchedule] + enhanced.FalseBy[sim.ClassRollout]
	if fj == 0 {
		t.Fatal("the faithful profile raised no benign signal of schedules or rollouts: the reduction would prove nothing")
	}
	if cut := 1 - float64(ej)/float64(fj); cut < 0.6 {
		t.Errorf("enhanced cuts the benign signals of schedules and rollouts by %.0f%% (%d -> %d), want at least 60%%", 100*cut, fj, ej)
	}
	if r := enhanced.Recall(sim.ClassReusedName); r < 2.0/3 {
		t.Errorf("enhanced reused-name recall %.2f, want at least 2/3", r)
	}
	if r := enhanced.Recall(sim.ClassNewDestination); r < 2.0/3 {
		t.Errorf("enhanced new-destination recall %.2f, want at least 2/3", r)
	}
	if r := faithful.Recall(sim.ClassNewDestination); r != 0 {
		t.Errorf("faithful new-destination recall %.2f: the reference cannot see a common process's new destination", r)
	}
}

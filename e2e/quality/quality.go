// Package quality runs the detection-quality harness: simulated fleets with ground truth,
// drawn from scenario files, replayed through the all-in-one pipeline in each profile, and
// the naive new-terms baseline, all measured by the same evaluation.
package quality

import (
	"bytes"
	"context"
	"time"

	"github.com/rarenet/rarenet/e2e/quality/evaluate"
	"github.com/rarenet/rarenet/e2e/quality/sim"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/shared/stream"
)

// Detectors measured, in table order. The "only" ones are the faithful profile with one of
// the enhanced profile's improvements, so each is measured on its own.
const (
	Faithful     = "faithful"
	Enhanced     = "enhanced"
	HostOnly     = "faithful + rare-on-host"
	ScheduleOnly = "faithful + schedule-aware"
	RolloutOnly  = "faithful + rollout-aware"
	DestOnly     = "faithful + new-destination"
	NewTerms     = "new-terms"
)

// The new-destination detector under the granularities it was chosen against
// (docs/quality.md), each alone on the faithful profile; DestOnly is the default one.
const (
	DestByIP      = "faithful + new-destination by exact address"
	DestByNet     = "faithful + new-destination by /24 and port"
	DestByService = "faithful + new-destination by port and internal/external"
)

// Options is the all-in-one pipeline of `rarenet replay`, in a profile.
func Options(profile string) rarenet.Options {
	var flags []string
	if profile == Faithful || profile == Enhanced {
		flags = []string{"--profile", profile}
	}
	o, err := rarenet.NewOptions(flags...)
	if err != nil {
		panic(err) // the flags above are the pipeline's
	}
	o.Streams = stream.Config{Partitions: 8, Replicas: 1, Memory: true}
	switch profile {
	case HostOnly:
		o.Scorer.Job.HostRarity = true
	case ScheduleOnly:
		o.Enricher.ScheduleAware = true
	case RolloutOnly:
		o.Enricher.RolloutAware = true
	case DestOnly, DestByIP, DestByNet, DestByService:
		o.Scorer.Job.NewDestinations = true
		o.Scorer.Job.DestinationKey = map[string]string{DestOnly: scorer.DestKeyDefault, DestByIP: scorer.DestKeyIP,
			DestByNet: scorer.DestKeyNet, DestByService: scorer.DestKeyService}[profile]
	}
	return o
}

// Run measures one detector on one fleet.
func Run(ctx context.Context, f *sim.Fleet, detector string) (evaluate.Report, error) {
	if detector == NewTerms {
		return evaluate.Evaluate(f.Labels, evaluate.NewTerms(f.Events, 24*time.Hour), f.HostDays()), nil
	}
	var in, out bytes.Buffer
	if err := sim.WriteECS(&in, f.Events); err != nil {
		return evaluate.Report{}, err
	}
	_, err := rarenet.Replay(ctx, rarenet.ReplayOptions{Pipeline: Options(detector), Files: []string{"-"}, Format: "ecs",
		Stdin: &in, Out: &out})
	if err != nil {
		return evaluate.Report{}, err
	}
	signals, err := evaluate.ReadSignals(&out)
	if err != nil {
		return evaluate.Report{}, err
	}
	return evaluate.Evaluate(f.Labels, signals, f.HostDays()), nil
}

package rarenet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/services/ingest"
	"github.com/rarenet/rarenet/services/scorer"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/stream"
)

// ErrAttached is returned when a pipeline that must run alone (a replay's) would start its
// stages on a server where another pipeline's stages are reading: they would share its
// durable consumers, the live scorer would take half the replay's partitions, and the replay
// would feed history into the live model.
var ErrAttached = errors.New("a pipeline is already running on this server")

// stageConsumer is a durable consumer a stage reads.
type stageConsumer struct{ stage, stream, durable string }

func stageConsumers(partitions int) []stageConsumer {
	cs := []stageConsumer{
		{ingest.Stage, stream.Raw, stream.IngestConsumer},
		{scorer.Stage, stream.Buckets, stream.ModelConsumer},
		{enricher.Stage, stream.Anomalies, stream.EnricherConsumer},
		{windower.Stage, stream.Enriched, stream.WindowerConsumer},
	}
	for p := range partitions {
		cs = append(cs, stageConsumer{scorer.Stage, stream.Events, stream.ScorerPartitionConsumer(p)})
	}
	return cs
}

// attachedStages returns the stages some process reads now: a durable consumer of theirs has
// pull requests waiting (a stage keeps one open while it runs; a stopped stage's expire within
// 30 seconds).
func attachedStages(ctx context.Context, js jetstream.JetStream, partitions int) ([]string, error) {
	var stages []string
	for _, c := range stageConsumers(partitions) {
		if slices.Contains(stages, c.stage) {
			continue
		}
		cons, err := js.Consumer(ctx, c.stream, c.durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("consumer %s of %s: %w", c.durable, c.stream, err)
		}
		if cons.CachedInfo().NumWaiting > 0 {
			stages = append(stages, c.stage)
		}
	}
	return stages, nil
}

// refuseAttached returns ErrAttached, naming the stages, when another pipeline runs on the
// server.
func refuseAttached(ctx context.Context, js jetstream.JetStream, partitions int, url string) error {
	stages, err := attachedStages(ctx, js, partitions)
	if err != nil {
		return err
	}
	if len(stages) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s read %s (a rarenet run, or stage binaries): a replay there would share their consumers and feed history into the live model; "+
		"replay without --nats-url (an embedded server of its own), against another server, or drive those stages with --driver-only "+
		"(they need --clock watermark); a pipeline stopped in the last 30 s still counts",
		ErrAttached, strings.Join(stages, ", "), url)
}

// noteUnattached tells a driver-only replay's user when no stage reads the server yet: the
// replay would wait for them.
func noteUnattached(ctx context.Context, js jetstream.JetStream, partitions int, w io.Writer) {
	if w == nil {
		return
	}
	stages, err := attachedStages(ctx, js, partitions)
	if err != nil || len(stages) == 4 {
		return
	}
	var missing []string
	for _, s := range []string{ingest.Stage, scorer.Stage, enricher.Stage, windower.Stage} {
		if !slices.Contains(stages, s) {
			missing = append(missing, s)
		}
	}
	fmt.Fprintf(w, "note: no %s reads this server yet: the replay waits for them (start the stage binaries; the scorer and windower with --clock watermark)\n",
		strings.Join(missing, ", "))
}

package enricher

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/stream"
)

// historyMaxAge is how long a history entry lives without being updated: a little over a
// year, so quarterly schedules are still recognised after a missed run.
const historyMaxAge = 400 * 24 * time.Hour

// historyMaxValueSize bounds one entry; the enricher keeps entries far below it (history.go).
const historyMaxValueSize = 1 << 20

// ensureHistory creates the history bucket (stream.HistoryBucket) with the storage and
// replication c gives, and has its reads answered by the leader (stream.ReadFromLeader).
// An existing bucket is left as it is: updating it would turn direct gets on again under
// replicas already reading it.
func ensureHistory(ctx context.Context, js jetstream.JetStream, c stream.Config) error {
	if _, err := js.Stream(ctx, "KV_"+stream.HistoryBucket); err != nil {
		err := stream.EnsureKeyValue(ctx, js, c, jetstream.KeyValueConfig{
			Bucket:       stream.HistoryBucket,
			Description:  "history of execution per process.name, kept by the enricher",
			TTL:          historyMaxAge,
			MaxValueSize: historyMaxValueSize,
		})
		if err != nil {
			return err
		}
	}
	return stream.ReadFromLeader(ctx, js, stream.HistoryBucket)
}

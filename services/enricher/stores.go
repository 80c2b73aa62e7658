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
// replication c gives, read from its stream's leader (stream.EnsureLeaderKeyValue).
func ensureHistory(ctx context.Context, js jetstream.JetStream, c stream.Config) error {
	return stream.EnsureLeaderKeyValue(ctx, js, c, jetstream.KeyValueConfig{
		Bucket:       stream.HistoryBucket,
		Description:  "history of execution per process.name, kept by the enricher",
		TTL:          historyMaxAge,
		MaxValueSize: historyMaxValueSize,
	})
}

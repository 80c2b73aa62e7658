package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// IngestBucket is the key-value bucket in which ingest replicas share what the end of a replay
// must report for all of them: replay.<replay>.<replica> holds the latest event time and the
// counters of one replica over the raw messages of one replay (those carrying the replay's id
// in the header Rarenet-Replay). The replica that receives the end-of-input marker combines
// them.
const IngestBucket = "rarenet_ingest"

// IngestMaxAge is how long an entry lives without being updated: replicas rewrite theirs at
// every commit while a replay runs, so only finished replays are forgotten.
const IngestMaxAge = 24 * time.Hour

// EnsureIngest creates or updates ingest's bucket with the storage and replication of the
// pipeline's streams.
func EnsureIngest(ctx context.Context, js jetstream.JetStream, c Config) error {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	err := retryRace(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      IngestBucket,
			Description: "per replay and ingest replica: latest event time and counters, for the end of the replay",
			TTL:         IngestMaxAge,
			Storage:     storage,
			Replicas:    max(c.Replicas, 1),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("stream: create key-value bucket %s: %w", IngestBucket, err)
	}
	return nil
}

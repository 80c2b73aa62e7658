package scorer

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/stream"
)

// ensureStores creates the scorer's bucket (stream.ScorerBucket: close marks, leases,
// members, the jobs' announcement) and the model's object store (stream.ModelStore) with the
// storage and replication of the EVENTS stream, both read from their streams' leaders: a
// replica taking a partition or the model over must read the last state its predecessor
// wrote, not a lagging replica's (stream.EnsureLeaderKeyValue).
func ensureStores(ctx context.Context, js jetstream.JetStream) error {
	c, err := stream.ConfigOf(ctx, js, stream.Events)
	if err != nil {
		return fmt.Errorf("scorer: %w", err)
	}
	err = stream.EnsureLeaderKeyValue(ctx, js, c, jetstream.KeyValueConfig{
		Bucket:      stream.ScorerBucket,
		Description: "how far each partition's aggregator is closed",
	})
	if err == nil {
		err = stream.EnsureLeaderObjectStore(ctx, js, c, jetstream.ObjectStoreConfig{
			Bucket:      stream.ModelStore,
			Description: "the scorer's model checkpoint",
		})
	}
	if err != nil {
		return fmt.Errorf("scorer: %w", err)
	}
	return nil
}

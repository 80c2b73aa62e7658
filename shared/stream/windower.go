package stream

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// WindowerBucket is the key-value bucket of the windower's own state, keyed by rule:
// lease.<rule> (which windower is active), lastrun.<rule> (the last completed rule run, for
// catching up after downtime), pending.<rule>.<record> (records waiting for their runs) and
// suppress.<rule>.<group> (per-host alert suppression). Windower replicas share it.
const WindowerBucket = "rarenet_windower"

// ExceptionsBucket is the key-value bucket of rule exceptions, keyed <rule>.<exception id>,
// managed with `rarenet exceptions` and read live by the windower.
const ExceptionsBucket = "rarenet_exceptions"

// EnsureWindower creates or updates the windower's state and exceptions buckets with the
// storage and replication of the pipeline's streams.
func EnsureWindower(ctx context.Context, js jetstream.JetStream, c Config) error {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	for _, b := range []struct{ name, desc string }{
		{WindowerBucket, "the windower's lease, last run, pending records and suppression, per rule"},
		{ExceptionsBucket, "rule exceptions, per rule"},
	} {
		err := retryRace(ctx, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket:      b.name,
				Description: b.desc,
				Storage:     storage,
				Replicas:    max(c.Replicas, 1),
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("stream: create key-value bucket %s: %w", b.name, err)
		}
	}
	return nil
}

package windower

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/stream"
)

// emittedTTL is the TTL of the emitted ids' bucket the configuration asks for.
func (c *Config) emittedTTL() time.Duration {
	if c.EmittedTTL == 0 {
		return DefaultEmittedTTL
	}
	return c.EmittedTTL
}

// ensureStores creates the windower's buckets with the storage and replication of the
// pipeline's streams (those of ENRICHED): the emitted ids' (stream.EmittedBucket, updated to
// ttl when it exists), and its state's and the exceptions' when missing (`rarenet
// exceptions` may have created them first; they are then used as they are). The state
// (the rule's lease, last run, pending records) is read from its stream's leader: a windower
// taking the rule over must start from what its predecessor last wrote
// (stream.EnsureLeaderKeyValue).
func ensureStores(ctx context.Context, js jetstream.JetStream, ttl time.Duration) error {
	c, err := stream.ConfigOf(ctx, js, stream.Enriched)
	if err != nil {
		return fmt.Errorf("windower: %w", err)
	}
	err = stream.EnsureKeyValue(ctx, js, c, jetstream.KeyValueConfig{
		Bucket:      stream.EmittedBucket,
		Description: "signal ids already published by the windower",
		TTL:         ttl,
	})
	if err != nil {
		return fmt.Errorf("windower: %w", err)
	}
	return ensureStateBuckets(ctx, js, c)
}

// ensureStateBuckets creates the windower's state and exceptions buckets when missing; the
// state is read from its stream's leader.
func ensureStateBuckets(ctx context.Context, js jetstream.JetStream, c stream.Config) error {
	err := stream.EnsureLeaderKeyValue(ctx, js, c, jetstream.KeyValueConfig{
		Bucket: stream.WindowerBucket, Description: "the windower's lease, last run, pending records and suppression, per rule"})
	if err != nil {
		return fmt.Errorf("windower: %w", err)
	}
	if _, err := js.KeyValue(ctx, stream.ExceptionsBucket); err == nil {
		return nil
	}
	if err := stream.EnsureKeyValue(ctx, js, c, jetstream.KeyValueConfig{Bucket: stream.ExceptionsBucket, Description: "rule exceptions, per rule"}); err != nil {
		return fmt.Errorf("windower: %w", err)
	}
	return nil
}

// ExceptionsKV opens the exceptions bucket, creating it (on file storage) when missing.
func ExceptionsKV(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, stream.ExceptionsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		if err := ensureStateBuckets(ctx, js, stream.DefaultConfig()); err != nil {
			return nil, err
		}
		kv, err = js.KeyValue(ctx, stream.ExceptionsBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("windower: key-value bucket %s: %w", stream.ExceptionsBucket, err)
	}
	return kv, nil
}

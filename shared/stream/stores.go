package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// The stages create their own key-value buckets and object stores (each with its bucket's
// description, TTL and limits, beside the code that uses it); these helpers give every store
// the storage and replication of the pipeline's streams and survive the race of replicas
// starting together. The stores' names stay here: other stages read some of them, and the
// deployment's permissions (deploy/) name them all.

// storage is the storage of the pipeline's streams and stores.
func (c Config) storage() jetstream.StorageType {
	if c.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// EnsureKeyValue creates or updates the key-value bucket kv with the storage and replication
// of c.
func EnsureKeyValue(ctx context.Context, js jetstream.JetStream, c Config, kv jetstream.KeyValueConfig) error {
	kv.Storage, kv.Replicas = c.storage(), max(c.Replicas, 1)
	err := retryRace(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, kv)
		return err
	})
	if err != nil {
		return fmt.Errorf("stream: create key-value bucket %s: %w", kv.Bucket, err)
	}
	return nil
}

// EnsureObjectStore creates or updates the object store obj with the storage and replication
// of c.
func EnsureObjectStore(ctx context.Context, js jetstream.JetStream, c Config, obj jetstream.ObjectStoreConfig) error {
	obj.Storage, obj.Replicas = c.storage(), max(c.Replicas, 1)
	err := retryRace(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateObjectStore(ctx, obj)
		return err
	})
	if err != nil {
		return fmt.Errorf("stream: create object store %s: %w", obj.Bucket, err)
	}
	return nil
}

// ConfigOf is the storage and replication of the stream name, for a stage that creates its
// stores after the streams: they get the same.
func ConfigOf(ctx context.Context, js jetstream.JetStream, name string) (Config, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return Config{}, fmt.Errorf("stream: %s: %w", name, err)
	}
	sc := s.CachedInfo().Config
	return Config{Replicas: sc.Replicas, Memory: sc.Storage == jetstream.MemoryStorage}, nil
}

// EnsureLeaderKeyValue creates the key-value bucket kv when it is missing, as EnsureKeyValue
// does, and has its reads answered by its stream's leader (readFromLeader): for the stores a
// stage's replicas hand work over through (leases, checkpoints, shared state), where acting
// on an older entry than the one a predecessor last wrote loses or repeats work. An existing
// bucket is not recreated, which would turn direct gets on again; its replicas follow c.
//
// Once direct gets are off, the server no longer answers them: a handle opened while they
// were on (js.KeyValue, js.ObjectStore cache the setting) fails every read with no
// responders. Open handles after this returns; a stage whose reads fail restarts and opens
// them again.
func EnsureLeaderKeyValue(ctx context.Context, js jetstream.JetStream, c Config, kv jetstream.KeyValueConfig) error {
	return ensureLeader(ctx, js, KeyValueStream(kv.Bucket), c, func() error { return EnsureKeyValue(ctx, js, c, kv) })
}

// EnsureLeaderObjectStore is EnsureLeaderKeyValue for an object store.
func EnsureLeaderObjectStore(ctx context.Context, js jetstream.JetStream, c Config, obj jetstream.ObjectStoreConfig) error {
	return ensureLeader(ctx, js, ObjectStoreStream(obj.Bucket), c, func() error { return EnsureObjectStore(ctx, js, c, obj) })
}

// ensureLeader has the store behind stream name read from its leader, calling create first
// when the stream does not exist. Any other failure to look it up (a time-out during an
// election) is an error, not a missing stream: creating again would turn direct gets on.
func ensureLeader(ctx context.Context, js jetstream.JetStream, name string, c Config, create func() error) error {
	err := readFromLeader(ctx, js, name, c)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if err := create(); err != nil {
			return err
		}
		err = readFromLeader(ctx, js, name, c)
	}
	if err != nil {
		return fmt.Errorf("stream: %s: %w", name, err)
	}
	return nil
}

// KeyValueStream is the name of the stream behind key-value bucket b.
func KeyValueStream(b string) string { return "KV_" + b }

// ObjectStoreStream is the name of the stream behind object store b.
func ObjectStoreStream(b string) string { return "OBJ_" + b }

// readFromLeader turns direct gets off on a store's stream (KeyValueStream,
// ObjectStoreStream), so that every read is answered by the stream's leader, and gives it the
// replicas of c. A direct get is answered by any replica, and a lagging one can serve an entry
// older than one another replica of the stage has just committed: on a cluster, a reader could
// then act on an older state than on one server (a scorer taking the model over restoring the
// checkpoint before the last, whose input its predecessor had acked). Reads cost a little
// more; readers cache entries.
func readFromLeader(ctx context.Context, js jetstream.JetStream, streamName string, c Config) error {
	return retryRace(ctx, func(ctx context.Context) error {
		s, err := js.Stream(ctx, streamName)
		if err != nil {
			return err
		}
		cfg := s.CachedInfo().Config
		replicas := max(c.Replicas, 1)
		if !cfg.AllowDirect && cfg.Replicas == replicas {
			return nil
		}
		cfg.AllowDirect, cfg.Replicas = false, replicas
		_, err = js.UpdateStream(ctx, cfg)
		return err
	})
}

package stream

import (
	"context"
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

// ReadFromLeader turns direct gets off on a key-value bucket's stream, so that every read is
// answered by the stream's leader. A direct get is answered by any replica, and a lagging one
// can serve an entry older than one another replica of the stage has just committed and
// announced: on a cluster, a reader could then act on an older state than on one server.
// Reads cost a little more; readers cache entries.
func ReadFromLeader(ctx context.Context, js jetstream.JetStream, bucket string) error {
	name := "KV_" + bucket
	return retryRace(ctx, func(ctx context.Context) error {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return err
		}
		cfg := s.CachedInfo().Config
		if !cfg.AllowDirect {
			return nil
		}
		cfg.AllowDirect = false
		_, err = js.UpdateStream(ctx, cfg)
		return err
	})
}

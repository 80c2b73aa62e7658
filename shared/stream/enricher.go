package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// HistoryBucket is the key-value bucket in which the enricher keeps the history of execution
// of every process.name (first seen, active buckets, hosts, users, destinations, ports) and of
// the fleet (hosts), built from the scorer's bucket summaries. Enricher replicas share it.
// Every entry is bounded by the enricher (see services/enricher/history.go); a process not
// seen for HistoryMaxAge is forgotten.
const HistoryBucket = "rarenet_history"

// HistoryMaxAge is how long a history entry lives without being updated: a little over a
// year, so quarterly schedules are still recognised after a missed run.
const HistoryMaxAge = 400 * 24 * time.Hour

// historyMaxValueSize bounds one entry; the enricher keeps entries far below it.
const historyMaxValueSize = 1 << 20

// EnsureEnricher creates or updates the enricher's history bucket with the storage and
// replication of the pipeline's streams.
func EnsureEnricher(ctx context.Context, js jetstream.JetStream, c Config) error {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	// An existing bucket is left as it is: updating it would turn direct gets on again under
	// replicas already reading it (readFromLeader).
	if _, err := js.Stream(ctx, "KV_"+HistoryBucket); err == nil {
		return readFromLeader(ctx, js, "KV_"+HistoryBucket)
	}
	err := retryRace(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:       HistoryBucket,
			Description:  "history of execution per process.name, kept by the enricher",
			TTL:          HistoryMaxAge,
			MaxValueSize: historyMaxValueSize,
			Storage:      storage,
			Replicas:     max(c.Replicas, 1),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("stream: create key-value bucket %s: %w", HistoryBucket, err)
	}
	return readFromLeader(ctx, js, "KV_"+HistoryBucket)
}

// readFromLeader turns direct gets off on a key-value bucket's stream, so that every read is
// answered by the stream's leader. A direct get is answered by any replica, and a lagging one
// can serve an entry older than one another replica of the enricher has just committed and
// announced (its progress key): on a cluster, a record could then be enriched from an older
// history than on one server. Reads cost a little more; the enricher caches entries.
func readFromLeader(ctx context.Context, js jetstream.JetStream, name string) error {
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

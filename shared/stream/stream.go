// Package stream names every JetStream stream, subject, consumer and key-value bucket of the
// pipeline, and creates them. It is the one place where these names live.
//
// The flow, one stream per hop:
//
//	publishers ─► RAW (rarenet.raw.<format>) ─► ingest ─► EVENTS (rarenet.events.<p>)
//	  ─► scorer ─► ANOMALIES (rarenet.anomalies) ─► enricher ─► ENRICHED (rarenet.enriched)
//	  ─► windower ─► SIGNALS (rarenet.signals)
//
// Bad input and late data go to DLQ (rarenet.dlq.<stage>) with the original bytes and the
// reason; each stage reports on STATUS (rarenet.status.<stage>).
package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsutil"
)

// Stream names.
const (
	Raw       = "RARENET_RAW"
	Events    = "RARENET_EVENTS"
	Buckets   = "RARENET_BUCKETS"
	Anomalies = "RARENET_ANOMALIES"
	Enriched  = "RARENET_ENRICHED"
	Signals   = "RARENET_SIGNALS"
	DLQ       = "RARENET_DLQ"
	Status    = "RARENET_STATUS"
)

// Subjects. The raw and signal subjects are the public surface: publish input to
// RawSubject(format), subscribe to SignalsSubject.
const (
	RawPrefix         = "rarenet.raw."
	EventsPrefix      = "rarenet.events."
	BucketsPrefix     = "rarenet.buckets."
	AnomaliesSubject  = "rarenet.anomalies"
	EnrichedSubject   = "rarenet.enriched"
	SignalsSubject    = "rarenet.signals"
	DLQPrefix         = "rarenet.dlq."
	StatusPrefix      = "rarenet.status."
	RawWildcard       = RawPrefix + ">"
	EventsWildcard    = EventsPrefix + "*"
	BucketsWildcard   = BucketsPrefix + "*"
	DLQWildcard       = DLQPrefix + ">"
	StatusWildcard    = StatusPrefix + ">"
	DefaultPartitions = 8
)

// Durable consumer names, one per stage: replicas of a stage share it. The scorer has one per
// partition instead (ScorerPartitionConsumer), each read by the replica owning the partition.
const (
	IngestConsumer   = "ingest"
	ModelConsumer    = "scorer-model"
	EnricherConsumer = "enricher"
	WindowerConsumer = "windower"
)

// ScorerPartitionConsumer is the durable consumer of partition p of EVENTS, "scorer-<p>",
// filtered on EventsSubject(p).
func ScorerPartitionConsumer(p int) string { return "scorer-" + strconv.Itoa(p) }

// ScorerPartitionConsumers names the consumers of all partitions 0..partitions-1.
func ScorerPartitionConsumers(partitions int) []string {
	names := make([]string, partitions)
	for p := range names {
		names[p] = ScorerPartitionConsumer(p)
	}
	return names
}

// ScorerBucket is the key-value bucket of the scorer: how far each partition is closed, so a
// partition's next owner tells late events from redelivered ones, and the leases by which
// scorer replicas own partitions and the model.
const ScorerBucket = "rarenet_scorer"

// ModelStore is the object store holding the scorer's model checkpoint.
const ModelStore = "rarenet_scorer_model"

// EmittedBucket is the key-value bucket in which the windower remembers the signal ids it has
// published, so overlapping look-back windows, redeliveries and restarts never repeat one.
const EmittedBucket = "rarenet_emitted"

// RawSubject is the subject on which input of the given format is published.
func RawSubject(format string) string { return RawPrefix + format }

// EventsSubject is the subject of partition p of the normalized events.
func EventsSubject(p int) string { return EventsPrefix + strconv.Itoa(p) }

// BucketsSubject is the subject of partition p's closed-bucket summaries.
func BucketsSubject(p int) string { return BucketsPrefix + strconv.Itoa(p) }

// DLQSubject is the dead-letter subject of a stage.
func DLQSubject(stage string) string { return DLQPrefix + stage }

// StatusSubject is the status subject of a stage.
func StatusSubject(stage string) string { return StatusPrefix + stage }

// Config sets the storage and limits of the pipeline's streams.
type Config struct {
	// Partitions is P, the number of event partitions. It is fixed when the EVENTS stream is
	// created: choose it for the largest number of scorers expected.
	Partitions int
	// Replicas is the JetStream replication factor (1 on one server, 3 on a cluster).
	Replicas int
	// MaxAge bounds how long the work streams keep messages; 0 keeps them until limits.
	MaxAge time.Duration
	// Memory keeps the streams in memory instead of on disk, for tests and one-shot replays.
	Memory bool
	// WorkMaxBytes is a hard bound on each stream between two stages (0: none). Beyond it
	// JetStream refuses new messages (discard new) rather than dropping unconsumed ones: the
	// publishing stage then fails without acknowledging its input, and resumes from it when
	// restarted. Stages normally never get there: each waits while its consumer is more than
	// natsutil.ThrottleBacklog messages behind.
	WorkMaxBytes int64
}

// ErrPartitionMismatch is returned when the EVENTS stream exists with another partition count
// than the one configured: partitions cannot change once events are routed.
var ErrPartitionMismatch = errors.New("stream: partition count differs from the existing EVENTS stream")

// DefaultConfig returns the configuration for one server.
func DefaultConfig() Config {
	return Config{Partitions: DefaultPartitions, Replicas: 1}
}

// Definitions returns the stream configurations of the pipeline.
func Definitions(c Config) []jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	replicas := max(c.Replicas, 1)
	mk := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Retention:   jetstream.LimitsPolicy,
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Storage:     storage,
			Replicas:    replicas,
			MaxAge:      c.MaxAge,
			Discard:     jetstream.DiscardOld,
			Duplicates:  2 * time.Minute,
		}
	}
	// The hops between stages are work queues: a message is deleted once the stage that
	// consumes it has acknowledged it, so a month of history never sits in the server twice.
	// Signals, dead letters and status are kept by limits, for subscribers and operators.
	work := func(sc jetstream.StreamConfig) jetstream.StreamConfig {
		sc.Retention = jetstream.WorkQueuePolicy
		if c.WorkMaxBytes > 0 {
			sc.MaxBytes = c.WorkMaxBytes
		}
		// Never drop what a stage has not consumed: refuse new input instead.
		sc.Discard = jetstream.DiscardNew
		return sc
	}
	return []jetstream.StreamConfig{
		work(mk(Raw, "raw input lines, as published by sources", RawWildcard)),
		work(mk(Events, "normalized network events, partitioned by xxhash64(process.name) mod "+strconv.Itoa(c.Partitions), EventsWildcard)),
		work(mk(Buckets, "closed-bucket summaries of each partition, for the rare model", BucketsWildcard)),
		work(mk(Anomalies, "anomaly records of the rare model", AnomaliesSubject)),
		work(mk(Enriched, "anomaly records with investigation context", EnrichedSubject)),
		mk(Signals, "Elastic-compatible signal documents", SignalsSubject),
		mk(DLQ, "dead letters: original bytes and the reason", DLQWildcard),
		mk(Status, "stage status reports (rule runs, end of replay)", StatusWildcard),
	}
}

// partitionsKey is stored in the EVENTS stream's metadata so that every stage agrees on P.
const partitionsKey = "rarenet_partitions"

// Ensure creates or updates the pipeline's streams. It fails with ErrPartitionMismatch when
// EVENTS already exists with another partition count. Each stage creates its own key-value
// buckets and object stores (EnsureKeyValue, EnsureObjectStore) when it starts.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config) error {
	if c.Partitions < 1 {
		return fmt.Errorf("stream: partitions must be at least 1, got %d", c.Partitions)
	}
	for _, sc := range Definitions(c) {
		if sc.Name == Events {
			md := map[string]string{}
			if s, err := js.Stream(ctx, Events); err == nil {
				md = ownMetadata(s.CachedInfo().Config.Metadata) // the Line's settings stay
				got := md[partitionsKey]
				if got != "" && got != strconv.Itoa(c.Partitions) {
					return fmt.Errorf("%w: stream has %s, configured %d", ErrPartitionMismatch, got, c.Partitions)
				}
			}
			md[partitionsKey] = strconv.Itoa(c.Partitions)
			sc.Metadata = md
		}
		if err := retryRace(ctx, func(ctx context.Context) error { _, err := js.CreateOrUpdateStream(ctx, sc); return err }); err != nil {
			return fmt.Errorf("stream: create %s: %w", sc.Name, err)
		}
	}
	return nil
}

// Partitions reads P from the EVENTS stream, for stages that do not configure it.
func Partitions(ctx context.Context, js jetstream.JetStream) (int, error) {
	s, err := js.Stream(ctx, Events)
	if err != nil {
		return 0, fmt.Errorf("stream: %s: %w", Events, err)
	}
	p, err := strconv.Atoi(s.CachedInfo().Config.Metadata[partitionsKey])
	if err != nil || p < 1 {
		return 0, fmt.Errorf("stream: %s has no valid %s metadata", Events, partitionsKey)
	}
	return p, nil
}

// retryRace runs create again when it lost a race with another process creating the same
// stream (every stage ensures the streams at start, and stages start together), or when its
// request went unanswered (natsutil.Transient: a cluster asked by several clients at once to
// create the same replicated streams can leave requests without a reply; seen with
// nats-server 2.15.2 and five stages starting on a new 3-node cluster), each attempt with its
// own deadline: the next attempt finds the stream made or makes it.
func retryRace(ctx context.Context, create func(context.Context) error) error {
	return natsutil.RetryIf(ctx, func(err error) bool {
		return errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || natsutil.Transient(err)
	}, create)
}

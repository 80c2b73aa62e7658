package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// NotifyStage is the notifier's name: its DLQ subjects, metrics and connection.
const NotifyStage = "notify"

// NotifyConsumer is the notifier's durable consumer on SIGNALS. It reads the public output
// like any subscriber, but durably: a signal is acknowledged once every destination it is
// routed to has it.
const NotifyConsumer = "notify"

// NotifyBucket is the key-value bucket in which the notifier remembers, per destination, the
// signals a destination confirmed (sent.<destination>.<signal id>), so a restarted notifier
// never sends again what it had delivered.
const NotifyBucket = "rarenet_notify"

// NotifyDLQSubject is the dead-letter subject of one destination of the notifier: signals it
// gave up on, with the original bytes and the reason.
func NotifyDLQSubject(destination string) string {
	return DLQPrefix + NotifyStage + "." + destination
}

// NotifyDLQWildcard matches the dead letters of every destination of the notifier and its own
// (NotifyRejectSubject).
const NotifyDLQWildcard = DLQPrefix + NotifyStage + ".>"

// NotifyRejectSubject is where the notifier puts messages on rarenet.signals that are not
// signal documents.
const NotifyRejectSubject = DLQPrefix + NotifyStage + "._rejected"

// EnsureNotify creates or updates the notifier's bucket; sentTTL is how long a confirmed
// delivery is remembered.
func EnsureNotify(ctx context.Context, js jetstream.JetStream, c Config, sentTTL time.Duration) error {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	err := retryRace(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      NotifyBucket,
			Description: "signals each destination of the notifier confirmed",
			TTL:         sentTTL,
			Storage:     storage,
			Replicas:    max(c.Replicas, 1),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("stream: create key-value bucket %s: %w", NotifyBucket, err)
	}
	return nil
}

package stream

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsoleBucket is the key-value bucket of the console (services/console): the triage state
// of each signal, key "status.<kibana.alert.uuid>", a JSON document with the workflow status
// (open, acknowledged, closed), the note, who changed it and when. Its revisions are the
// signal's triage history. `rarenet signals --json` reads it for kibana.alert.workflow_status.
const ConsoleBucket = "rarenet_console"

// ConsoleHistory is how many revisions of a signal's triage state the bucket keeps (the most
// JetStream allows): the history shown on the signal's page.
const ConsoleHistory = 64

// TriageSubject is where the console publishes every change of a signal's triage state, as the
// JSON document it stores, for notifiers and other subscribers. It is not captured by a stream:
// the bucket is the record.
const TriageSubject = "rarenet.triage"

// EnsureConsole creates or updates the console's bucket with the storage and replication of
// the pipeline's streams.
func EnsureConsole(ctx context.Context, js jetstream.JetStream, c Config) error {
	storage := jetstream.FileStorage
	if c.Memory {
		storage = jetstream.MemoryStorage
	}
	err := retryRace(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      ConsoleBucket,
			Description: "triage state of each signal, kept by the console",
			History:     ConsoleHistory,
			Storage:     storage,
			Replicas:    max(c.Replicas, 1),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("stream: create key-value bucket %s: %w", ConsoleBucket, err)
	}
	return nil
}

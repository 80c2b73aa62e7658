package natsutil

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ThrottleBacklog is how many messages a stage's consumer may be behind before the stage
// feeding it waits: the back-pressure that keeps a slow stage from making the ones upstream
// fill the server.
const ThrottleBacklog = 4096

// Throttle holds a stage back while the consumers of the stream it feeds have more than
// Backlog messages not yet delivered, together. It counts undelivered messages, not stored
// ones, so messages a consumer holds unacknowledged on purpose (the scorer's open buckets)
// never stall it. A stream read through several consumers (the scorer's, one per partition)
// is behind by the sum of theirs, as one consumer over the whole stream would be.
type Throttle struct {
	js        jetstream.JetStream
	stream    string
	consumers []string
	str       jetstream.Stream // looked up once, for listing several consumers
	Backlog   uint64
}

// NewThrottle returns a Throttle on durable consumers of a stream.
func NewThrottle(js jetstream.JetStream, stream string, consumers ...string) *Throttle {
	return &Throttle{js: js, stream: stream, consumers: consumers, Backlog: ThrottleBacklog}
}

// Wait returns once the consumers are at most Backlog messages behind, none exists (their
// stage has not started: the stream's own limits apply), or ctx is done. A missing consumer
// counts as nothing behind.
func (t *Throttle) Wait(ctx context.Context) error {
	for {
		behind, err := t.behind(ctx)
		if err != nil {
			return stopErr(ctx, fmt.Errorf("natsutil: throttle on %s: %w", t.stream, err))
		}
		if behind <= t.Backlog {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// behind sums the undelivered messages of the consumers. Wait runs after every commit, so a
// check costs one request: the consumer's info for one, one listing of the stream's consumers
// for several, whatever their number.
func (t *Throttle) behind(ctx context.Context) (uint64, error) {
	if len(t.consumers) == 1 {
		c, err := t.js.Consumer(ctx, t.stream, t.consumers[0])
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return c.CachedInfo().NumPending, nil
	}
	if t.str == nil {
		s, err := t.js.Stream(ctx, t.stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		t.str = s
	}
	var sum uint64
	list := t.str.ListConsumers(ctx)
	for info := range list.Info() {
		if slices.Contains(t.consumers, info.Name) {
			sum += info.NumPending
		}
	}
	if err := list.Err(); err != nil {
		return 0, err
	}
	return sum, nil
}

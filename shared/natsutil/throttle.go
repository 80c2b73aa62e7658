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
	// Every is how long after a check that found the consumers at most half the backlog
	// behind Wait returns without asking again: a check is a round trip to the server, and a
	// stage commits far more often than its consumer can fall half a backlog behind.
	Every time.Duration
	quiet time.Time // until then, Wait does not ask
}

// NewThrottle returns a Throttle on durable consumers of a stream.
func NewThrottle(js jetstream.JetStream, stream string, consumers ...string) *Throttle {
	return &Throttle{js: js, stream: stream, consumers: consumers, Backlog: ThrottleBacklog, Every: 20 * time.Millisecond}
}

// Wait returns once the consumers are at most Backlog messages behind, none exists (their
// stage has not started: the stream's own limits apply), or ctx is done. A missing consumer
// counts as nothing behind. Within Every of a check that found them at most half the
// backlog behind, it returns at once.
func (t *Throttle) Wait(ctx context.Context) error {
	if time.Now().Before(t.quiet) {
		return nil
	}
	for {
		behind, found, err := t.behind(ctx)
		if err != nil {
			return StopErr(ctx, fmt.Errorf("natsutil: throttle on %s: %w", t.stream, err))
		}
		if found && behind <= t.Backlog/2 {
			t.quiet = time.Now().Add(t.Every)
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

// behind sums the undelivered messages of the consumers, and reports whether any of them
// exists. A check costs one request: the consumer's info for one, one listing of the
// stream's consumers for several, whatever their number.
func (t *Throttle) behind(ctx context.Context) (uint64, bool, error) {
	if len(t.consumers) == 1 {
		c, err := t.js.Consumer(ctx, t.stream, t.consumers[0])
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		return c.CachedInfo().NumPending, true, nil
	}
	if t.str == nil {
		s, err := t.js.Stream(ctx, t.stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		t.str = s
	}
	var sum uint64
	found := false
	list := t.str.ListConsumers(ctx)
	for info := range list.Info() {
		if slices.Contains(t.consumers, info.Name) {
			sum, found = sum+info.NumPending, true
		}
	}
	if err := list.Err(); err != nil {
		return 0, false, err
	}
	return sum, found, nil
}

package natsutil

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ThrottleBacklog is how many messages a stage's consumer may be behind before the stage
// feeding it waits: the back-pressure that keeps a slow stage from making the ones upstream
// fill the server.
const ThrottleBacklog = 4096

// Throttle holds a stage back while the consumer of the stream it feeds has more than Backlog
// messages not yet delivered. It counts undelivered messages, not stored ones, so messages a
// consumer holds unacknowledged on purpose (the scorer's open buckets) never stall it.
type Throttle struct {
	js       jetstream.JetStream
	stream   string
	consumer string
	Backlog  uint64
}

// NewThrottle returns a Throttle on a stream's durable consumer.
func NewThrottle(js jetstream.JetStream, stream, consumer string) *Throttle {
	return &Throttle{js: js, stream: stream, consumer: consumer, Backlog: ThrottleBacklog}
}

// Wait returns once the consumer is at most Backlog messages behind, it does not exist (its
// stage has not started: the stream's own limits apply), or ctx is done.
func (t *Throttle) Wait(ctx context.Context) error {
	for {
		c, err := t.js.Consumer(ctx, t.stream, t.consumer)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil
		}
		if err != nil {
			return stopErr(ctx, fmt.Errorf("natsutil: throttle on %s: %w", t.consumer, err))
		}
		if c.CachedInfo().NumPending <= t.Backlog {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(25 * time.Millisecond):
		}
	}
}

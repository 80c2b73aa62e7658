package natsutil

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
//
// One Throttle may serve several loops of a process (a scorer's partitions): one check is in
// flight at a time, and while it is, the others take the last answer, waiting only when that
// said the consumers were over the backlog. So the checks do not grow with the loops (each
// partition asking for itself was a cost of a second scorer replica, docs/performance.md
// item 18), and no loop waits on another's round trip while the next stage keeps up (a
// version where the loops waited for each other's check slowed the live cluster, item 18).
type Throttle struct {
	js        jetstream.JetStream
	stream    string
	consumers []string
	Backlog   uint64
	// Every is how long after a check that found the consumers at most half the backlog
	// behind Wait returns without asking again: a check is a round trip to the server, and a
	// stage commits far more often than its consumer can fall half a backlog behind.
	Every time.Duration

	mu       sync.Mutex
	str      jetstream.Stream // looked up once, for listing several consumers
	quiet    time.Time        // until then, Wait does not ask
	over     bool             // the last check found the consumers over the backlog
	checking chan struct{}    // closed when the check in flight ends; nil when none is
	// check is behind; tests hold a check in flight with their own.
	check func(context.Context) (behind uint64, found bool, err error)
}

// NewThrottle returns a Throttle on durable consumers of a stream.
func NewThrottle(js jetstream.JetStream, stream string, consumers ...string) *Throttle {
	return &Throttle{js: js, stream: stream, consumers: consumers, Backlog: ThrottleBacklog, Every: 20 * time.Millisecond}
}

// Wait returns once the consumers are at most Backlog messages behind, none exists (their
// stage has not started: the stream's own limits apply), or ctx is done. A missing consumer
// counts as nothing behind. Within Every of a check that found them at most half the
// backlog behind, it returns at once; while another goroutine's check is in flight, it
// returns at once unless the last check found them over the backlog. Wait is safe for
// concurrent use.
func (t *Throttle) Wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		if time.Now().Before(t.quiet) {
			t.mu.Unlock()
			return nil
		}
		if done := t.checking; done != nil {
			over := t.over
			t.mu.Unlock()
			if !over {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-done:
				continue
			}
		}
		done := make(chan struct{})
		t.checking = done
		t.mu.Unlock()

		check := t.check
		if check == nil {
			check = t.behind
		}
		behind, found, err := check(ctx)

		t.mu.Lock()
		t.checking = nil
		if err == nil {
			t.over = behind > t.Backlog
			if found && behind <= t.Backlog/2 {
				t.quiet = time.Now().Add(t.Every)
			}
		}
		t.mu.Unlock()
		close(done)
		if err != nil {
			return StopErr(ctx, fmt.Errorf("natsutil: throttle on %s: %w", t.stream, err))
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
// stream's consumers for several, whatever their number. Only the goroutine whose check is in
// flight calls it.
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

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
// One Throttle may serve several loops at once (a scorer's partitions, which all feed the
// model): they share its checks, so a replica asks the server at most once every Every
// whatever the number of its loops. A check is a request the server answers with the
// consumer's state in JSON, on an R3 consumer through its leader: measured on the 3-node
// cluster, a second scorer replica whose four loops each asked on every commit while the
// model was half a backlog behind spent five times the first one's CPU on checks
// (docs/performance.md, item 18).
type Throttle struct {
	js        jetstream.JetStream
	stream    string
	consumers []string
	Backlog   uint64
	// Every is how long the result of a check that found the consumers stands: Wait
	// returns, or waits, on it without asking again. The stage may get up to Every's worth
	// of messages beyond Backlog ahead; a check is a round trip to the server, and a stage
	// commits far more often than that.
	Every time.Duration

	mu      sync.Mutex
	str     jetstream.Stream // looked up once, for listing several consumers
	checked time.Time        // when the standing result was found (zero: none stands)
	last    uint64           // the consumers' backlog then
}

// NewThrottle returns a Throttle on durable consumers of a stream.
func NewThrottle(js jetstream.JetStream, stream string, consumers ...string) *Throttle {
	return &Throttle{js: js, stream: stream, consumers: consumers, Backlog: ThrottleBacklog, Every: 20 * time.Millisecond}
}

// Wait returns once the consumers are at most Backlog messages behind, none exists (their
// stage has not started: the stream's own limits apply), or ctx is done. A missing consumer
// counts as nothing behind. It may be called from several goroutines at once.
func (t *Throttle) Wait(ctx context.Context) error {
	for {
		behind, err := t.check(ctx)
		if err != nil {
			return StopErr(ctx, fmt.Errorf("natsutil: throttle on %s: %w", t.stream, err))
		}
		if behind <= t.Backlog {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(max(25*time.Millisecond, t.Every)):
		}
	}
}

// check returns the consumers' backlog: the standing result when it is younger than Every,
// or else a new one from the server. Callers at the same moment wait for one check. A check
// that finds no consumer does not stand: the next call asks again, so a stage that starts
// is seen at once.
func (t *Throttle) check(ctx context.Context) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.checked.IsZero() && time.Since(t.checked) < t.Every {
		return t.last, nil
	}
	behind, found, err := t.behind(ctx)
	if err != nil {
		return 0, err
	}
	t.checked, t.last = time.Time{}, behind
	if found {
		t.checked = time.Now()
	}
	return behind, nil
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

package natsutil

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DurableConsumer creates or updates the shared durable pull consumer of a stage. Acks are
// explicit (the work-queue streams require it): a stage processes its input in order and acks
// each message once everything it produced from it is stored.
func DurableConsumer(ctx context.Context, js jetstream.JetStream, stream, name string, filters ...string) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:        name,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        2 * time.Minute,
		MaxAckPending:  65536,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		FilterSubjects: filters,
	}
	c, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("natsutil: consumer %s on %s: %w", name, stream, err)
	}
	return c, nil
}

// Loop drives a stage: it pulls messages in stream order, hands each to Handle, and every
// MaxBatch messages or after Idle without input calls Commit, then acks what Commit covered.
// Everything runs on one goroutine, so a stage's state needs no locks and its output order is
// the input order.
type Loop struct {
	Consumer jetstream.Consumer
	// Handle processes one message. It must not ack it. An error stops the loop: it is for
	// failures of the stage itself; bad input goes to the DLQ instead.
	Handle func(context.Context, jetstream.Msg) error
	// Commit makes the effects of every handled message durable (flushes publishes, writes
	// checkpoints). Optional.
	Commit func(context.Context) error
	// Tick is called whenever the input is idle, with the wall-clock time, for stages that
	// advance on the clock in live mode. Optional.
	Tick func(context.Context, time.Time) error
	// Throttle is called after each Commit and may wait: a stage uses it to hold back while
	// the stream it feeds is full (back-pressure). Optional.
	Throttle func(context.Context) error
	// Retain, called after each Commit for every message not yet acked, keeps a message
	// unacked while it returns true: for stages whose commit does not yet cover everything a
	// message contributed to (an event in a bucket still open). Optional: nil acks all.
	Retain func(jetstream.Msg) bool
	// MaxBatch bounds the messages handled between commits (default 1000).
	MaxBatch int
	// Idle is how long to wait for input before committing and ticking (default 50ms).
	Idle time.Duration
}

// Run processes messages until ctx is done. It returns nil on cancellation.
func (l *Loop) Run(ctx context.Context) error {
	maxBatch := l.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 1000
	}
	idle := l.Idle
	if idle <= 0 {
		idle = 50 * time.Millisecond
	}
	it, err := l.Consumer.Messages(jetstream.PullMaxMessages(min(maxBatch, 1000)))
	if err != nil {
		return fmt.Errorf("natsutil: pull messages: %w", err)
	}
	defer it.Stop()
	// handled holds the messages not acked yet: those handled since the last commit, and those
	// Retain kept back at earlier commits. fresh counts the former.
	handled := make([]jetstream.Msg, 0, maxBatch)
	fresh := 0
	commit := func() error {
		if fresh == 0 {
			return nil
		}
		if l.Commit != nil {
			if err := l.Commit(ctx); err != nil {
				return err
			}
		}
		kept := handled[:0]
		for _, m := range handled {
			if l.Retain != nil && l.Retain(m) {
				kept = append(kept, m)
				continue
			}
			if err := m.Ack(); err != nil {
				return fmt.Errorf("natsutil: ack: %w", err)
			}
		}
		clear(handled[len(kept):])
		handled, fresh = kept, 0
		if l.Throttle != nil {
			return l.Throttle(ctx)
		}
		return nil
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		msg, err := it.Next(jetstream.NextMaxWait(idle))
		switch {
		case errors.Is(err, nats.ErrTimeout):
			if err := commit(); err != nil {
				return stopErr(ctx, err)
			}
			if l.Tick != nil {
				if err := l.Tick(ctx, time.Now()); err != nil {
					return stopErr(ctx, err)
				}
			}
			continue
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return stopErr(ctx, err)
		case errors.Is(err, jetstream.ErrConsumerDeleted):
			return stopErr(ctx, fmt.Errorf("natsutil: the stage's consumer was deleted: %w", err))
		case err != nil:
			// Transient pull errors (a reconnect, a leader change) are retried by the iterator;
			// the pause keeps a lasting one from spinning.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if err := l.Handle(ctx, msg); err != nil {
			return stopErr(ctx, err)
		}
		handled = append(handled, msg)
		fresh++
		if fresh >= maxBatch {
			if err := commit(); err != nil {
				return stopErr(ctx, err)
			}
		}
	}
}

// stopErr hides errors caused by the shutdown itself.
func stopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

package natsutil

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RequestTimeout bounds one attempt of a JetStream API request made through Retry.
const RequestTimeout = 5 * time.Second

// Transient reports whether a JetStream request failed in a way that trying again can mend:
// no answer in time, nobody answering, or the stream not answering. A cluster that lost a node
// or is electing leaders answers so for a few seconds; one asked by several clients at once to
// create the same replicated streams or consumers can also leave requests unanswered (known
// upstream: nats-io/nats.go#949, nats-io/nats-server#3677, nats-io/nats-server#8350).
func Transient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// Retry calls f, each attempt with its own deadline of RequestTimeout, until it succeeds,
// fails otherwise than Transient, ctx is done, or DefaultRetryFor has passed.
func Retry(ctx context.Context, f func(context.Context) error) error {
	return RetryIf(ctx, Transient, f)
}

// RetryIf is Retry with the errors worth another attempt chosen by again.
func RetryIf(ctx context.Context, again func(error) bool, f func(context.Context) error) error {
	b := Backoff{First: 50 * time.Millisecond, Max: time.Second, Attempt: RequestTimeout, For: DefaultRetryFor, Again: again}
	return b.Retry(ctx, f)
}

// retryWithin is Retry with each attempt's deadline attempt, for a request that may be sent
// again before an answer to the last one could still come (it must be idempotent).
func retryWithin(ctx context.Context, attempt time.Duration, f func(context.Context) error) error {
	b := Backoff{First: 50 * time.Millisecond, Max: time.Second, Attempt: attempt, For: DefaultRetryFor, Again: Transient}
	return b.Retry(ctx, f)
}

// Backoff is the one retry loop: what it retries, how long it waits between attempts and
// how long it keeps trying. Retry (JetStream requests, quietly, for a minute) and the
// stages' start (connecting, creating the streams: logged, until the start timeout) are its
// two uses.
type Backoff struct {
	// First is the wait after the first failure; each further wait doubles, up to Max.
	First, Max time.Duration
	// Attempt gives each attempt a deadline of its own (none when zero); with AttemptMax,
	// the first attempt's, each further one's doubling up to AttemptMax.
	Attempt, AttemptMax time.Duration
	// For bounds the retrying: an attempt that fails once For has passed since the first
	// began is the last (no bound when zero: until ctx is done).
	For time.Duration
	// Again reports whether an error is worth another attempt (every error when nil).
	Again func(error) bool
	// Log, when set, gets a warning naming What for every failure about to be tried again.
	Log  *slog.Logger
	What string
}

// Retry calls f until it succeeds, fails with an error not worth another attempt, ctx is
// done, or b.For has passed, and returns f's last error (nil when it succeeded).
func (b Backoff) Retry(ctx context.Context, f func(context.Context) error) error {
	var deadline time.Time
	if b.For > 0 {
		deadline = time.Now().Add(b.For)
	}
	wait, attempt := b.First, b.Attempt
	for {
		err := b.attempt(ctx, attempt, f)
		if err == nil || (b.Again != nil && !b.Again(err)) || (!deadline.IsZero() && time.Now().After(deadline)) {
			return err
		}
		if b.Log != nil {
			b.Log.Warn("retrying", "what", b.What, "err", err, "in", wait.String())
		}
		if ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, b.Max)
		if b.AttemptMax > attempt {
			attempt = min(2*attempt, b.AttemptMax)
		}
	}
}

// attempt calls f once, under a deadline d from now if d is set.
func (b Backoff) attempt(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	if d <= 0 {
		return f(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(actx)
}

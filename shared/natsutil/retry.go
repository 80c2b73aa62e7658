package natsutil

import (
	"context"
	"errors"
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
	deadline := time.Now().Add(DefaultRetryFor)
	wait := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, RequestTimeout)
		err := f(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !again(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

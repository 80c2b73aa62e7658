package natsutil

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
)

// ErrPublish is wrapped by Flush when the server rejected or never acknowledged a message.
var ErrPublish = errors.New("natsutil: publish not acknowledged")

// Publisher publishes asynchronously and checks every acknowledgement at Flush. A stage acks
// its input only after Flush succeeds, which makes delivery at-least-once; the message ids
// make it effectively once.
//
// A message the server did not acknowledge is published again at Flush, for up to RetryFor:
// a JetStream cluster that loses a node or elects a stream leader leaves publishes unanswered
// for a few seconds, and a stream at its byte bound refuses them until its consumer catches up.
// The message id makes a second copy of a message stored after all a duplicate. A retried
// message may land after later messages of the same Flush that were acknowledged the first
// time; data keeps its meaning (buckets are order-independent), a marker overtaken so would
// make the data it followed late, which the late counters and the DLQ show.
//
// A Publisher is not safe for concurrent use.
type Publisher struct {
	js      jetstream.JetStream
	pending []jetstream.PubAckFuture
	bytes   int // of the pending messages' data
	// RetryFor bounds the retries of Flush (DefaultRetryFor when zero, none when negative).
	RetryFor time.Duration
}

// DefaultRetryFor is how long Flush retries an unacknowledged message before it fails: longer
// than a JetStream cluster takes to elect new leaders after losing a node.
const DefaultRetryFor = time.Minute

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish sends msg, with id as its Nats-Msg-Id for JetStream's de-duplication when id is not
// empty.
//
// When the connection has as many unacknowledged publishes out as it allows (a stage that
// publishes faster than a loaded server acknowledges: a windower's rule runs over a long gap
// in the input, each with its status), Publish waits for acks for up to PublishAckTimeout,
// where nats.go would give up after 200 ms and the stage would stop on a server that is only
// slow.
func (p *Publisher) Publish(msg *nats.Msg, id string) error {
	opts := []jetstream.PublishOpt{jetstream.WithStallWait(PublishAckTimeout)}
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	f, err := p.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		return fmt.Errorf("natsutil: publish to %s: %w", msg.Subject, err)
	}
	p.pending = append(p.pending, f)
	p.bytes += len(msg.Data)
	return nil
}

// Pending is the number of messages published since the last Flush.
func (p *Publisher) Pending() int { return len(p.pending) }

// PendingBytes is the size of the data published since the last Flush: memory the
// Publisher holds (a message is kept until acknowledged, to be published again).
func (p *Publisher) PendingBytes() int { return p.bytes }

// Flush waits until every message published since the last Flush is acknowledged, publishing
// again those that were not (see RetryFor).
func (p *Publisher) Flush(ctx context.Context) error {
	defer func() { clear(p.pending); p.pending, p.bytes = p.pending[:0], 0 }()
	var failed []*nats.Msg
	var firstErr error
	for _, f := range p.pending {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: %s: %w", ErrPublish, f.Msg().Subject, err)
			}
			failed = append(failed, f.Msg())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return p.retry(ctx, failed, firstErr)
}

// retry publishes msgs again, in order and synchronously, until each is acknowledged or
// RetryFor has passed since the first failure.
func (p *Publisher) retry(ctx context.Context, msgs []*nats.Msg, first error) error {
	budget := p.RetryFor
	if budget == 0 {
		budget = DefaultRetryFor
	}
	if budget < 0 {
		return first
	}
	deadline := time.Now().Add(budget)
	wait := 50 * time.Millisecond
	for _, m := range msgs {
		for {
			attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := p.js.PublishMsg(attempt, m)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%w: %s: %w (retried for %s)", ErrPublish, m.Subject, err, budget)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
		}
	}
	return nil
}

// DeadLetter is bad input or late data on its way to the DLQ stream: the original bytes and
// where they came from, with the reason.
type DeadLetter struct {
	Stage  string
	Reason string
	Source string
	Line   int64
	Format string
	// AuthSource is the source the raw input's subject named (see control.HeaderAuthSource).
	AuthSource string
	Data       []byte
}

// Msg builds the dead-letter message on subject.
func (d DeadLetter) Msg(subject string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = d.Data
	m.Header.Set(control.HeaderStage, d.Stage)
	m.Header.Set(control.HeaderReason, d.Reason)
	if d.Source != "" {
		m.Header.Set(control.HeaderSource, d.Source)
	}
	if d.Line > 0 {
		m.Header.Set(control.HeaderLine, strconv.FormatInt(d.Line, 10))
	}
	if d.Format != "" {
		m.Header.Set(control.HeaderFormat, d.Format)
	}
	if d.AuthSource != "" {
		m.Header.Set(control.HeaderAuthSource, d.AuthSource)
	}
	return m
}

package natsutil

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
// A Publisher is not safe for concurrent use.
type Publisher struct {
	js      jetstream.JetStream
	pending []jetstream.PubAckFuture
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish sends msg, with id as its Nats-Msg-Id for JetStream's de-duplication when id is not
// empty.
func (p *Publisher) Publish(msg *nats.Msg, id string) error {
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	f, err := p.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		return fmt.Errorf("natsutil: publish to %s: %w", msg.Subject, err)
	}
	p.pending = append(p.pending, f)
	return nil
}

// Pending is the number of messages published since the last Flush.
func (p *Publisher) Pending() int { return len(p.pending) }

// Flush waits until every message published since the last Flush is acknowledged.
func (p *Publisher) Flush(ctx context.Context) error {
	defer func() { clear(p.pending); p.pending = p.pending[:0] }()
	for _, f := range p.pending {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("%w: %s: %w", ErrPublish, f.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
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
	Data   []byte
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
	return m
}

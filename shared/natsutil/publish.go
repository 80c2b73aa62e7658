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
// message may land after later messages that were acknowledged the first time: data keeps its
// meaning (buckets are order-independent), a marker does not. Data stored after its
// watermark is late, and a record stored after the end of its replay is signalled once the
// replay has ended (seen in TestReplicasSurviveKills when a NATS node died). So:
//
//   - an end of input goes out with PublishMarker, between two fences (Fence): stored after
//     everything published before it and before everything published after it. A fence
//     costs a round trip to the stream's leader; there is one end of input per replay.
//   - a watermark (one a bucket; a scorer partition's close, which the model takes in order,
//     is one too) goes out with PublishWatermark, which fences only while a
//     message may have been lost (Doubt): a publish failed, the connection was lost since
//     the last Flush, or the oldest unacknowledged message has waited more than DoubtAfter.
//     Fencing every watermark made the 3-node cluster's replay 1.8x slower (docs/performance.md,
//     item 21). A message lost with a stream leader (a node died) and a later one stored by
//     the next leader are seconds apart, the election's time, so the second is sent in doubt.
//     What this does not see: a publish that the server refused (a stream at its byte bound:
//     stages throttle well before) or that was lost between two publishes sent in the same
//     instant, as a connection broke, when the second was kept for the reconnect.
//
// A Publisher is not safe for concurrent use.
type Publisher struct {
	js      jetstream.JetStream
	pending []jetstream.PubAckFuture // sent since the last Flush, in order
	sentAt  []time.Time              // when each of pending was sent
	// known is how many of pending are known to be acknowledged, a prefix; failed is the
	// error of pending[known] once it is known to have failed.
	known  int
	failed error
	// markerEnd is one past the index in pending of the last marker sent (0: none);
	// markerOpen says that no fence follows the last marker published (sent or queued):
	// data published while it may be lost waits behind one.
	markerEnd  int
	markerOpen bool
	queue      []queued // not sent yet, in order, behind a fence
	held       int      // the messages in queue
	bytes      int      // of the pending and queued messages' data
	// reconnects is the connection's reconnect count at the last Flush.
	reconnects uint64
	// RetryFor bounds the retries of Flush (DefaultRetryFor when zero, none when negative).
	RetryFor time.Duration
}

// queued is a message waiting behind a fence, or a fence (msg nil).
type queued struct {
	msg    *nats.Msg
	marker bool
}

// DefaultRetryFor is how long Flush retries an unacknowledged message before it fails: longer
// than a JetStream cluster takes to elect new leaders after losing a node.
const DefaultRetryFor = time.Minute

// DoubtAfter is how long the oldest unacknowledged message may wait before a watermark is
// published behind a fence. No watermark waited that long in whole replays through a loaded
// 3-node cluster (docs/performance.md, item 21); a stream leader's election after its node
// died takes seconds.
const DoubtAfter = 500 * time.Millisecond

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher {
	return &Publisher{js: js, reconnects: js.Conn().Stats().Reconnects}
}

// Publish sends msg, with id as its Nats-Msg-Id for JetStream's de-duplication when id is not
// empty. Behind a fence, msg waits in the Publisher until everything before the fence is
// stored.
//
// When the connection has as many unacknowledged publishes out as it allows (a stage that
// publishes faster than a loaded server acknowledges: a windower's rule runs over a long gap
// in the input, each with its status), Publish waits for acks for up to PublishAckTimeout,
// where nats.go would give up after 200 ms and the stage would stop on a server that is only
// slow.
func (p *Publisher) Publish(msg *nats.Msg, id string) error {
	if p.markerOpen {
		if p.settle(); len(p.queue) == 0 && p.markerEnd <= p.known {
			p.markerOpen = false // the watermark is stored
		} else if p.Doubt() { // it may be lost: nothing may overtake it
			if err := p.Fence(); err != nil {
				return err
			}
		}
	}
	return p.publish(msg, id, false)
}

// PublishMarker publishes msgs, markers (the end of a replay, one per partition), between two
// fences: they are stored after everything published before them and before everything
// published after them. A message's Nats-Msg-Id, if it needs one, is its header's.
func (p *Publisher) PublishMarker(msgs ...*nats.Msg) error {
	if err := p.Fence(); err != nil {
		return err
	}
	for _, m := range msgs {
		if err := p.publish(m, "", true); err != nil {
			return err
		}
	}
	return p.Fence()
}

// PublishWatermark publishes msgs, markers (a watermark, one per partition), behind a fence
// while in Doubt; what follows waits behind one while they are unacknowledged in doubt.
func (p *Publisher) PublishWatermark(msgs ...*nats.Msg) error {
	if p.Doubt() {
		if err := p.Fence(); err != nil {
			return err
		}
	}
	p.markerOpen = true
	for _, m := range msgs {
		if err := p.publish(m, "", true); err != nil {
			return err
		}
	}
	return nil
}

// Fence makes everything published before it stored before anything published after it,
// whatever is refused or lost and published again on the way. Neither the stage nor the
// server waits for it: what comes after waits in the Publisher until every message before is
// acknowledged, and is sent then (by a later publish, or Flush).
func (p *Publisher) Fence() error {
	p.markerOpen = false
	p.queue = append(p.queue, queued{})
	return p.pump()
}

// Doubt reports whether a message sent since the last Flush may have been lost: one is
// waiting behind a fence, a publish is known to have failed, the connection is down or was
// lost since the last Flush, or the oldest unacknowledged message has waited more than
// DoubtAfter.
func (p *Publisher) Doubt() bool {
	if len(p.queue) > 0 {
		return true
	}
	p.settle()
	if p.known == len(p.pending) {
		return false
	}
	if p.failed != nil {
		return true
	}
	nc := p.js.Conn()
	if nc.Status() != nats.CONNECTED || nc.Stats().Reconnects != p.reconnects {
		return true
	}
	return time.Since(p.sentAt[p.known]) > DoubtAfter
}

func (p *Publisher) publish(msg *nats.Msg, id string, marker bool) error {
	if id != "" {
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		msg.Header.Set(jetstream.MsgIDHeader, id)
	}
	p.bytes += len(msg.Data)
	if len(p.queue) == 0 {
		return p.send(msg, marker)
	}
	p.queue = append(p.queue, queued{msg, marker})
	p.held++
	return p.pump()
}

// send publishes msg asynchronously.
func (p *Publisher) send(msg *nats.Msg, marker bool) error {
	f, err := p.js.PublishMsgAsync(msg, jetstream.WithStallWait(PublishAckTimeout))
	if err != nil {
		return fmt.Errorf("natsutil: publish to %s: %w", msg.Subject, err)
	}
	p.pending = append(p.pending, f)
	p.sentAt = append(p.sentAt, time.Now())
	if marker {
		p.markerEnd = len(p.pending)
	}
	return nil
}

// pump sends the queued messages up to the first fence that still holds (a message sent
// before it is not known to be acknowledged).
func (p *Publisher) pump() error {
	for len(p.queue) > 0 {
		if q := p.queue[0]; q.msg != nil {
			if err := p.send(q.msg, q.marker); err != nil {
				return err
			}
			p.held--
		} else if p.settle(); p.known < len(p.pending) {
			return nil
		}
		p.queue[0] = queued{}
		p.queue = p.queue[1:]
	}
	return nil
}

// settle advances known over the acknowledgements that have arrived, without waiting. A
// failure stops it there: Flush publishes the message again.
func (p *Publisher) settle() {
	for p.failed == nil && p.known < len(p.pending) {
		f := p.pending[p.known]
		select {
		case <-f.Ok():
			p.known++
		case err := <-f.Err():
			p.failed = err
			return
		default:
			return
		}
	}
}

// Pending is the number of messages published since the last Flush.
func (p *Publisher) Pending() int { return len(p.pending) + p.held }

// PendingBytes is the size of the data published since the last Flush: memory the
// Publisher holds (a message is kept until acknowledged, to be published again).
func (p *Publisher) PendingBytes() int { return p.bytes }

// Flush waits until every message published since the last Flush is acknowledged, publishing
// again those that were not (see RetryFor), and sending the queued ones in their turn.
func (p *Publisher) Flush(ctx context.Context) error {
	defer func() {
		clear(p.pending)
		clear(p.queue)
		p.pending, p.sentAt, p.queue = p.pending[:0], p.sentAt[:0], p.queue[:0]
		p.known, p.failed, p.markerEnd, p.markerOpen, p.held, p.bytes = 0, nil, 0, false, 0, 0
	}()
	for {
		if err := p.settleAll(ctx); err != nil {
			return err
		}
		if len(p.queue) == 0 {
			p.reconnects = p.js.Conn().Stats().Reconnects
			return nil
		}
		if err := p.pump(); err != nil {
			return err
		}
	}
}

// settleAll waits for the acknowledgement of every message sent, and publishes again, in
// order, those that failed.
func (p *Publisher) settleAll(ctx context.Context) error {
	var failed []*nats.Msg
	var firstErr error
	for i := p.known; i < len(p.pending); i++ {
		f := p.pending[i]
		var err error
		if i == p.known && p.failed != nil {
			err = p.failed
		} else {
			select {
			case <-f.Ok():
			case err = <-f.Err():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%w: %s: %w", ErrPublish, f.Msg().Subject, err)
			}
			failed = append(failed, f.Msg())
		}
	}
	if len(failed) > 0 {
		if err := p.retry(ctx, failed, firstErr); err != nil {
			return err
		}
	}
	p.known, p.failed = len(p.pending), nil
	return nil
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

package natsutil

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBarrierInterval is the least time between two reads of the consumer's ack floor by a
// Barrier.
const DefaultBarrierInterval = 5 * time.Millisecond

// BarrierIdle is the Loop.Idle of stages whose messages wait at a Barrier: a replica commits
// (and acks) after this much idle input, and a marker held by another replica waits for that
// ack, so the default 50ms would add up to 50ms per bucket to a replay through replicas.
// Measured with TestCompose (two of each stage, 3-node cluster, the bundled sample): replay
// 16-19 s with 10ms against 26-28 s with 50ms.
const BarrierIdle = 10 * time.Millisecond

// Barrier tells a stage whose replicas share one durable consumer when every message before a
// given stream sequence is done: acknowledged by whichever replica had it, or done by this
// replica itself. Stages ack a message only once everything they produced from it is stored,
// and what this replica did is published ahead of whatever it publishes next (JetStream keeps
// one publisher's order), so a marker published once its barrier passes follows, in the next
// stream, the output of every message that preceded it in the input, however the input was
// shared among replicas.
//
// The consumer's ack floor (ConsumerInfo.AckFloor.Stream: every message at or before it is
// acknowledged) is read only when what the replica knows does not suffice, and not more often
// than Interval. With one replica, every message is its own, and the floor is read once.
//
// A Barrier is not safe for concurrent use: the stage's loop is its only user.
type Barrier struct {
	cons jetstream.Consumer
	// Interval is the least time between two reads of the consumer's info.
	Interval time.Duration
	floor    uint64              // every message at or before floor is done
	done     map[uint64]struct{} // messages above floor that this replica has done
	read     time.Time           // when the floor was last read from the server
}

// NewBarrier returns a Barrier on the stage's consumer.
func NewBarrier(cons jetstream.Consumer) *Barrier {
	return &Barrier{cons: cons, Interval: DefaultBarrierInterval, done: map[uint64]struct{}{}}
}

// Done records that this replica has done the message of stream sequence seq: its output is
// published (acknowledged or not), ahead of anything the replica publishes after.
func (b *Barrier) Done(seq uint64) {
	if seq <= b.floor {
		return
	}
	b.done[seq] = struct{}{}
	b.advance()
}

// Passed reports whether every message before stream sequence seq is done. It reads the
// consumer's ack floor when needed and allowed by Interval; otherwise it answers from what it
// knows, which may be false for now.
func (b *Barrier) Passed(ctx context.Context, seq uint64) (bool, error) {
	if b.floor+1 >= seq {
		return true, nil
	}
	if time.Since(b.read) < b.Interval {
		return false, nil
	}
	b.read = time.Now()
	ictx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	info, err := b.cons.Info(ictx)
	if Transient(err) && ctx.Err() == nil {
		return false, nil // a cluster electing a leader: ask again at the next commit
	}
	if err != nil {
		return false, fmt.Errorf("natsutil: barrier: consumer info: %w", err)
	}
	b.raise(info.AckFloor.Stream)
	return b.floor+1 >= seq, nil
}

// Floor is every message at or before it is known to be done.
func (b *Barrier) Floor() uint64 { return b.floor }

// raise moves the floor up to what the server reported and forgets what it now covers.
func (b *Barrier) raise(floor uint64) {
	if floor <= b.floor {
		return
	}
	b.floor = floor
	for s := range b.done {
		if s <= floor {
			delete(b.done, s)
		}
	}
	b.advance()
}

// advance moves the floor over the run of messages this replica did right above it.
func (b *Barrier) advance() {
	for {
		if _, ok := b.done[b.floor+1]; !ok {
			return
		}
		delete(b.done, b.floor+1)
		b.floor++
	}
}

// Held is the set of messages, by stream sequence, that a stage keeps unacknowledged while
// what they carry waits at its Barrier. Its Retain is the stage's Loop.Retain.
type Held map[uint64]bool

// Retain reports whether msg is held.
func (h Held) Retain(msg jetstream.Msg) bool {
	if len(h) == 0 {
		return false
	}
	meta, err := msg.Metadata()
	return err == nil && h[meta.Sequence.Stream]
}

package natsutil

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultAckWait is how long JetStream waits for a stage's ack before it delivers a message
// again, to any replica of the stage. A live stage never lets it pass on a message it holds
// (Loop reports progress on them); it is how long the messages of a dead replica wait. It is
// shorter than the streams' 2-minute duplicate window (stream.Config), so that what a dead
// replica published just before it died is still recognised when its input comes again.
const DefaultAckWait = time.Minute

// DurableConsumer creates or updates the shared durable pull consumer of a stage. Acks are
// explicit (the work-queue streams require it): a stage processes its input in order and acks
// each message once everything it produced from it is stored.
func DurableConsumer(ctx context.Context, js jetstream.JetStream, stream, name string, filters ...string) (jetstream.Consumer, error) {
	return DurableConsumerAckWait(ctx, js, stream, name, DefaultAckWait, filters...)
}

// DurableConsumerAckWait is DurableConsumer with the ack wait given (0: DefaultAckWait). The
// consumer is shared: the replica started last sets it for all.
func DurableConsumerAckWait(ctx context.Context, js jetstream.JetStream, stream, name string, ackWait time.Duration, filters ...string) (jetstream.Consumer, error) {
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        name,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxAckPending:  65536,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		FilterSubjects: filters,
	}
	var c jetstream.Consumer
	err := retryWithin(ctx, consumerAttempt, func(ctx context.Context) error {
		var err error
		if cfg.MemoryStorage, err = memoryState(ctx, js, stream, name); err != nil {
			return err
		}
		c, err = js.CreateOrUpdateConsumer(ctx, stream, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("natsutil: consumer %s on %s: %w", name, stream, err)
	}
	return c, nil
}

// consumerAttempt bounds one attempt to create (or update) a stage's consumer. A 3-node
// cluster now and then never answers a consumer's creation (nats-io/nats-server#8350: the
// client waits out its 5 s and fails; seen here once in about twenty takeovers of a scorer's
// partition, whose consumer took 5.1 s where the three taken with it took 80 ms), and the
// stage waited RequestTimeout's 5 s before it asked again. The request is idempotent (the
// same configuration again changes nothing), so it is asked again after a second: an answer
// that is only slow (a busy cluster electing the consumer's leader) comes to a later attempt.
const consumerAttempt = time.Second

// FreshConsumer deletes and recreates a durable consumer, so that what its previous reader
// left unacknowledged is delivered again at once and in stream order, not after the ack wait
// while later messages go first. For a reader that must take its input in order and is the
// only one (a lease holder: a scorer's partition, the model, the active windower), on a
// work-queue stream, where the new consumer delivers exactly the messages not acked.
func FreshConsumer(ctx context.Context, js jetstream.JetStream, stream, name string, filters ...string) (jetstream.Consumer, error) {
	err := Retry(ctx, func(ctx context.Context) error { return js.DeleteConsumer(ctx, stream, name) })
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("natsutil: reset consumer %s on %s: %w", name, stream, err)
	}
	return DurableConsumer(ctx, js, stream, name, filters...)
}

// memoryState reports whether the consumer keeps its state in memory. A new consumer of a
// work-queue stream does (every stage's input is one): the stream deletes a message once it is
// acked, so the stream itself holds what the state would say is left, and a consumer that
// lost its state delivers exactly the messages not acked, which every stage takes again (as
// after an ack wait ran out). On a cluster the state is still replicated to the consumer's
// peers, and survives a node's restart; what it saves is the state file each replica of each
// consumer rewrote up to ten times a second: a tenth of a 3-node cluster's CPU in a replay
// (docs/performance.md). A consumer that exists keeps its storage, which the server does not
// let an update change.
func memoryState(ctx context.Context, js jetstream.JetStream, stream, name string) (bool, error) {
	c, err := js.Consumer(ctx, stream, name)
	if err == nil {
		return c.CachedInfo().Config.MemoryStorage, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false, err
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return false, err
	}
	return s.CachedInfo().Config.Retention == jetstream.WorkQueuePolicy, nil
}

// Loop drives a stage: it pulls messages in stream order, hands each to Handle, and every
// MaxBatch messages or after Idle without input calls Commit, then acks what Commit covered.
// Everything runs on one goroutine, so a stage's state needs no locks and its output order is
// the input order.
type Loop struct {
	Consumer jetstream.Consumer
	// Handle processes one message. It must not ack it. An error stops the loop: it is for
	// failures of the stage itself; bad input goes to the DLQ instead. It must not wait for
	// other messages to be acked either (they may be its own, or held by another replica):
	// a message that cannot be finished yet is kept with Retain and finished in Release.
	Handle func(context.Context, jetstream.Msg) error
	// Commit makes the effects of every handled message durable (flushes publishes, writes
	// checkpoints). Optional. It is also called while only retained messages are left, so
	// that what completed meanwhile (a bucket closed on the clock) is durable before the
	// message is acked.
	Commit func(context.Context) error
	// Tick is called whenever the input is idle, with the wall-clock time, for stages that
	// advance on the clock in live mode. Optional.
	Tick func(context.Context, time.Time) error
	// Throttle is called after each Commit that covered new messages and may wait: a stage
	// uses it to hold back while the stream it feeds is full (back-pressure). Optional.
	Throttle func(context.Context) error
	// Retain, called after each Commit for every message not yet acked, keeps a message
	// unacked while it returns true: for stages whose commit does not yet cover everything a
	// message contributed to (an event in a bucket still open, a marker waiting at a
	// Barrier). Optional: nil acks all. The loop reports progress on retained messages every
	// third of the consumer's ack wait, so they are not delivered again while it runs.
	Retain func(jetstream.Msg) bool
	// Release is called after the acks of each commit while messages are retained: the stage
	// finishes there what was waiting for those acks (a marker whose Barrier has passed),
	// makes it durable, and the loop then acks the messages Retain no longer keeps. While
	// messages are retained, the loop commits at least every Idle even under steady input.
	// Optional.
	Release func(context.Context) error
	// MaxBatch bounds the messages handled between commits (default 1000).
	MaxBatch int
	// Full, asked after each handled message, reports that the stage holds enough output
	// not yet confirmed to commit now, before MaxBatch: a stage whose output per message is
	// large (ingest: the event batches of a megabyte of raw input) so bounds what it holds
	// for the server's acks, which would otherwise grow with the input until the loop idles.
	// Optional.
	Full func() bool
	// PullBytes, when set, bounds the bytes the client buffers ahead of Handle instead of
	// the number of messages (MaxBatch, at most 1000): for a stream of large messages (raw
	// input), whose prefetch would otherwise hold hundreds of megabytes. It must exceed the
	// largest message, or the loop stalls. A MaxBatch below 1000 still bounds the messages
	// instead (tests make replicas take turns that way).
	PullBytes int
	// Idle is how long to wait for input before committing and ticking (default 50ms).
	Idle time.Duration
	// IdleCommitEvery, when set, is the least time between two commits that a pause in the
	// input makes: a pause sooner after the last commit only ticks. For a stage whose commit
	// costs a round trip of its own (the scorer's partitions write their close marks to an R3
	// KV bucket) and whose input pauses between bursts: committing at every pause made the
	// number of those writes follow how the input happened to be spread over processes
	// (docs/performance.md item 31). MaxBatch, Full and a gap (Release) still commit at once.
	IdleCommitEvery time.Duration
	// InOrder stops the loop with ErrOutOfOrder, before handling the message, when a message
	// does not come in order: its delivery does not follow the last one (the consumer
	// sequence skipped one, or went back), or its stream sequence is not past the last
	// one's. A delivery is lost on its way when the NATS node or the pull request it was sent
	// through goes away (a node's death), and the server delivers it again only once the ack
	// wait has passed, long after the messages behind it. A stage that closes buckets on a
	// watermark, or takes closes in order, must not see those first: it restarts from its
	// durable state on a fresh consumer (FreshConsumer), which delivers everything
	// unacknowledged again in stream order. For consumers only this loop reads.
	InOrder bool
}

// ErrOutOfOrder is returned by a Loop with InOrder when a message came out of order.
var ErrOutOfOrder = errors.New("natsutil: a message came out of order (a delivery was lost on its way)")

// gapCommitEvery is the least time between two commits a gap in a loop's input makes (see
// Run).
const gapCommitEvery = 50 * time.Millisecond

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
	it, err := l.Consumer.Messages(l.pullOpt(maxBatch))
	if err != nil {
		return fmt.Errorf("natsutil: pull messages: %w", err)
	}
	// handled holds the messages not acked yet: those handled since the last commit, and those
	// Retain kept back at earlier commits. fresh counts the former.
	handled := make([]jetstream.Msg, 0, maxBatch)
	// draining is the iterator a stall replaced, while the messages it was delivered are read
	// (see the stall below); nil otherwise.
	var draining jetstream.MessagesContext
	var drainEnd time.Time
	defer func() {
		if draining != nil {
			draining.Stop()
		}
		it.Stop()
		// Stopped (shut down, or a lease lost): the messages not acked go back to the stream
		// at once, for the replica that takes over, instead of after the consumer's ack wait.
		// That replica handles them again as it would after a crash (ids drop what this one
		// already published). A loop that failed keeps them until the ack wait passes.
		if ctx.Err() != nil && len(handled) > 0 {
			giveBack(it, handled)
		}
	}()
	watch := stallWatch{consumer: l.Consumer, last: time.Now()}
	order := deliveryOrder{}
	if info := l.Consumer.CachedInfo(); info != nil {
		order.next = info.Delivered.Consumer + 1
	}
	fresh := 0
	var lastSeq uint64 // the stream sequence of the last message handled
	beat := progressBeat(l.Consumer)
	lastBeat, lastCommit := time.Now(), time.Now()
	ack := func() error {
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
		handled = kept
		return nil
	}
	// progress tells the server, every beat, that the messages held are still being worked
	// on, so that their ack wait never passes while this replica runs.
	progress := func() {
		if len(handled) == 0 || time.Since(lastBeat) < beat {
			return
		}
		lastBeat = time.Now()
		for _, m := range handled {
			_ = m.InProgress() // a lost report only risks a redelivery, which ids make harmless
		}
	}
	// throttle waits on l.Throttle, reporting progress meanwhile: the next stage may be
	// behind for longer than the ack wait, and the messages held (a scorer's open buckets,
	// ingest's markers at the barrier) would come again, and their work be done twice.
	throttle := func() error {
		wait := make(chan error, 1)
		go func() { wait <- l.Throttle(ctx) }()
		var tick <-chan time.Time
		if len(handled) > 0 {
			t := time.NewTicker(beat)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case err := <-wait:
				return err
			case <-tick:
				progress()
			}
		}
	}
	commit := func() error {
		if len(handled) == 0 {
			return nil
		}
		if l.Commit != nil {
			if err := l.Commit(ctx); err != nil {
				return err
			}
		}
		if err := ack(); err != nil {
			return err
		}
		if l.Release != nil && len(handled) > 0 {
			if err := l.Release(ctx); err != nil {
				return err
			}
			if err := ack(); err != nil {
				return err
			}
		}
		lastCommit = time.Now()
		progress()
		covered := fresh > 0
		fresh = 0
		if covered && l.Throttle != nil {
			return throttle()
		}
		return nil
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		from := it
		if draining != nil {
			from = draining
		}
		msg, err := from.Next(jetstream.NextMaxWait(idle))
		if draining != nil && err != nil && (errors.Is(err, jetstream.ErrMsgIteratorClosed) || time.Now().After(drainEnd)) {
			// Drained (or given up on: what it still had comes again after the ack wait).
			draining.Stop()
			draining = nil
			continue
		}
		switch {
		case errors.Is(err, nats.ErrTimeout):
			if time.Since(lastCommit) >= l.IdleCommitEvery {
				if err := commit(); err != nil {
					return StopErr(ctx, err)
				}
			}
			if draining == nil && watch.stalled(ctx) {
				// Drained, not stopped: the server may have answered the pull in the moment
				// between Next giving up and the consumer's info (a busy machine delays the
				// delivery), and a stopped iterator drops what it was delivered, which then
				// comes again only after the ack wait (a minute). The loop reads what the old
				// iterator has, in order, before the new one's.
				it.Drain()
				draining, drainEnd = it, time.Now().Add(drainFor)
				next, err := l.Consumer.Messages(l.pullOpt(maxBatch))
				if err != nil { // it stays the drained iterator, for the deferred Stop
					return StopErr(ctx, fmt.Errorf("natsutil: pull messages again: %w", err))
				}
				it = next
			}
			if l.Tick != nil {
				if err := l.Tick(ctx, time.Now()); err != nil {
					return StopErr(ctx, err)
				}
			}
			continue
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return StopErr(ctx, err)
		case errors.Is(err, jetstream.ErrConsumerDeleted):
			return StopErr(ctx, fmt.Errorf("natsutil: the stage's consumer was deleted: %w", err))
		case err != nil:
			// Transient pull errors (a reconnect, a leader change) are retried by the iterator;
			// the pause keeps a lasting one from spinning.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		watch.message()
		if l.Release != nil {
			// A message that does not follow the last one handled here means that another
			// replica holds those between, and their markers may wait at its Barrier for this
			// replica's acks: commit now, not once MaxBatch or Full says so (ingest replicas
			// that prefetch megabytes each otherwise held each other's watermarks for
			// seconds), but not more often than gapCommitEvery: live input, whose replicas
			// take turns message by message and seldom hold a marker, would wait for the
			// server's acks at every message.
			if meta, err := msg.Metadata(); err == nil {
				seq := meta.Sequence.Stream
				if fresh > 0 && seq != lastSeq+1 && time.Since(lastCommit) >= gapCommitEvery {
					if err := commit(); err != nil {
						return StopErr(ctx, err)
					}
				}
				lastSeq = seq
			}
		}
		if l.InOrder {
			if err := order.check(msg); err != nil {
				return StopErr(ctx, err)
			}
		}
		if err := l.Handle(ctx, msg); err != nil {
			return StopErr(ctx, err)
		}
		handled = append(handled, msg)
		fresh++
		waiting := l.Release != nil && len(handled) > fresh && time.Since(lastCommit) >= idle
		if fresh >= maxBatch || waiting || l.Full != nil && l.Full() {
			if err := commit(); err != nil {
				return StopErr(ctx, err)
			}
		} else {
			progress()
		}
	}
}

// deliveryOrder checks that a consumer's messages come in order (Loop.InOrder).
type deliveryOrder struct {
	next   uint64 // the consumer sequence the next delivery must have; 0 before the first
	stream uint64 // the stream sequence of the last message
}

func (o *deliveryOrder) check(msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("natsutil: message metadata: %w", err)
	}
	d, s := meta.Sequence.Consumer, meta.Sequence.Stream
	if o.next != 0 && d != o.next || s <= o.stream {
		return fmt.Errorf("%w: delivery %d (stream message %d, delivered %d times) where %d (after stream message %d) was due",
			ErrOutOfOrder, d, s, meta.NumDelivered, o.next, o.stream)
	}
	o.next, o.stream = d+1, s
	return nil
}

// giveBack returns msgs to the stream (a negative ack each) once it, the stopped iterator, has
// unsubscribed, which it does in the background: a message given back before that would be
// delivered again to its pull request, which no one reads, and wait out the ack wait after all.
func giveBack(it jetstream.MessagesContext, msgs []jetstream.Msg) {
	// The iterator's Closed tells it at the call (its channel is not closed later on Stop).
	if c, ok := it.(interface{ Closed() <-chan struct{} }); ok {
		for end := time.Now().Add(time.Second); !isClosed(c.Closed()) && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, m := range msgs {
		_ = m.Nak()
	}
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// pullOpt bounds the client's prefetch (see PullBytes). Bounding both messages and bytes
// (PullMaxMessagesWithBytesLimit) made the iterator's channel overflow: the client dropped
// raw messages as a slow consumer, and they came again only after the ack wait.
func (l *Loop) pullOpt(maxBatch int) jetstream.PullMessagesOpt {
	if l.PullBytes > 0 && maxBatch >= 1000 {
		return jetstream.PullMaxBytes(l.PullBytes)
	}
	return jetstream.PullMaxMessages(min(maxBatch, 1000))
}

// stallFirst is how long a loop goes without a message before it first asks whether its
// pull is still registered; each check doubles the wait, up to stallMax, until a message
// comes. A lost pull so costs about a quarter of a second, and an idle live stage asks every
// stallMax (a consumer info request each).
const (
	stallFirst = 250 * time.Millisecond
	stallMax   = 5 * time.Second
	// drainFor bounds the reading of a replaced iterator's deliveries: its drain ends after a
	// round trip to the server, so this is only for a server that does not answer.
	drainFor = 5 * time.Second
)

// stallWatch finds a pull that the server lost. The iterator only notices a lost pull by its
// missing heartbeats, and it watches them within one call of Next, which the loop keeps short
// (Idle) to commit and tick: a pull request lost while a new replicated consumer elects its
// leader (seen on a 3-node cluster: a partition's consumer with messages pending and no pull
// waiting, its loop idle for minutes) would then never be noticed. On a 3-node cluster a
// stage that has just taken over, or whose consumer has just been recreated, loses its first
// pull now and then (BenchmarkBucketCost's slow rounds, docs/performance.md item 27): the
// consumer then shows no pull waiting before anything is pending, and waiting for a
// message to be pending as well cost a second more, at every such takeover.
type stallWatch struct {
	consumer jetstream.Consumer
	last     time.Time     // the last message, or the last check
	wait     time.Duration // of silence before the next check; 0 is stallFirst
}

// message notes that a message came: the next silence is checked after stallFirst.
func (w *stallWatch) message() { w.last, w.wait = time.Now(), 0 }

// stalled reports, after stallFirst of silence and then less and less often, whether the
// consumer has no pull request waiting: the loop's iterator always keeps one while it is
// idle, so the server lost it and the iterator must pull again.
func (w *stallWatch) stalled(ctx context.Context) bool {
	if w.wait == 0 {
		w.wait = stallFirst
	}
	if time.Since(w.last) < w.wait {
		return false
	}
	w.last, w.wait = time.Now(), min(2*w.wait, stallMax)
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := w.consumer.Info(ictx)
	return err == nil && info.NumWaiting == 0
}

// progressBeat is how often a loop reports progress on the messages it holds: a third of the
// consumer's ack wait.
func progressBeat(c jetstream.Consumer) time.Duration {
	wait := DefaultAckWait
	if info := c.CachedInfo(); info != nil && info.Config.AckWait > 0 {
		wait = info.Config.AckWait
	}
	return wait / 3
}

// StopErr hides errors caused by the shutdown itself: nil once ctx is done, err otherwise.
func StopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

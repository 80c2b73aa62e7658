package scorer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// closeMark records that a partition closed through bucket Through when handling the message
// of stream sequence Seq: events of those buckets in messages before Seq were counted.
type closeMark struct {
	Through int64  `json:"through"`
	Seq     uint64 `json:"seq"`
}

// partitionState is what an aggregator keeps in the scorer KV bucket.
type partitionState struct {
	Closed int64       `json:"closed"`
	Marks  []closeMark `json:"marks"`
}

// keepMarks bounds the close history per partition: a redelivered message is never older than
// a few closes, since messages are acked once their buckets close.
const keepMarks = 64

// errStateTaken is returned when a partition's state key was written by another replica since
// this one read or wrote it: the partition is no longer this replica's.
var errStateTaken = fmt.Errorf("%w: the partition's state was written by another scorer", lease.ErrLost)

// aggregating is the scorer's first half for one partition this replica owns: the partition's
// Aggregator and close history, and the messages it keeps unacknowledged. It lives while the
// replica owns the partition and is dropped when it gives the partition up.
type aggregating struct {
	s   *Service
	p   int
	pub *natsutil.Publisher
	agg *Aggregator
	// marks is the close history, kept in the KV bucket.
	marks []closeMark
	// rev is the revision of the partition's state key that this owner read or wrote last.
	// Writing with compare-and-set on it keeps a previous owner that still runs from
	// overwriting its successor's state.
	rev   uint64
	dirty bool
	// newest holds, for each message not acked yet, the newest bucket it added events to; the
	// message is acked once the partition is closed through that bucket.
	newest map[uint64]int64
	// lastSeq is the sequence of the last message handled.
	lastSeq uint64
	// batch and ev are reused from one message to the next.
	batch event.BatchReader
	raw   rawdata.Decoder // batches come S2-compressed
	ev    event.Event
	enc   msgpackEncoder
}

// takePartition restores partition p's close history from the KV bucket and makes its state
// key this owner's.
func takePartition(ctx context.Context, s *Service, p int) (*aggregating, error) {
	for attempt := 0; ; attempt++ {
		a := &aggregating{s: s, p: p, pub: natsutil.NewPublisher(s.js), agg: NewAggregator(s.cfg.Job),
			newest: map[uint64]int64{}}
		err := a.restore(ctx)
		// The previous owner may still have committed between the read and the write: read
		// its last state again.
		if err == nil || !errors.Is(err, errStateTaken) || attempt == 9 {
			return a, err
		}
	}
}

func partitionKey(p int) string { return "partition." + strconv.Itoa(p) }

// restore reads the partition's state and writes it back at once: the compare-and-set fences
// off a previous owner that still runs, whose next commit then fails.
func (a *aggregating) restore(ctx context.Context) error {
	e, err := a.s.kv.Get(ctx, partitionKey(a.p))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		a.rev = 0
	case err != nil:
		return fmt.Errorf("scorer: restore partition %d: %w", a.p, err)
	default:
		var st partitionState
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return fmt.Errorf("scorer: restore partition %d: %w", a.p, err)
		}
		a.agg.closed, a.marks, a.rev = st.Closed, st.Marks, e.Revision()
	}
	return a.store(ctx)
}

// store writes how far the partition is closed, with compare-and-set on the last revision.
func (a *aggregating) store(ctx context.Context) error {
	b, err := json.Marshal(partitionState{Closed: a.agg.Closed(), Marks: a.marks})
	if err != nil {
		return err
	}
	var rev uint64
	if a.rev == 0 {
		rev, err = a.s.kv.Create(ctx, partitionKey(a.p), b)
	} else {
		rev, err = a.s.kv.Update(ctx, partitionKey(a.p), b, a.rev)
	}
	if lease.Conflict(err) {
		return fmt.Errorf("%w (partition %d): %w", errStateTaken, a.p, err)
	}
	if err != nil {
		return fmt.Errorf("scorer: remember partition %d: %w", a.p, err)
	}
	a.rev = rev
	return nil
}

func (a *aggregating) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("scorer: message metadata: %w", err)
	}
	seq := meta.Sequence.Stream
	a.lastSeq = seq
	if msg.Subject() != stream.EventsSubject(a.p) {
		a.deadLetterData(seq, 0, "event on "+msg.Subject()+": not partition "+strconv.Itoa(a.p)+" of "+strconv.Itoa(a.s.partitions), &event.Event{}, msg.Data())
		return nil
	}
	if h := msg.Headers(); control.IsControl(h) {
		m, err := control.Parse(h)
		if err != nil {
			a.s.log.Warn("ignoring control message", "err", err)
			return nil
		}
		if m.Kind == control.KindEOF {
			return a.endOfInput(seq, m)
		}
		return a.closeBefore(seq, m.Watermark)
	}
	newest := int64(noBucket)
	r := &a.batch
	data, err := a.raw.Data(msg.Headers(), msg.Data())
	if err != nil {
		a.deadLetterData(seq, 0, "undecodable event batch: "+err.Error(), &event.Event{}, msg.Data())
		return nil
	}
	if err := r.Decode(data); err != nil {
		// The batch as ingest encoded it (decompressed), so that a reader can look into it.
		a.deadLetterData(seq, 0, "undecodable event batch: "+err.Error(), &event.Event{}, data)
		return nil
	}
	ev := &a.ev
	for n := range r.Len() {
		r.Event(n, ev)
		a.s.stats.Events.Add(1)
		k, err := a.agg.Add(ev)
		if err == nil {
			newest = max(newest, k)
			continue
		}
		if a.counted(seq, k) {
			continue // redelivered after a restart or takeover: it is in a bucket already published
		}
		a.s.stats.Late.Add(1)
		a.deadLetter(seq, n, err.Error(), ev)
	}
	if newest != noBucket {
		a.newest[seq] = newest
	}
	return nil
}

// counted reports whether an event of bucket k in the message of sequence seq was part of the
// bucket when it closed: the message came before the one whose watermark closed it.
func (a *aggregating) counted(seq uint64, k int64) bool {
	for _, m := range a.marks {
		if m.Through >= k {
			return seq < m.Seq
		}
	}
	return false
}

// deadLetter sends a late event to the DLQ, as the normalized event's JSON.
func (a *aggregating) deadLetter(seq uint64, n int, reason string, ev *event.Event) {
	data, err := json.Marshal(ev)
	if err != nil {
		data = []byte(err.Error())
	}
	a.deadLetterData(seq, n, reason, ev, data)
}

func (a *aggregating) deadLetterData(seq uint64, n int, reason string, ev *event.Event, data []byte) {
	dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Source: ev.Origin.Source, Line: ev.Origin.Line,
		Format: ev.Origin.Format, Data: bytes.Clone(data)}
	// The id makes the dead letter of a redelivered message a duplicate, not a second letter.
	id := "late-" + strconv.FormatUint(seq, 10) + "-" + strconv.Itoa(n)
	if err := a.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), id); err != nil {
		a.s.log.Error("dead letter not published", "err", err, "reason", reason)
	}
}

// closeBefore closes the partition's buckets ending at or before wm and publishes them.
func (a *aggregating) closeBefore(seq uint64, wm time.Time) error {
	after := a.agg.Closed()
	sums, ok := a.agg.CloseBefore(wm)
	if !ok {
		return nil
	}
	return a.publishClose(seq, PartitionClose{Partition: a.p, ClosedThrough: a.agg.Closed(), After: &after, Buckets: sums})
}

// closeOnClock closes the partition on the wall clock (live mode). Every message handled so
// far came before this close.
func (a *aggregating) closeOnClock(wm time.Time) error {
	return a.closeBefore(a.lastSeq+1, wm)
}

// endOfInput closes the partition through the bucket of the replay's latest event, which
// every partition is told, so that all partitions end at the same bucket.
func (a *aggregating) endOfInput(seq uint64, m control.Marker) error {
	agg := a.agg
	last := agg.LastOpen()
	if !m.Watermark.IsZero() {
		last = max(last, agg.bucketOf(m.Watermark))
	}
	after := agg.Closed()
	sums, _ := agg.CloseThrough(last)
	pc := PartitionClose{Partition: a.p, ClosedThrough: agg.Closed(), After: &after, Buckets: sums, EOF: true, Replay: m.Replay, Stats: m.Stats}
	return a.publishClose(seq, pc)
}

func (a *aggregating) publishClose(seq uint64, pc PartitionClose) error {
	a.marks = append(a.marks, closeMark{Through: pc.ClosedThrough, Seq: seq})
	if n := len(a.marks); n > keepMarks {
		a.marks = a.marks[n-keepMarks:]
	}
	a.dirty = true
	limit := int(a.s.js.Conn().MaxPayload()) - closeHeadroom
	if a.s.maxClose > 0 {
		limit = min(limit, a.s.maxClose)
	}
	return a.enc.closeParts(pc, limit, func(part PartitionClose, data []byte) error {
		id := "close-" + strconv.Itoa(a.p) + "-" + strconv.FormatInt(part.ClosedThrough, 10)
		if part.EOF {
			id += "-eof-" + part.Replay
		}
		m := a.enc.compressed(stream.BucketsSubject(a.p), data)
		if len(m.Data) > limit {
			return fmt.Errorf("scorer: the summary of bucket %d is %d bytes, %d compressed, over the server's max_payload less headers (%d): raise max_payload or --partitions",
				part.Buckets[0].Bucket, len(data), len(m.Data), limit)
		}
		// A close is a watermark too: the model takes a partition's closes in order and drops
		// one at or below what it has (a redelivery), so a close published again after a
		// later one (lost with a dying stream leader) would lose its buckets' values.
		m.Header.Set(jetstream.MsgIDHeader, id)
		return a.pub.PublishWatermark(m)
	})
}

// closeHeadroom is what a partition close leaves of the server's max_payload for its
// headers.
const closeHeadroom = 4 << 10

// closeParts encodes pc as one message, or, when that is larger than limit (a replica that
// takes a partition over may close hours of buckets at once), as one message per bucket,
// each closing the partition through its bucket after the one before (After), and the last
// through pc's end with pc's end-of-input. The model scores a bucket once every partition is
// closed through it, so the records do not depend on how a close was cut. It calls emit with
// each part and its encoding, which is valid only during the call.
func (e *msgpackEncoder) closeParts(pc PartitionClose, limit int, emit func(PartitionClose, []byte) error) error {
	b, err := e.marshal(&pc)
	if err != nil {
		return err
	}
	if len(b) <= limit || len(pc.Buckets) < 2 {
		return emit(pc, b)
	}
	after := pc.After
	for i, bucket := range pc.Buckets {
		part := PartitionClose{Partition: pc.Partition, ClosedThrough: bucket.Bucket, After: after, Buckets: pc.Buckets[i : i+1]}
		if i == len(pc.Buckets)-1 {
			part.ClosedThrough, part.EOF, part.Replay, part.Stats = pc.ClosedThrough, pc.EOF, pc.Replay, pc.Stats
		}
		if after != nil {
			through := part.ClosedThrough
			after = &through
		}
		b, err := e.marshal(&part)
		if err != nil {
			return err
		}
		if err := emit(part, b); err != nil {
			return err
		}
	}
	return nil
}

// commit stores the closes, then remembers how far the partition is closed.
func (a *aggregating) commit(ctx context.Context) error {
	if err := a.pub.Flush(ctx); err != nil {
		return err
	}
	if !a.dirty {
		return nil
	}
	if err := a.store(ctx); err != nil {
		return err
	}
	a.dirty = false
	return nil
}

// retain keeps a message unacked while a bucket it added events to is still open.
func (a *aggregating) retain(msg jetstream.Msg) bool {
	meta, err := msg.Metadata()
	if err != nil {
		return false
	}
	newest, ok := a.newest[meta.Sequence.Stream]
	if !ok {
		return false
	}
	if newest > a.agg.Closed() {
		return true
	}
	delete(a.newest, meta.Sequence.Stream)
	return false
}

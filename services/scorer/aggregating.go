package scorer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/natsutil"
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

// aggregating is the scorer's first half: one Aggregator per partition.
type aggregating struct {
	s          *Service
	pub        *natsutil.Publisher
	kv         jetstream.KeyValue
	partitions int
	aggs       []*Aggregator
	marks      [][]closeMark
	dirty      map[int]bool
	// newest holds, for each message not acked yet, the newest bucket it added events to; the
	// message is acked once its partition is closed through that bucket.
	newest map[uint64]int64
	// lastSeq is the sequence of the last message handled.
	lastSeq uint64
}

func newAggregating(ctx context.Context, s *Service, partitions int) (*aggregating, error) {
	kv, err := s.js.KeyValue(ctx, stream.ScorerBucket)
	if err != nil {
		return nil, fmt.Errorf("scorer: key-value bucket %s: %w", stream.ScorerBucket, err)
	}
	a := &aggregating{s: s, pub: natsutil.NewPublisher(s.js), kv: kv, partitions: partitions,
		aggs: make([]*Aggregator, partitions), marks: make([][]closeMark, partitions),
		dirty: map[int]bool{}, newest: map[uint64]int64{}}
	for p := range partitions {
		a.aggs[p] = NewAggregator(s.cfg.Job)
		e, err := kv.Get(ctx, partitionKey(p))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("scorer: restore partition %d: %w", p, err)
		}
		var st partitionState
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return nil, fmt.Errorf("scorer: restore partition %d: %w", p, err)
		}
		a.aggs[p].closed, a.marks[p] = st.Closed, st.Marks
	}
	return a, nil
}

func partitionKey(p int) string { return "partition." + strconv.Itoa(p) }

func (a *aggregating) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("scorer: message metadata: %w", err)
	}
	seq := meta.Sequence.Stream
	a.lastSeq = seq
	p, err := strconv.Atoi(strings.TrimPrefix(msg.Subject(), stream.EventsPrefix))
	if err != nil || p < 0 || p >= a.partitions {
		a.deadLetter(seq, 0, "event on "+msg.Subject()+": not a partition of "+strconv.Itoa(a.partitions), &event.Event{}, msg.Data())
		return nil
	}
	if h := msg.Headers(); control.IsControl(h) {
		m, err := control.Parse(h)
		if err != nil {
			a.s.log.Warn("ignoring control message", "err", err)
			return nil
		}
		if m.Kind == control.KindEOF {
			return a.endOfInput(p, seq, m)
		}
		return a.closeBefore(p, seq, m.Watermark)
	}
	agg := a.aggs[p]
	newest := int64(noBucket)
	data := msg.Data()
	for n := 0; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		var ev event.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			a.deadLetter(seq, n, "undecodable event: "+err.Error(), &ev, line)
			continue
		}
		a.s.stats.Events.Add(1)
		k, err := agg.Add(&ev)
		if err == nil {
			newest = max(newest, k)
			continue
		}
		if a.counted(p, seq, k) {
			continue // redelivered after a restart: it is in a bucket already published
		}
		a.s.stats.Late.Add(1)
		a.deadLetter(seq, n, err.Error(), &ev, line)
	}
	if newest != noBucket {
		a.newest[seq] = newest
	}
	return nil
}

// counted reports whether an event of bucket k in the message of sequence seq was part of the
// bucket when it closed: the message came before the one whose watermark closed it.
func (a *aggregating) counted(p int, seq uint64, k int64) bool {
	for _, m := range a.marks[p] {
		if m.Through >= k {
			return seq < m.Seq
		}
	}
	return false
}

func (a *aggregating) deadLetter(seq uint64, n int, reason string, ev *event.Event, line []byte) {
	dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Source: ev.Origin.Source, Line: ev.Origin.Line,
		Format: ev.Origin.Format, Data: bytes.Clone(line)}
	// The id makes the dead letter of a redelivered message a duplicate, not a second letter.
	id := "late-" + strconv.FormatUint(seq, 10) + "-" + strconv.Itoa(n)
	if err := a.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), id); err != nil {
		a.s.log.Error("dead letter not published", "err", err, "reason", reason)
	}
}

// closeBefore closes partition p's buckets ending at or before wm and publishes them.
func (a *aggregating) closeBefore(p int, seq uint64, wm time.Time) error {
	sums, ok := a.aggs[p].CloseBefore(wm)
	if !ok {
		return nil
	}
	return a.publishClose(p, seq, PartitionClose{Partition: p, ClosedThrough: a.aggs[p].Closed(), Buckets: sums})
}

// closeAllBefore closes every partition on the wall clock (live mode). Every message handled
// so far came before this close.
func (a *aggregating) closeAllBefore(wm time.Time) error {
	for p := range a.partitions {
		if err := a.closeBefore(p, a.lastSeq+1, wm); err != nil {
			return err
		}
	}
	return nil
}

// endOfInput closes partition p through the bucket of the replay's latest event, which every
// partition is told, so that all partitions end at the same bucket.
func (a *aggregating) endOfInput(p int, seq uint64, m control.Marker) error {
	agg := a.aggs[p]
	last := agg.LastOpen()
	if !m.Watermark.IsZero() {
		last = max(last, agg.bucketOf(m.Watermark))
	}
	sums, _ := agg.CloseThrough(last)
	pc := PartitionClose{Partition: p, ClosedThrough: agg.Closed(), Buckets: sums, EOF: true, Replay: m.Replay, Stats: m.Stats}
	return a.publishClose(p, seq, pc)
}

func (a *aggregating) publishClose(p int, seq uint64, pc PartitionClose) error {
	a.marks[p] = append(a.marks[p], closeMark{Through: pc.ClosedThrough, Seq: seq})
	if n := len(a.marks[p]); n > keepMarks {
		a.marks[p] = a.marks[p][n-keepMarks:]
	}
	a.dirty[p] = true
	id := "close-" + strconv.Itoa(p) + "-" + strconv.FormatInt(pc.ClosedThrough, 10)
	if pc.EOF {
		id += "-eof-" + pc.Replay
	}
	return publishJSON(a.pub, stream.BucketsSubject(p), id, &pc)
}

// commit stores the closes, then remembers how far each partition is closed.
func (a *aggregating) commit(ctx context.Context) error {
	if err := a.pub.Flush(ctx); err != nil {
		return err
	}
	for p := range a.dirty {
		b, err := json.Marshal(partitionState{Closed: a.aggs[p].Closed(), Marks: a.marks[p]})
		if err != nil {
			return err
		}
		if _, err := a.kv.Put(ctx, partitionKey(p), b); err != nil {
			return fmt.Errorf("scorer: remember partition %d: %w", p, err)
		}
		delete(a.dirty, p)
	}
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
	p, _ := strconv.Atoi(strings.TrimPrefix(msg.Subject(), stream.EventsPrefix))
	if newest > a.aggs[p].Closed() {
		return true
	}
	delete(a.newest, meta.Sequence.Stream)
	return false
}

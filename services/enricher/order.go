package enricher

import (
	"cmp"
	"context"
	"slices"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/record"
)

// Replicas of the enricher share the ANOMALIES consumer, so what comes before a message in the
// stream may be in the hands of another replica. Three rules make the output that of one
// enricher:
//
//   - a bucket summary is applied (and committed to the history) only once every message
//     before it is done: the records of earlier buckets are enriched without it, and the
//     summaries before it are in the history;
//   - a record of bucket k is enriched only once every summary of k is in the history: the
//     scorer tells how many it published (control.HeaderSummaries), and the history's progress
//     (Store.Sync, Holds) how many are applied. Summaries of later buckets wait for the record
//     itself, so it never sees them. Without the count, a record waits like a summary;
//   - a marker is passed on only once every message before it is done, so it follows their
//     records in ENRICHED.
//
// "Done" is a natsutil.Barrier: acked by the replica that had it (which acks once its output
// and history are stored), or done here. Handle never waits: a message that is not ready is
// kept unacked (retain) and finished after a later commit (release), in input order.

// Kinds of input message.
const (
	itemRejected = iota // bad input, dead-lettered at once
	itemMarker
	itemSummary
	itemRecord
)

// item is one input message, decoded.
type item struct {
	seq       uint64
	kind      int
	header    nats.Header
	sum       *record.BucketSummary
	rec       *record.Record
	summaries int // the summary messages of a record's bucket; 0: unknown
}

// hold finishes the message now when it is ready and nothing before it waits here, or queues
// it in stream order: a message another replica had and left (it died) comes back after
// later ones, and goes first.
func (s *Service) hold(ctx context.Context, it *item) error {
	if !s.held[it.seq] { // a second delivery of a waiting message waits as the first
		i, _ := slices.BinarySearchFunc(s.waiting, it.seq, func(w *item, seq uint64) int { return cmp.Compare(w.seq, seq) })
		s.waiting = slices.Insert(s.waiting, i, it)
		s.held[it.seq] = true
	}
	_, err := s.finishReady(ctx)
	return err
}

// finishReady finishes the waiting messages that are ready, in order, and reports whether it
// finished any.
func (s *Service) finishReady(ctx context.Context) (bool, error) {
	n := 0
	for ; n < len(s.waiting); n++ {
		it := s.waiting[n]
		ok, err := s.ready(ctx, it)
		if err != nil {
			return n > 0, err
		}
		if !ok {
			break
		}
		if err := s.finish(ctx, it); err != nil {
			return n > 0, err
		}
		delete(s.held, it.seq)
		s.bar.Done(it.seq)
	}
	clear(s.waiting[:n])
	s.waiting = s.waiting[:copy(s.waiting, s.waiting[n:])]
	return n > 0, nil
}

// ready reports whether what the message needs before it is done.
func (s *Service) ready(ctx context.Context, it *item) (bool, error) {
	if it.kind == itemRecord && it.summaries > 0 {
		k := it.rec.Timestamp
		if s.hist.Holds(k, it.summaries) {
			return true, nil
		}
		if err := s.syncHistory(ctx); err != nil {
			return false, err
		}
		if s.hist.Holds(k, it.summaries) {
			return true, nil
		}
	}
	ok, err := s.bar.Passed(ctx, it.seq)
	if !ok || err != nil || it.kind == itemMarker {
		return ok, err
	}
	// Every message before it is done: the history is read as the last replica left it.
	return true, s.syncHistory(ctx)
}

// syncHistory reads how far the shared history is (Store.Sync), unless no one else can have
// written it since this replica last read it: it has read it once since it began to work, and
// its lease is exclusive (lease.Exclusive: renewed on time, so no successor exists). A read a
// bucket, a round trip to the history stream's leader, was most of the working enricher's
// time on a loaded 3-node cluster (docs/performance.md, item 17). A replica whose lease is
// not certain, paused past its renewals, first checks that it still holds it: it stops
// (lease.ErrLost) before it reads or writes beside a successor.
func (s *Service) syncHistory(ctx context.Context) error {
	if s.lease != nil && s.hist.Synced() {
		if s.lease.Exclusive() {
			return nil
		}
		if err := s.lease.Check(ctx); err != nil {
			return err
		}
	}
	return s.hist.Sync(ctx)
}

// finish does what the message is for.
func (s *Service) finish(ctx context.Context, it *item) error {
	switch it.kind {
	case itemMarker:
		return s.forward(it.header, it.seq)
	case itemSummary:
		s.stats.Summaries.Add(1)
		return s.hist.ApplyAt(ctx, it.seq, it.sum)
	default:
		return s.enrichRecord(ctx, it.rec)
	}
}

// release is the loop's Release: after a commit's acks, the messages now ready are finished
// and committed before the loop acks them.
func (s *Service) release(ctx context.Context) error {
	finished, err := s.finishReady(ctx)
	if err != nil || !finished {
		return err
	}
	return s.commit(ctx)
}

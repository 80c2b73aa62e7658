package enricher

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// One enricher works at a time: the replica that holds the lease (leaseKey in the history
// bucket) consumes ANOMALIES, the others stand by and take over once it stops renewing the
// lease (it died) or gives it up (it stopped), as windowers do for a rule.
//
// Replicas that shared the work would have to hand every bucket over twice: its summaries may
// be applied only after the records of the bucket before are done, its records enriched only
// after its summaries are in the history, whichever replica had them, and each handover is a
// commit, an ack, and a read of the other's progress and of the entries it rewrote. Measured
// on a 3-node cluster, a second working enricher made a replay 2.5 times slower
// (docs/performance.md), while the enricher's own work is a few microseconds a record. A
// standby keeps what a second replica is for, taking over at once when the first dies,
// without slowing the one that works.
//
// The rules of order.go still hold whoever works: a holder that has not yet noticed that its
// lease was taken over (a pause longer than the lease's TTL) works beside the new one for a
// moment, and the two still write what one enricher would.

// leaseKey is the key of the enricher's lease in the history bucket.
const leaseKey = "lease"

// Active reports whether this enricher holds the lease and consumes ANOMALIES.
func (s *Service) Active() bool { return s.active.Load() }

// standBy runs the enricher whenever it holds the lease, until ctx is done.
func (s *Service) standBy(ctx context.Context, kv jetstream.KeyValue, anomalies string, cons jetstream.Consumer) error {
	l := lease.New(kv, leaseKey, lease.Holder(), s.cfg.LeaseTTL, s.log)
	for {
		if err := l.Acquire(ctx); err != nil {
			return nil // ctx is done
		}
		err := s.runActive(ctx, l, kv, anomalies, cons)
		if ctx.Err() != nil {
			if !s.noRelease {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				l.Release(rctx)
				cancel()
			}
			return nil
		}
		if !errors.Is(err, lease.ErrLost) {
			return err
		}
		s.log.Warn("lease lost: standing by", "err", err)
	}
}

// runActive consumes ANOMALIES while this enricher holds the lease.
func (s *Service) runActive(ctx context.Context, l *lease.Lease, kv jetstream.KeyValue, anomalies string, cons jetstream.Consumer) error {
	actx, lost := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.Hold(actx, lost) })
	defer func() { lost(nil); wg.Wait() }()
	s.active.Store(true)
	defer s.active.Store(false)
	s.log.Info("active", "lease", l.Key())
	s.lease = l
	defer func() { s.lease = nil }()
	return lease.Cause(actx, s.work(actx, kv, anomalies, cons))
}

// work consumes ANOMALIES until ctx is done, from a fresh state: what a previous turn of work
// cached or kept waiting may be stale, and its unacked messages come again.
func (s *Service) work(ctx context.Context, kv jetstream.KeyValue, anomalies string, cons jetstream.Consumer) error {
	s.hist = NewStore(kv)
	s.hist.Pipeline(s.js)
	if s.cfg.ScheduleAware {
		s.hist.KeepRuns()
	}
	s.hist.stream = anomalies
	s.bar = natsutil.NewBarrier(cons)
	clear(s.waiting)
	s.waiting, s.held = s.waiting[:0], natsutil.Held{}
	handle := s.handle
	if s.onHandle != nil {
		handle = func(ctx context.Context, msg jetstream.Msg) error {
			err := s.handle(ctx, msg)
			s.onHandle(ctx)
			return err
		}
	}
	loop := natsutil.Loop{Consumer: cons, Handle: handle, Commit: s.commit, Retain: s.held.Retain, Release: s.release, MaxBatch: s.maxBatch, Idle: natsutil.BarrierIdle, Tick: s.geo.tick,
		Throttle: natsutil.NewThrottle(s.js, stream.Enriched, stream.WindowerConsumer).Wait}
	return loop.Run(ctx)
}

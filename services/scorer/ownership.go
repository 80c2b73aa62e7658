package scorer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// Ownership. Any number of scorer replicas run against one JetStream. Each announces itself
// with a member key that it rewrites every tick (a fifth of the lease TTL); a member whose key
// keeps one revision for longer than the TTL (by the observer's clock) is dead. Each partition
// is owned by the replica holding its lease (lease.partition.<p>), the model by the one
// holding lease.model, all in the scorer's KV bucket (shared/lease).
//
// Every tick a replica counts the live members, works out its quota of partitions (P divided
// by the members, the first P mod n members by key taking one more: at most ceil(P/n)), gives
// up partitions above it, and takes free or expired ones below it. A partition taken is a
// partition restarted: its close marks are read back, its durable consumer recreated so what
// the previous owner left unacknowledged comes again at once, and it runs in its own loop.

// Keys of the scorer's bucket used for ownership.
const (
	modelLeaseKey = "lease.model"
	memberPrefix  = "member."
)

func partitionLeaseKey(p int) string { return "lease.partition." + strconv.Itoa(p) }

// unit is work this replica runs under a lease: one partition, or the model.
type unit struct {
	partition int // -1 for the model
	lease     *lease.Lease
	stop      context.CancelFunc
	done      chan struct{}
	err       error // why it stopped by itself, set before done is closed
}

func (u *unit) String() string {
	if u.partition < 0 {
		return "model"
	}
	return "partition " + strconv.Itoa(u.partition)
}

// replica runs the balancing loop of one scorer Service. Only the loop's goroutine uses it.
type replica struct {
	s       *Service
	members *members
	leases  []*lease.Lease // by partition
	model   *lease.Lease
	parts   map[int]*unit
	modelU  *unit
	ended   chan struct{} // a unit stopped by itself
	wg      sync.WaitGroup
}

func newReplica(s *Service) *replica {
	ttl := s.cfg.leaseTTL()
	r := &replica{s: s, leases: make([]*lease.Lease, s.partitions), parts: map[int]*unit{},
		model: lease.New(s.kv, modelLeaseKey, s.holder, ttl, s.log), ended: make(chan struct{}, 1)}
	for p := range r.leases {
		r.leases[p] = lease.New(s.kv, partitionLeaseKey(p), s.holder, ttl, s.log)
	}
	return r
}

// run balances every tick until ctx is done or a unit fails.
func (r *replica) run(ctx context.Context) error {
	ttl := r.s.cfg.leaseTTL()
	m, err := joinMembers(ctx, r.s.kv, r.s.holder, ttl)
	if err != nil {
		return natsutil.StopErr(ctx, err)
	}
	r.members = m
	defer m.stop()
	t := time.NewTicker(max(ttl/5, 10*time.Millisecond))
	defer t.Stop()
	for {
		if err := r.balance(ctx); err != nil {
			return natsutil.StopErr(ctx, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.ended:
		}
	}
}

// balance is one tick: renew the membership, forget units that stopped, then give up or take
// partitions to match the quota, and take the model when free.
func (r *replica) balance(ctx context.Context) error {
	if err := r.reap(ctx); err != nil {
		return err
	}
	if err := r.members.renew(ctx); err != nil {
		r.s.log.Warn("membership not renewed", "err", err)
	}
	n, rank := r.members.live(ctx, time.Now())
	quota := quota(r.s.partitions, n, rank)
	owned := r.owned()
	for len(owned) > quota {
		p := owned[len(owned)-1]
		owned = owned[:len(owned)-1]
		r.release(ctx, p, n)
	}
	// Start at a different partition on each replica, so that they seldom race for one.
	first := rank * r.s.partitions / n
	for i := range r.s.partitions {
		p := (first + i) % r.s.partitions
		if r.parts[p] != nil {
			continue
		}
		l := r.leases[p]
		if len(owned) >= quota {
			// Keep timing the owner's renewals, so an expired lease is taken at once when wanted.
			if err := l.Observe(ctx); err != nil && ctx.Err() == nil {
				r.s.log.Warn("lease not read", "partition", p, "err", err)
			}
			continue
		}
		ok, err := l.Try(ctx)
		if err != nil && ctx.Err() == nil {
			r.s.log.Warn("lease not taken", "partition", p, "err", err)
		}
		if ok {
			r.parts[p] = r.start(ctx, p, l, func(ctx context.Context) error { return r.s.runPartition(ctx, p, l) })
			owned = append(owned, p)
		}
	}
	if r.modelU == nil {
		ok, err := r.model.Try(ctx)
		if err != nil && ctx.Err() == nil {
			r.s.log.Warn("model lease not taken", "err", err)
		}
		if ok {
			r.modelU = r.start(ctx, -1, r.model, func(ctx context.Context) error { return r.s.runModel(ctx, r.model) })
		}
	}
	r.report()
	return nil
}

// quota is how many of P partitions the member of the given rank among n live members owns:
// P/n, and one more for the first P mod n members.
func quota(partitions, n, rank int) int {
	q := partitions / n
	if rank < partitions%n {
		q++
	}
	return q
}

func (r *replica) owned() []int {
	var ps []int
	for p := range r.parts {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// report publishes what this replica runs, for Partitions and ModelActive.
func (r *replica) report() {
	owned := r.owned()
	if owned == nil {
		owned = []int{}
	}
	if !slices.Equal(*r.s.owned.Load(), owned) {
		r.s.owned.Store(&owned)
	}
	r.s.modelActive.Store(r.modelU != nil)
}

// start runs work under l on its own goroutine.
func (r *replica) start(ctx context.Context, p int, l *lease.Lease, work func(context.Context) error) *unit {
	uctx, cancel := context.WithCancel(ctx)
	u := &unit{partition: p, lease: l, stop: cancel, done: make(chan struct{})}
	r.s.log.Info("taken", "unit", u.String())
	r.wg.Go(func() {
		u.err = work(uctx)
		close(u.done)
		select {
		case r.ended <- struct{}{}:
		default:
		}
	})
	return u
}

// reap forgets the units that stopped by themselves. One that lost its lease is no failure:
// another replica took it over, or it is taken again at a later tick. Any other error stops
// the replica.
func (r *replica) reap(ctx context.Context) error {
	for p, u := range r.parts {
		if err := r.reapOne(ctx, u); err != nil {
			return err
		}
		if isDone(u) {
			delete(r.parts, p)
		}
	}
	if u := r.modelU; u != nil {
		if err := r.reapOne(ctx, u); err != nil {
			return err
		}
		if isDone(u) {
			r.modelU = nil
		}
	}
	return nil
}

func isDone(u *unit) bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

func (r *replica) reapOne(ctx context.Context, u *unit) error {
	if !isDone(u) {
		return nil
	}
	err := u.err
	if err == nil {
		return nil
	}
	if !errors.Is(err, lease.ErrLost) {
		// A unit also stops when its successor deletes its consumer before its own renewal
		// has noticed the takeover: ask the lease.
		cerr := u.lease.Check(ctx)
		if !errors.Is(cerr, lease.ErrLost) {
			return fmt.Errorf("scorer: %s: %w", u, err)
		}
		err = fmt.Errorf("%w (%w)", cerr, err)
	}
	r.s.log.Warn("lost: standing by for it", "unit", u.String(), "err", err)
	return nil
}

// release stops partition p's loop, drops its state and deletes its lease, so that a replica
// below its quota takes it at once.
func (r *replica) release(ctx context.Context, p, members int) {
	u := r.parts[p]
	delete(r.parts, p)
	u.stop()
	<-u.done
	u.lease.Release(ctx)
	r.s.log.Info("given up", "unit", u.String(), "members", members)
}

// stopAll stops every unit and waits for them.
func (r *replica) stopAll() {
	for _, u := range r.parts {
		u.stop()
	}
	if r.modelU != nil {
		r.modelU.stop()
	}
	r.wg.Wait()
}

// leave gives every lease up and withdraws the membership, for a graceful stop. A lease is
// deleted only while it names this replica: those lost to others stay theirs.
func (r *replica) leave(ctx context.Context) {
	for _, l := range r.leases {
		l.Release(ctx)
	}
	r.model.Release(ctx)
	if err := r.s.kv.Delete(ctx, memberKey(r.s.holder)); err != nil {
		r.s.log.Warn("membership not withdrawn", "err", err)
	}
	r.parts, r.modelU = map[int]*unit{}, nil
	r.report()
}

// partitionCommitEvery is the least time between two commits of a partition that pauses in
// its input make (natsutil.Loop.IdleCommitEvery): a commit writes the partition's close marks
// to the R3 KV bucket, one round trip each.
const partitionCommitEvery = 500 * time.Millisecond

// runPartition aggregates partition p while l is held: it restores the partition, recreates
// its consumer and runs its loop. It returns nil when ctx is done, an error wrapping
// lease.ErrLost when the lease was lost, or the failure.
func (s *Service) runPartition(ctx context.Context, p int, l *lease.Lease) error {
	ctx, lost := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.Hold(ctx, lost) })
	defer func() { lost(nil); wg.Wait() }()
	for {
		a, err := takePartition(ctx, s, p)
		if err != nil {
			return stopCause(ctx, err)
		}
		cons, err := natsutil.FreshConsumer(ctx, s.js, stream.Events, stream.ScorerPartitionConsumer(p), stream.EventsSubject(p))
		if err != nil {
			return stopCause(ctx, err)
		}
		// A watermark before the events it follows would close their buckets without them,
		// and they would then pass for redeliveries of counted events.
		loop := natsutil.Loop{Consumer: cons, Handle: a.handle, Commit: a.commit, Retain: a.retain,
			Throttle: s.modelBacklog.Wait, InOrder: true, IdleCommitEvery: partitionCommitEvery}
		if s.cfg.Clock == ClockWall {
			loop.Tick = func(ctx context.Context, now time.Time) error {
				return a.closeOnClock(now.Add(-s.cfg.AllowedLateness))
			}
		}
		err = loop.Run(ctx)
		if !errors.Is(err, natsutil.ErrOutOfOrder) {
			return stopCause(ctx, err)
		}
		s.log.Warn("taking the partition again from its durable state", "partition", p, "err", err)
	}
}

// runModel runs the model while l is held: it restores the checkpoint, recreates the model's
// consumer and runs its loop. It returns like runPartition.
func (s *Service) runModel(ctx context.Context, l *lease.Lease) error {
	ctx, lost := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.Hold(ctx, lost) })
	defer func() { lost(nil); wg.Wait() }()
	for {
		m, err := newModelling(ctx, s, l)
		if err != nil {
			return stopCause(ctx, err)
		}
		cons, err := natsutil.FreshConsumer(ctx, s.js, stream.Buckets, stream.ModelConsumer, stream.BucketsWildcard)
		if err != nil {
			return stopCause(ctx, err)
		}
		announced := any("none")
		if m.announced != noBucket {
			announced = time.Unix(0, (m.announced+1)*int64(s.cfg.Job.BucketSpan)).UTC() // the records before it are out
		}
		s.log.Info("model restored", "model_buckets", m.rarity.Modelled() != noBucket, "announced", announced)
		// A partition's close before the one it follows would make that one look like a
		// redelivery (PartitionClose.After makes the model wait for it; this makes it come
		// at once, not after the ack wait).
		loop := natsutil.Loop{Consumer: cons, Handle: m.handle, Commit: m.commit, Retain: m.retain,
			Throttle: natsutil.NewThrottle(s.js, stream.Anomalies, stream.EnricherConsumer).Wait, InOrder: true}
		err = loop.Run(ctx)
		if !errors.Is(err, natsutil.ErrOutOfOrder) {
			return stopCause(ctx, err)
		}
		s.log.Warn("restoring the model again from its checkpoint", "err", err)
	}
}

// stopCause tells why a unit stopped: the lease's loss, nothing when it was told to stop, or
// err.
func stopCause(ctx context.Context, err error) error {
	return lease.Cause(ctx, natsutil.StopErr(ctx, err))
}

// Partitions returns the partitions this replica owns now, in order.
func (s *Service) Partitions() []int { return *s.owned.Load() }

// ModelActive reports whether this replica runs the model now.
func (s *Service) ModelActive() bool { return s.modelActive.Load() }

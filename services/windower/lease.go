package windower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// errLeaseLost stops an active windower whose lease another one took.
var errLeaseLost = errors.New("windower: lease lost")

// lease makes one windower per rule active. The lease is a key (lease.<rule>) that the holder
// rewrites every ttl/3 with compare-and-set on its revision. A standby takes it over with the
// same compare-and-set once it has seen the same revision for longer than ttl by its own
// clock, so no two hosts' clocks need to agree.
type lease struct {
	kv     jetstream.KeyValue
	key    string
	holder string
	ttl    time.Duration
	rev    uint64 // the revision we wrote last, while holding
	log    interface{ Info(string, ...any) }
}

type leaseValue struct {
	Holder  string    `json:"holder"`
	Renewed time.Time `json:"renewed"`
}

func (l *lease) value() []byte {
	b, _ := json.Marshal(leaseValue{Holder: l.holder, Renewed: time.Now().UTC()})
	return b
}

// acquire blocks until this windower holds the lease or ctx is done.
func (l *lease) acquire(ctx context.Context) error {
	var (
		seenRev uint64
		seenAt  time.Time
		logged  bool
	)
	poll := max(l.ttl/5, 10*time.Millisecond)
	for {
		e, err := l.kv.Get(ctx, l.key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if rev, err := l.kv.Create(ctx, l.key, l.value()); err == nil {
				l.rev = rev
				return nil
			}
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
		case e.Operation() != jetstream.KeyValuePut:
			// Released: a deleted key is taken over at once.
			if rev, err := l.kv.Update(ctx, l.key, l.value(), e.Revision()); err == nil {
				l.rev = rev
				return nil
			}
		default:
			var v leaseValue
			_ = json.Unmarshal(e.Value(), &v)
			if v.Holder == l.holder {
				if rev, err := l.kv.Update(ctx, l.key, l.value(), e.Revision()); err == nil {
					l.rev = rev
					return nil
				}
			}
			if e.Revision() != seenRev {
				seenRev, seenAt = e.Revision(), time.Now()
				if !logged {
					l.log.Info("standing by", "active", v.Holder)
					logged = true
				}
			} else if time.Since(seenAt) > l.ttl {
				if rev, err := l.kv.Update(ctx, l.key, l.value(), seenRev); err == nil {
					l.log.Info("took over an expired lease", "from", v.Holder)
					l.rev = rev
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// hold renews the lease until ctx is done; it cancels lost (with errLeaseLost) when the lease
// was taken over or could not be renewed within ttl.
func (l *lease) hold(ctx context.Context, lost context.CancelCauseFunc) {
	every := max(l.ttl/3, 5*time.Millisecond)
	last := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rev, err := l.kv.Update(ctx, l.key, l.value(), l.rev)
		if err == nil {
			l.rev, last = rev, time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, jetstream.ErrKeyExists) || time.Since(last) > l.ttl {
			lost(fmt.Errorf("%w: %w", errLeaseLost, err))
			return
		}
	}
}

// release gives the lease up, so a standby takes over at once.
func (l *lease) release(ctx context.Context) {
	_ = l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
}

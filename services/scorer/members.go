package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// members tracks the live scorer replicas. Each writes its key member.<holder> every tick; a
// watch on member.* tells every replica when each key last changed, by its own clock, and a
// key unchanged for longer than the lease TTL belongs to a dead replica.
type members struct {
	kv     jetstream.KeyValue
	holder string
	key    string // this replica's
	ttl    time.Duration
	w      jetstream.KeyWatcher
	seen   map[string]*memberSeen
}

type memberSeen struct {
	rev    uint64
	at     time.Time // when this replica first saw rev
	pruned bool
}

type memberValue struct {
	Holder  string    `json:"holder"`
	Renewed time.Time `json:"renewed"`
}

// memberKey is the key of holder's membership. Key tokens may not hold dots and a few other
// characters that host names can.
func memberKey(holder string) string {
	return memberPrefix + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '=':
			return r
		}
		return '_'
	}, holder)
}

// joinMembers announces holder and reads the members already there.
func joinMembers(ctx context.Context, kv jetstream.KeyValue, holder string, ttl time.Duration) (*members, error) {
	m := &members{kv: kv, holder: holder, key: memberKey(holder), ttl: ttl, seen: map[string]*memberSeen{}}
	if err := m.renew(ctx); err != nil {
		return nil, err
	}
	w, err := kv.Watch(ctx, memberPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("scorer: watch the members: %w", err)
	}
	m.w = w
	// The current keys come first, then a nil entry: the first quota counts them all.
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("scorer: watch the members: stopped before the current members were read")
			}
			if e == nil {
				return m, nil
			}
			m.apply(e, time.Now())
		case <-ctx.Done():
			_ = w.Stop()
			return nil, ctx.Err()
		}
	}
}

// renew rewrites this replica's key: a new revision every tick is what keeps it alive in the
// others' eyes. A key another replica removed (it thought this one dead) is written anew.
func (m *members) renew(ctx context.Context) error {
	b, err := json.Marshal(memberValue{Holder: m.holder, Renewed: time.Now().UTC()})
	if err != nil {
		return err
	}
	if _, err := m.kv.Put(ctx, m.key, b); err != nil {
		return fmt.Errorf("scorer: renew membership %s: %w", m.key, err)
	}
	return nil
}

func (m *members) apply(e jetstream.KeyValueEntry, now time.Time) {
	if e.Operation() != jetstream.KeyValuePut {
		delete(m.seen, e.Key())
		return
	}
	if s := m.seen[e.Key()]; s == nil || s.rev != e.Revision() {
		m.seen[e.Key()] = &memberSeen{rev: e.Revision(), at: now}
	}
}

// live returns the number of live members, this replica included, and this replica's rank
// among them by key. It removes the keys of dead members (with compare-and-set, so not one
// that renewed meanwhile), or every replica that ever crashed would stay in the bucket.
func (m *members) live(ctx context.Context, now time.Time) (n, rank int) {
	for drained := false; !drained; {
		select {
		case e, ok := <-m.w.Updates():
			if !ok {
				drained = true
			} else if e != nil {
				m.apply(e, now)
			}
		default:
			drained = true
		}
	}
	alive := []string{m.key}
	for k, s := range m.seen {
		if k == m.key {
			continue
		}
		if now.Sub(s.at) <= m.ttl {
			alive = append(alive, k)
			continue
		}
		if !s.pruned {
			s.pruned = true
			_ = m.kv.Delete(ctx, k, jetstream.LastRevision(s.rev))
		}
	}
	slices.Sort(alive)
	return len(alive), slices.Index(alive, m.key)
}

func (m *members) stop() { _ = m.w.Stop() }

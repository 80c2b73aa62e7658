// Package lease makes one process at a time the holder of a key in a JetStream key-value
// bucket: one windower per rule runs the rule, one scorer replica owns each partition and
// one runs the model.
//
// The holder rewrites the key every TTL/3 with compare-and-set on the revision it wrote last.
// Another process takes the key over, with the same compare-and-set, once it has seen the same
// revision for longer than TTL by its own clock, so no two hosts' clocks need to agree. A
// holder whose renewal finds the key changed has lost it and must stop the work it guards at
// once. A graceful stop deletes the key, and the next process takes it without waiting.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultTTL is how long a silent holder keeps its lease when no other TTL is configured.
const DefaultTTL = 5 * time.Second

// ErrLost is the cause Hold gives when the lease was taken over or could not be renewed, and
// what Check wraps when the key is no longer ours.
var ErrLost = errors.New("lease lost")

// Logger receives the few events worth a line: standing by, taking over. *slog.Logger is one.
type Logger interface{ Info(string, ...any) }

// Lease is one key of a bucket, held by at most one process at a time. Try, Acquire, Check and
// Release are for one goroutine; Hold runs beside them on another.
type Lease struct {
	kv     jetstream.KeyValue
	key    string
	holder string
	ttl    time.Duration
	log    Logger
	// rev is the revision this Lease wrote last, while holding (0 when not held).
	rev atomic.Uint64
	// sent is when the write of rev was sent (on epoch's monotonic clock; 0: not held):
	// see Exclusive.
	sent atomic.Int64
	// seen times the current holder's revision, to tell when it stopped renewing.
	seen staleness
	// other is the holder last seen on the key, when not us.
	other string
}

// New returns a Lease on key for holder (see Holder). A zero ttl means DefaultTTL; log may be
// nil.
func New(kv jetstream.KeyValue, key, holder string, ttl time.Duration, log Logger) *Lease {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Lease{kv: kv, key: key, holder: holder, ttl: ttl, log: log}
}

// epoch is the origin of the monotonic times a Lease keeps.
var epoch = time.Now()

// monotonic returns the time elapsed since epoch, by the monotonic clock.
func monotonic() int64 { return int64(time.Since(epoch)) }

// Holder returns a name for this process that no other process shares: the host, the pid and
// a random part (a restarted process on the same host is another holder).
func Holder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Key returns the lease's key.
func (l *Lease) Key() string { return l.key }

// value is what a lease key holds.
type value struct {
	Holder  string    `json:"holder"`
	Renewed time.Time `json:"renewed"`
}

func (l *Lease) value() []byte {
	b, _ := json.Marshal(value{Holder: l.holder, Renewed: time.Now().UTC()})
	return b
}

func holderOf(e jetstream.KeyValueEntry) string {
	var v value
	_ = json.Unmarshal(e.Value(), &v)
	return v.Holder
}

// Try makes one attempt to take the lease. It succeeds when the key is free (never written,
// or released), already ours, or has kept one revision for longer than TTL since this Lease
// first saw it (its holder stopped renewing). A lost compare-and-set is no error: someone else
// was faster. Errors are failures to read or write the bucket.
func (l *Lease) Try(ctx context.Context) (bool, error) {
	e, err := l.kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// Create also takes a released (deleted) key.
		sent := monotonic()
		rev, err := l.kv.Create(ctx, l.key, l.value())
		return l.took(sent, rev, err)
	}
	if err != nil {
		return false, fmt.Errorf("lease: read %s: %w", l.key, err)
	}
	holder := holderOf(e)
	if holder == l.holder {
		sent := monotonic()
		rev, err := l.kv.Update(ctx, l.key, l.value(), e.Revision())
		return l.took(sent, rev, err)
	}
	l.other = holder
	if !l.seen.stale(e.Revision(), time.Now(), l.ttl) {
		return false, nil
	}
	sent := monotonic()
	rev, err := l.kv.Update(ctx, l.key, l.value(), e.Revision())
	ok, err := l.took(sent, rev, err)
	if ok && l.log != nil {
		l.log.Info("took over an expired lease", "lease", l.key, "from", holder)
	}
	return ok, err
}

// Observe reads the key only to keep timing its holder's revision, so that Try can take an
// expired lease at once when it is later wanted.
func (l *Lease) Observe(ctx context.Context) error {
	e, err := l.kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("lease: read %s: %w", l.key, err)
	}
	l.other = holderOf(e)
	l.seen.stale(e.Revision(), time.Now(), l.ttl)
	return nil
}

// took records the outcome of a write of the key sent at sent: the revision and the time of a
// successful one. A lost compare-and-set is not an error.
func (l *Lease) took(sent int64, rev uint64, err error) (bool, error) {
	if err == nil {
		l.rev.Store(rev)
		l.sent.Store(sent)
		l.seen = staleness{}
		return true, nil
	}
	if Conflict(err) {
		return false, nil
	}
	return false, fmt.Errorf("lease: write %s: %w", l.key, err)
}

// Exclusive reports, without asking the server, whether no other process can hold the lease
// now: this one holds it, and its last write of the key the server confirmed was sent less
// than two thirds of TTL ago. Another process takes a key over only once it has seen one
// revision for longer than TTL, and it cannot have seen ours before we sent it; the third of
// TTL to spare covers clocks that run at different rates. A holder that renews on time (Hold,
// every TTL/3) stays exclusive; one that was paused, or cannot reach the server, is not, and
// must read what a successor may have written (Check) before it relies on what it holds.
func (l *Lease) Exclusive() bool {
	sent := l.sent.Load()
	return l.rev.Load() != 0 && sent != 0 && monotonic()-sent < int64(l.ttl)*2/3
}

// Conflict reports a failed compare-and-set on a key-value bucket: another process wrote the
// key first. Single servers and clusters report it differently.
func Conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// Acquire blocks until this process holds the lease or ctx is done (it then returns ctx's
// error). It logs once that it stands by, naming the holder.
func (l *Lease) Acquire(ctx context.Context) error {
	poll := max(l.ttl/5, 10*time.Millisecond)
	logged := false
	for {
		ok, err := l.Try(ctx)
		if ok {
			return nil
		}
		if err == nil && !logged && l.other != "" && l.log != nil {
			l.log.Info("standing by", "lease", l.key, "active", l.other)
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Cause returns the loss of the lease when that is why ctx, the context Hold guarded, was
// cancelled (an error wrapping ErrLost), else err: work stopped because its lease was lost
// says so, whatever error the stop gave it.
func Cause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrLost) {
		return cause
	}
	return err
}

// Hold renews the lease every TTL/3 until ctx is done. When the key was written by another
// process, or could not be renewed for TTL (a standby may have taken it by now), it calls lost
// with an error wrapping ErrLost and returns: the caller must stop the guarded work at once.
func (l *Lease) Hold(ctx context.Context, lost context.CancelCauseFunc) {
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
		sent := monotonic()
		rev, err := l.kv.Update(ctx, l.key, l.value(), l.rev.Load())
		if err == nil {
			l.rev.Store(rev)
			l.sent.Store(sent)
			last = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if Conflict(err) || time.Since(last) > l.ttl {
			l.sent.Store(0)
			lost(fmt.Errorf("%w: %s: %w", ErrLost, l.key, err))
			return
		}
	}
}

// Check returns nil while the key still names this process, an error wrapping ErrLost once
// another process took it or it is gone, and other errors when the bucket cannot be read. A
// holder checks before a write that a previous holder must not make after a takeover.
func (l *Lease) Check(ctx context.Context) error {
	e, err := l.kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %s was released", ErrLost, l.key)
	}
	if err != nil {
		return fmt.Errorf("lease: read %s: %w", l.key, err)
	}
	if h := holderOf(e); h != l.holder {
		return fmt.Errorf("%w: %s is held by %s", ErrLost, l.key, h)
	}
	return nil
}

// Release gives the lease up, so that another process takes it at once. It deletes the key
// only while it names this process.
func (l *Lease) Release(ctx context.Context) {
	l.sent.Store(0)
	rev := l.rev.Swap(0)
	if rev == 0 {
		return
	}
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev))
	if !Conflict(err) {
		return
	}
	// A renewal cancelled in flight may have been written all the same: the key then names
	// us at a revision we never learnt.
	if e, err := l.kv.Get(ctx, l.key); err == nil && holderOf(e) == l.holder {
		_ = l.kv.Delete(ctx, l.key, jetstream.LastRevision(e.Revision()))
	}
}

// staleness times how long a key has kept one revision, by the local clock. The zero value is
// ready to use.
type staleness struct {
	rev   uint64
	since time.Time
}

// stale records that the key is at rev at time now, and reports whether it has been at rev
// for longer than ttl. A new revision restarts the timing.
func (s *staleness) stale(rev uint64, now time.Time, ttl time.Duration) bool {
	if rev != s.rev || s.since.IsZero() {
		s.rev, s.since = rev, now
		return false
	}
	return now.Sub(s.since) > ttl
}

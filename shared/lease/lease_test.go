package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natstest"
)

const ttl = 200 * time.Millisecond

func bucket(t *testing.T) (context.Context, jetstream.KeyValue) {
	t.Helper()
	ts := natstest.Start(t)
	kv, err := ts.JS.CreateKeyValue(ts.Ctx, jetstream.KeyValueConfig{Bucket: "leasetest", Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	return ts.Ctx, kv
}

func TestTryFreeHeldAndExpired(t *testing.T) {
	ctx, kv := bucket(t)
	a := New(kv, "lease.x", "a", ttl, nil)
	b := New(kv, "lease.x", "b", ttl, nil)
	if ok, err := a.Try(ctx); !ok || err != nil {
		t.Fatalf("a.Try on a free key = %v, %v; want taken", ok, err)
	}
	if ok, err := a.Try(ctx); !ok || err != nil {
		t.Fatalf("a.Try on its own key = %v, %v; want taken", ok, err)
	}
	// b must see a's revision unchanged for longer than the TTL before taking it.
	if ok, err := b.Try(ctx); ok || err != nil {
		t.Fatalf("b.Try on a's fresh lease = %v, %v; want not taken", ok, err)
	}
	time.Sleep(ttl / 2)
	if ok, _ := b.Try(ctx); ok {
		t.Fatal("b took a's lease before the TTL passed")
	}
	time.Sleep(ttl)
	if ok, err := b.Try(ctx); !ok || err != nil {
		t.Fatalf("b.Try after the TTL = %v, %v; want taken", ok, err)
	}
	if err := a.Check(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("a.Check after b took over = %v, want ErrLost", err)
	}
	if err := b.Check(ctx); err != nil {
		t.Errorf("b.Check = %v, want nil", err)
	}
}

func TestObserveTimesTheHolder(t *testing.T) {
	ctx, kv := bucket(t)
	a := New(kv, "lease.x", "a", ttl, nil)
	b := New(kv, "lease.x", "b", ttl, nil)
	if ok, _ := a.Try(ctx); !ok {
		t.Fatal("a did not take a free key")
	}
	if err := b.Observe(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + ttl/2)
	// b watched the revision for longer than the TTL: its first Try takes the lease.
	if ok, err := b.Try(ctx); !ok || err != nil {
		t.Fatalf("b.Try after observing a silent holder for the TTL = %v, %v; want taken", ok, err)
	}
}

func TestHoldRenewsAndLoses(t *testing.T) {
	ctx, kv := bucket(t)
	a := New(kv, "lease.x", "a", ttl, nil)
	b := New(kv, "lease.x", "b", ttl, nil)
	if ok, _ := a.Try(ctx); !ok {
		t.Fatal("a did not take a free key")
	}
	hctx, lost := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() { a.Hold(hctx, lost); close(done) }()
	// Renewed every TTL/3: b never sees one revision for the TTL.
	deadline := time.Now().Add(4 * ttl)
	for time.Now().Before(deadline) {
		if ok, _ := b.Try(ctx); ok {
			t.Fatal("b took a lease a renews")
		}
		time.Sleep(ttl / 10)
	}
	// Someone else writes the key: a's next renewal fails and it is told at once.
	if _, err := kv.Put(ctx, "lease.x", []byte(`{"holder":"c"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Hold did not notice the lease was taken")
	}
	if cause := context.Cause(hctx); !errors.Is(cause, ErrLost) {
		t.Errorf("cause %v, want ErrLost", cause)
	}
}

// TestExclusive: a holder is exclusive from its write until two thirds of the TTL after the
// last one the server confirmed, so never while another process can have taken the key over.
func TestExclusive(t *testing.T) {
	ctx, kv := bucket(t)
	a := New(kv, "lease.x", "a", ttl, nil)
	b := New(kv, "lease.x", "b", ttl, nil)
	if a.Exclusive() {
		t.Fatal("exclusive before taking the lease")
	}
	if ok, _ := a.Try(ctx); !ok {
		t.Fatal("a did not take a free key")
	}
	if !a.Exclusive() {
		t.Fatal("not exclusive right after taking the lease")
	}
	// a renews for a while, then stops, as a paused holder does: b takes the key over once
	// it has seen one revision for the TTL, and by then a must know it is not exclusive.
	hctx, stop := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() { a.Hold(hctx, stop); close(done) }()
	time.Sleep(2 * ttl)
	stop(nil)
	<-done
	deadline := time.Now().Add(10 * ttl)
	for {
		ok, err := b.Try(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never took the lease a stopped renewing")
		}
		time.Sleep(ttl / 20)
	}
	if a.Exclusive() {
		t.Error("a is exclusive while b holds the lease")
	}
	if !b.Exclusive() {
		t.Error("b is not exclusive right after taking the lease over")
	}
	b.Release(ctx)
	if b.Exclusive() {
		t.Error("b is exclusive after releasing the lease")
	}
}

func TestReleaseHandsOverAtOnce(t *testing.T) {
	ctx, kv := bucket(t)
	a := New(kv, "lease.x", "a", time.Hour, nil)
	b := New(kv, "lease.x", "b", time.Hour, nil)
	if ok, _ := a.Try(ctx); !ok {
		t.Fatal("a did not take a free key")
	}
	if ok, _ := b.Try(ctx); ok {
		t.Fatal("b took a held lease")
	}
	a.Release(ctx)
	if ok, err := b.Try(ctx); !ok || err != nil {
		t.Fatalf("b.Try after a released = %v, %v; want taken at once", ok, err)
	}
	// Releasing again (a no longer holds it) must not delete b's lease.
	a.Release(ctx)
	if err := b.Check(ctx); err != nil {
		t.Errorf("b.Check after a second release by a = %v", err)
	}
}

func TestAcquireBlocksUntilExpired(t *testing.T) {
	ctx, kv := bucket(t)
	a := New(kv, "lease.x", "a", ttl, nil)
	b := New(kv, "lease.x", "b", ttl, nil)
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < ttl {
		t.Errorf("b acquired after %s, before the TTL of %s", waited, ttl)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Acquire(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire on a cancelled context = %v", err)
	}
}

// TestReleaseAfterAnUnknownRenewal: a renewal cancelled in flight may be stored without its
// holder learning the new revision; the release must still delete the key.
func TestReleaseAfterAnUnknownRenewal(t *testing.T) {
	ctx, kv := bucket(t)
	a := New(kv, "lease.x", "a", time.Hour, nil)
	if ok, _ := a.Try(ctx); !ok {
		t.Fatal("a did not take a free key")
	}
	if _, err := kv.Update(ctx, "lease.x", a.value(), a.rev.Load()); err != nil {
		t.Fatal(err)
	}
	a.Release(ctx)
	if _, err := kv.Get(ctx, "lease.x"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("after the release: Get = %v, want the key gone", err)
	}
}

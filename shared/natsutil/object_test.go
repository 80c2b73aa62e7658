package natsutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestGetObjectWhileReplaced: an object replaced again and again while it is read (a model
// checkpointed while a successor restores it) is read whole, one version or the next, by
// GetObject; nats.go's GetBytes alone waits out its deadline when the version it looked up
// is purged before its chunks come.
func TestGetObjectWhileReplaced(t *testing.T) {
	defer func(d time.Duration) { objectAttempt = d }(objectAttempt)
	objectAttempt = 200 * time.Millisecond
	_, js := startJetStream(t)
	ctx := testContext(t)
	obj, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "checkpoints", Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	version := func(v int) []byte { return bytes.Repeat(fmt.Appendf(nil, "version %08d;", v), 2000) }
	if _, err := obj.PutBytes(ctx, "model", version(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := GetObject(ctx, obj, "absent"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("GetObject of an absent object: %v, want %v", err, jetstream.ErrObjectNotFound)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var puts int
	wg.Go(func() {
		for v := 1; ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := obj.PutBytes(ctx, "model", version(v)); err != nil {
				t.Errorf("put %d: %v", v, err)
				return
			}
			puts = v
		}
	})
	var reads, timeouts int
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); reads++ {
		b, err := GetObject(ctx, obj, "model")
		if err != nil {
			t.Fatalf("GetObject after %d reads: %v", reads, err)
		}
		var v int
		if _, err := fmt.Sscanf(string(b), "version %08d;", &v); err != nil || !bytes.Equal(b, version(v)) {
			t.Fatalf("read %d: %d bytes that are no version written", reads, len(b))
		}
		// The same read by GetBytes alone, to show the window (not asserted: it is timing).
		rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		if _, err := obj.GetBytes(rctx, "model"); err != nil {
			timeouts++
		}
		cancel()
	}
	close(stop)
	wg.Wait()
	t.Logf("%d reads while %d puts replaced the object; GetBytes alone failed %d times", reads, puts, timeouts)
}

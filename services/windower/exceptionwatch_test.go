package windower

import (
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/stream"
)

// TestExceptionWatchAfterStop: a stopped watcher closes its updates channel; reading the
// exceptions must still return at once (a windower shutting down hung here, spinning on the
// closed channel).
func TestExceptionWatchAfterStop(t *testing.T) {
	h := startServer(t)
	if err := ensureStateBuckets(h.ctx, h.js, stream.Config{Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	kv, err := h.js.KeyValue(h.ctx, stream.ExceptionsBucket)
	if err != nil {
		t.Fatal(err)
	}
	x, err := watchExceptions(h.ctx, kv, "rule-1")
	if err != nil {
		t.Fatal(err)
	}
	x.stop()
	done := make(chan struct{})
	go func() { x.current(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("current() did not return after the watcher stopped")
	}
}

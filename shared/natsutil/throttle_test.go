package natsutil

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestThrottleWaitsForTheConsumer(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "OUT", "out")
	th := NewThrottle(js, "OUT", "next")
	th.Backlog = 5

	// No consumer yet: its stage has not started, so the throttle does not wait.
	if err := th.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "OUT", jetstream.ConsumerConfig{Durable: "next", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := js.Publish(ctx, "out", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitPending(t, cons, 10)
	// Ten undelivered messages, a backlog of five: Wait must not return until the consumer
	// has taken at least five of them.
	done := make(chan error, 1)
	go func() { done <- th.Wait(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned (%v) with 10 messages undelivered and a backlog of 5", err)
	case <-time.After(300 * time.Millisecond):
	}
	batch, err := cons.Fetch(6, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		_ = m
	}
	if n != 6 {
		t.Fatalf("fetched %d messages, want 6", n)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait still waiting with 4 messages undelivered and a backlog of 5")
	}
	// A cancelled stage stops waiting at once and reports no error: it is shutting down.
	for range 10 {
		if _, err := js.Publish(ctx, "out", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := th.Wait(cctx); err != nil {
		t.Fatalf("Wait on a cancelled context: %v", err)
	}
}

// TestThrottleSumsSeveralConsumers is ingest's view of the scorer: one consumer per partition,
// some not created yet. The backlog is the sum of what each has not been delivered.
func TestThrottleSumsSeveralConsumers(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "PARTS", "parts.>")
	th := NewThrottle(js, "PARTS", "part-0", "part-1", "part-2")
	th.Backlog = 5
	var cons []jetstream.Consumer
	for _, p := range []string{"0", "1"} { // part-2 does not exist: it counts as 0
		c, err := DurableConsumer(ctx, js, "PARTS", "part-"+p, "parts."+p)
		if err != nil {
			t.Fatal(err)
		}
		cons = append(cons, c)
		for range 3 {
			if _, err := js.Publish(ctx, "parts."+p, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Another stage's consumer on the stream does not count.
	if _, err := DurableConsumer(ctx, js, "PARTS", "other"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cons {
		waitPending(t, c, 3)
	}
	done := make(chan error, 1)
	go func() { done <- th.Wait(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned (%v) with 3+3 messages undelivered and a backlog of 5", err)
	case <-time.After(300 * time.Millisecond):
	}
	batch, err := cons[1].Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range batch.Messages() {
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait still waiting with 3+2 messages undelivered and a backlog of 5")
	}
}

// waitPending waits until c counts want messages pending: a consumer counts a message
// published after its creation a moment later, and a check before that would see fewer than
// the test means.
func waitPending(t *testing.T, c jetstream.Consumer, want uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		info, err := c.Info(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s has %d pending, want %d", info.Name, info.NumPending, want)
		}
	}
}

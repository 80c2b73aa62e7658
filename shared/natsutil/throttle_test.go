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

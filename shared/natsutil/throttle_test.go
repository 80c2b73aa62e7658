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

// TestThrottleSharedByLoops is a scorer's partitions sharing one Throttle: while one loop's
// check is in flight, the others go on with the last answer when it was under the backlog,
// and wait for the check when it was over, without asking the server themselves.
func TestThrottleSharedByLoops(t *testing.T) {
	ctx := testContext(t)
	th := NewThrottle(nil, "OUT", "next")
	th.Backlog = 10
	type answer struct{ behind uint64 }
	asked, answers := make(chan struct{}), make(chan answer)
	th.check = func(ctx context.Context) (uint64, bool, error) {
		asked <- struct{}{}
		a := <-answers
		return a.behind, true, nil
	}
	wait := func() chan error {
		done := make(chan error, 1)
		go func() { done <- th.Wait(ctx) }()
		return done
	}
	returned := func(done chan error, what string) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Wait did not return", what)
		}
	}
	waiting := func(done chan error, what string) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("%s: Wait returned (%v)", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// Nothing known yet: the first loop asks; a second, meanwhile, goes on.
	first := wait()
	<-asked
	returned(wait(), "a loop while the first check is in flight, nothing known over the backlog")
	answers <- answer{behind: 7} // over half the backlog: no quiet time, the next Wait asks
	returned(first, "the first check, 7 behind a backlog of 10")

	// Over the backlog: the loop that asked waits and asks again; another one waits for its
	// check instead of asking.
	first = wait()
	<-asked
	answers <- answer{behind: 12}
	<-asked // the first loop's second check, 25 ms on
	second := wait()
	waiting(second, "a loop while the last check found 12 behind a backlog of 10")
	waiting(first, "the loop whose check found 12 behind")
	answers <- answer{behind: 3}
	returned(first, "the loop whose check found 3 behind")
	// The second loop's next look finds the quiet time the check under half set: no question.
	returned(second, "a loop that waited for the other's check")
	select {
	case <-asked:
		t.Fatal("a loop asked the server within Every of a check under half the backlog")
	case <-time.After(50 * time.Millisecond):
	}
}

package natsutil

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// fetchAll takes n messages off the consumer, as a replica would, without acking them.
func fetchAll(t *testing.T, cons jetstream.Consumer, n int) []jetstream.Msg {
	t.Helper()
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if len(msgs) != n {
		t.Fatalf("fetched %d messages, want %d", len(msgs), n)
	}
	return msgs
}

// countingConsumer counts the reads of the consumer's info.
type countingConsumer struct {
	jetstream.Consumer
	reads atomic.Int64
}

func (c *countingConsumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	c.reads.Add(1)
	return c.Consumer.Info(ctx)
}

func TestBarrier(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "BARRIER", "barrier.>")
	publishN(t, js, "barrier.a", 6)
	cons, err := DurableConsumer(ctx, js, "BARRIER", "stage")
	if err != nil {
		t.Fatal(err)
	}
	msgs := fetchAll(t, cons, 6) // msgs[i] has stream sequence i+1
	cc := &countingConsumer{Consumer: cons}
	b := NewBarrier(cc)
	b.Interval = 0
	passed := func(seq uint64) bool {
		t.Helper()
		ok, err := b.Passed(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if !passed(1) {
		t.Error("nothing comes before the first message, yet its barrier did not pass")
	}
	if passed(3) {
		t.Error("barrier at 3 passed while 1 and 2 are neither acked nor done")
	}
	// Another replica acks 1 and 2: the ack floor says so.
	for _, m := range msgs[:2] {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !passed(3) || b.Floor() != 2 {
		t.Errorf("barrier at 3 after 1 and 2 were acked: floor %d", b.Floor())
	}
	// What this replica did itself counts without asking the server.
	b.Interval = time.Hour
	before := cc.reads.Load()
	b.Done(3)
	b.Done(4)
	if !passed(5) || cc.reads.Load() != before {
		t.Errorf("barrier at 5 after doing 3 and 4 here: floor %d, %d reads of the consumer", b.Floor(), cc.reads.Load()-before)
	}
	// A message done here above one that is not (6 above 5) does not move the floor.
	b.Done(6)
	if passed(7) {
		t.Error("barrier at 7 passed while 5 is neither acked nor done")
	}
	if err := msgs[4].DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}
	if passed(7) {
		t.Error("the floor was read again within the interval")
	}
	// The floor the server reports covers only acked runs: 3 and 4, done here, count there
	// once this replica acks them (as its loop does after the commit).
	b.Interval = 0
	if passed(7) {
		t.Error("barrier at 7 passed while the server's floor is 2")
	}
	for _, m := range msgs[2:4] {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !passed(7) || b.Floor() != 6 {
		t.Errorf("barrier at 7 after 5 was acked elsewhere and 6 done here: floor %d", b.Floor())
	}
}

// TestLoopReleasesRetained checks that a message kept by Retain is committed and released once
// its condition holds even when no new input comes, and that it is not delivered again while
// held past the ack wait.
func TestLoopReleasesRetained(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "LOOPTEST", "loop.>")
	publishN(t, js, "loop.a", 3)
	// An ack wait of 2 s: the loop reports progress every 667 ms, so only a stall of the test
	// process of over 1.3 s (seen once under CI's parallel packages with 1 s) redelivers m2.
	const ackWait = 2 * time.Second
	cons, err := DurableConsumerAckWait(ctx, js, "LOOPTEST", "looper", ackWait)
	if err != nil {
		t.Fatal(err)
	}
	var handled []string
	var open atomic.Bool // the condition m2 waits for
	held := map[uint64]bool{}
	released := 0
	runCtx, cancel := context.WithCancel(ctx)
	l := Loop{
		Consumer: cons,
		Idle:     20 * time.Millisecond,
		Handle: func(_ context.Context, m jetstream.Msg) error {
			handled = append(handled, string(m.Data()))
			if string(m.Data()) == "m2" {
				held[seq(t, m)] = true
			}
			return nil
		},
		Retain: func(m jetstream.Msg) bool { return held[seq(t, m)] },
		Release: func(context.Context) error {
			if open.Load() && len(held) > 0 {
				clear(held)
				released++
			}
			return nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()

	waitInfo := func(what string, ok func(*jetstream.ConsumerInfo) bool) *jetstream.ConsumerInfo {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ok(info) {
				return info
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ack floor %d, pending %d", what, info.AckFloor.Stream, info.NumAckPending)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// m1 and m3 are acked, m2 is held.
	waitInfo("m1 and m3 acked", func(i *jetstream.ConsumerInfo) bool { return i.AckFloor.Stream == 1 && i.NumAckPending == 1 })
	time.Sleep(2*ackWait + ackWait/2) // past the ack wait, twice
	info := waitInfo("m2 still held", func(*jetstream.ConsumerInfo) bool { return true })
	if info.NumAckPending != 1 || info.NumRedelivered != 0 {
		t.Errorf("after the ack wait: pending %d, redelivered %d; want m2 held and never redelivered", info.NumAckPending, info.NumRedelivered)
	}
	open.Store(true)
	waitInfo("m2 released", func(i *jetstream.ConsumerInfo) bool { return i.AckFloor.Stream == 3 && i.NumAckPending == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if len(handled) != 3 || released != 1 {
		t.Errorf("handled %v, released %d times; want each message once and m2 released once", handled, released)
	}
}

func seq(t *testing.T, m jetstream.Msg) uint64 {
	t.Helper()
	meta, err := m.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return meta.Sequence.Stream
}

// TestLoopReportsProgressWhileThrottled checks that a loop held back by its Throttle (the next
// stage far behind) keeps telling the server that the messages it holds are being worked on:
// a throttle that waits longer than the ack wait must not have them delivered again, which
// would make every stage redo the work it waits to hand on.
func TestLoopReportsProgressWhileThrottled(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "THROTTLED", "throttled.>")
	publishN(t, js, "throttled.a", 3)
	const ackWait = 2 * time.Second // progress every 667 ms, as TestLoopReleasesRetained
	cons, err := DurableConsumerAckWait(ctx, js, "THROTTLED", "held", ackWait)
	if err != nil {
		t.Fatal(err)
	}
	held := map[uint64]bool{}
	var open atomic.Bool // the condition m2 waits for
	next := make(chan struct{})
	throttled := make(chan struct{}, 1)
	runCtx, cancel := context.WithCancel(ctx)
	l := Loop{
		Consumer: cons,
		Idle:     20 * time.Millisecond,
		Handle: func(_ context.Context, m jetstream.Msg) error {
			if string(m.Data()) == "m2" {
				held[seq(t, m)] = true
			}
			return nil
		},
		Retain: func(m jetstream.Msg) bool { return held[seq(t, m)] },
		Release: func(context.Context) error {
			if open.Load() {
				clear(held)
			}
			return nil
		},
		// The next stage is behind until the test says otherwise.
		Throttle: func(ctx context.Context) error {
			select {
			case throttled <- struct{}{}:
			default:
			}
			select {
			case <-next:
			case <-ctx.Done():
			}
			return nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()
	select {
	case <-throttled:
	case <-time.After(20 * time.Second):
		t.Fatal("the loop never committed and waited on its throttle")
	}
	time.Sleep(2*ackWait + ackWait/2) // throttled past the ack wait, twice
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 {
		t.Errorf("after a throttle wait of %s with an ack wait of %s: %d messages redelivered, want none (pending %d)",
			2*ackWait+ackWait/2, ackWait, info.NumRedelivered, info.NumAckPending)
	}
	open.Store(true)
	close(next)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream == 3 && info.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("m2 never released once the throttle let go: ack floor %d, pending %d", info.AckFloor.Stream, info.NumAckPending)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

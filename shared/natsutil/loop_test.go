package natsutil

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishN stores n messages "m1".."mn" on subject.
func publishN(t *testing.T, js jetstream.JetStream, subject string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if _, err := js.Publish(testContext(t), subject, []byte(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoopAcksOnlyAfterCommit(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "LOOPTEST", "loop.>")
	publishN(t, js, "loop.a", 5)
	cons, err := DurableConsumer(ctx, js, "LOOPTEST", "looper")
	if err != nil {
		t.Fatal(err)
	}
	if got := cons.CachedInfo().Config.AckPolicy; got == jetstream.AckNonePolicy {
		t.Fatalf("ack policy %v: a stage's consumer must ack", got)
	}

	type atCommit struct {
		handled  int
		ackFloor uint64
	}
	var handled []string
	var commits []atCommit
	runCtx, cancel := context.WithCancel(ctx)
	l := Loop{
		Consumer: cons,
		MaxBatch: 5,
		Idle:     time.Second,
		Handle: func(_ context.Context, m jetstream.Msg) error {
			handled = append(handled, string(m.Data()))
			return nil
		},
		Commit: func(ctx context.Context) error {
			info, err := cons.Info(ctx)
			if err != nil {
				return err
			}
			commits = append(commits, atCommit{len(handled), info.AckFloor.Stream})
			return nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()

	// Wait until the last message is acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream == 5 && info.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ack floor %d, pending %d: the loop never acked all 5 messages", info.AckFloor.Stream, info.NumAckPending)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil on cancellation", err)
	}
	if fmt.Sprint(handled) != "[m1 m2 m3 m4 m5]" {
		t.Errorf("handled %v, want m1..m5 in order", handled)
	}
	if len(commits) == 0 {
		t.Fatal("Commit never called")
	}
	// At each commit nothing beyond what earlier commits covered is acked yet.
	prev := 0
	for i, c := range commits {
		if c.ackFloor != uint64(prev) {
			t.Errorf("commit %d: ack floor %d before the commit returned, want %d", i, c.ackFloor, prev)
		}
		prev = c.handled
	}
	if prev != 5 {
		t.Errorf("the last commit covered %d messages, want 5", prev)
	}
}

func TestLoopCommitErrorStopsWithoutAck(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "LOOPTEST", "loop.>")
	publishN(t, js, "loop.a", 3)
	cons, err := DurableConsumer(ctx, js, "LOOPTEST", "looper")
	if err != nil {
		t.Fatal(err)
	}
	errCommit := errors.New("commit failed")
	l := Loop{
		Consumer: cons,
		MaxBatch: 3,
		Idle:     time.Second,
		Handle:   func(context.Context, jetstream.Msg) error { return nil },
		Commit:   func(context.Context) error { return errCommit },
	}
	if err := l.Run(ctx); !errors.Is(err, errCommit) {
		t.Fatalf("Run = %v, want the commit error", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.AckFloor.Stream != 0 || info.NumAckPending != 3 {
		t.Errorf("ack floor %d, pending %d; want 0 and 3: nothing may be acked when Commit fails", info.AckFloor.Stream, info.NumAckPending)
	}
}

func TestLoopHandleErrorStops(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "LOOPTEST", "loop.>")
	publishN(t, js, "loop.a", 2)
	cons, err := DurableConsumer(ctx, js, "LOOPTEST", "looper")
	if err != nil {
		t.Fatal(err)
	}
	errHandle := errors.New("stage failed")
	commits := 0
	l := Loop{
		Consumer: cons,
		Idle:     time.Second,
		Handle:   func(context.Context, jetstream.Msg) error { return errHandle },
		Commit:   func(context.Context) error { commits++; return nil },
	}
	if err := l.Run(ctx); !errors.Is(err, errHandle) {
		t.Fatalf("Run = %v, want the handle error", err)
	}
	if commits != 0 {
		t.Errorf("Commit called %d times after a failed Handle, want 0", commits)
	}
}

// TestStallWatch: a consumer with no pull waiting is stalled, whether it has messages to
// deliver or not yet; while a pull waits, it is not.
func TestStallWatch(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "STALL", "stall.>")
	if _, err := js.Publish(ctx, "stall.x", []byte("one")); err != nil {
		t.Fatal(err)
	}
	c, err := DurableConsumer(ctx, js, "STALL", "stage")
	if err != nil {
		t.Fatal(err)
	}
	w := stallWatch{consumer: c}
	w.message()
	if w.stalled(ctx) {
		t.Error("stalled before stallFirst of silence")
	}
	w.last = time.Now().Add(-stallFirst)
	if !w.stalled(ctx) {
		t.Error("a message pending and no pull waiting: not reported stalled")
	}
	// Checked again only after twice the silence, then at most every stallMax.
	w.last = time.Now().Add(-stallFirst)
	if w.stalled(ctx) {
		t.Error("checked again after stallFirst: want 2*stallFirst")
	}
	w.last = time.Now().Add(-2 * stallFirst)
	if !w.stalled(ctx) {
		t.Error("still stalled after 2*stallFirst of silence: not reported")
	}
	for range 5 {
		w.last = time.Now().Add(-stallMax)
		w.stalled(ctx)
	}
	if w.wait != stallMax {
		t.Errorf("wait %v after many checks, want stallMax %v", w.wait, stallMax)
	}
	w.message()
	w.last = time.Now().Add(-stallFirst)
	if !w.stalled(ctx) {
		t.Error("a message came, then stallFirst of silence: not checked")
	}
	it, err := c.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	m, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Ack()
	w.message()
	w.last = time.Now().Add(-stallFirst)
	if w.stalled(ctx) {
		t.Error("a pull waiting, nothing pending: reported stalled")
	}
	// A pull lost before anything came (a stage that has just taken over, on a cluster): no
	// message is pending yet, and none would ever be delivered.
	quiet, err := DurableConsumer(ctx, js, "STALL", "quiet", "stall.none")
	if err != nil {
		t.Fatal(err)
	}
	q := stallWatch{consumer: quiet}
	q.message()
	q.last = time.Now().Add(-stallFirst)
	if !q.stalled(ctx) {
		t.Error("no pull waiting and nothing pending: not reported stalled")
	}
}

// A stage whose output is large commits on Full, well before MaxBatch: each commit covers
// what made its Publisher hold 2 messages' data, and the publisher holds nothing after it.
func TestLoopCommitsWhenFull(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "FULLIN", "fullin.>")
	createStream(t, js, "FULLOUT", "fullout.>")
	publishN(t, js, "fullin.a", 6)
	cons, err := DurableConsumer(ctx, js, "FULLIN", "full")
	if err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(js)
	out := make([]byte, 1000)
	var covered []int // messages handled at each commit
	handled := 0
	runCtx, cancel := context.WithCancel(ctx)
	l := Loop{
		Consumer: cons,
		MaxBatch: 1000,
		Idle:     time.Minute, // no commit on idle input before the test ends
		Handle: func(_ context.Context, m jetstream.Msg) error {
			handled++
			return pub.Publish(&nats.Msg{Subject: "fullout.x", Data: out}, "")
		},
		Full: func() bool { return pub.PendingBytes() >= 2*len(out) },
		Commit: func(ctx context.Context) error {
			if err := pub.Flush(ctx); err != nil {
				return err
			}
			if pub.PendingBytes() != 0 || pub.Pending() != 0 {
				t.Errorf("after Flush: %d messages, %d bytes pending, want none", pub.Pending(), pub.PendingBytes())
			}
			covered = append(covered, handled)
			if handled == 6 {
				cancel()
			}
			return nil
		},
	}
	if err := l.Run(runCtx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if fmt.Sprint(covered) != "[2 4 6]" {
		t.Errorf("commits after %v messages, want [2 4 6] (every 2 messages' output)", covered)
	}
}

// TestLoopCommitsAtAGap: a loop with a Barrier's Release commits (and acks) before it handles a
// message that does not follow the last one it handled: another replica holds those between,
// and waits at its Barrier for this one's acks.
func TestLoopCommitsAtAGap(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "GAPIN", "gapin.>")
	publishN(t, js, "gapin.a", 9)
	s, err := js.Stream(ctx, "GAPIN")
	if err != nil {
		t.Fatal(err)
	}
	// Messages 4 and 5 are another replica's (gone from this one's input, as if delivered
	// there).
	for _, seq := range []uint64{4, 5} {
		if err := s.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := DurableConsumer(ctx, js, "GAPIN", "gap")
	if err != nil {
		t.Fatal(err)
	}
	var covered []int // messages handled at each commit
	handled := 0
	runCtx, cancel := context.WithCancel(ctx)
	l := Loop{
		Consumer: cons,
		MaxBatch: 1000,
		Idle:     time.Second,
		Handle: func(context.Context, jetstream.Msg) error {
			handled++
			// Three messages outlast gapCommitEvery, so the gap commits at once.
			time.Sleep(gapCommitEvery / 2)
			return nil
		},
		Commit: func(context.Context) error {
			covered = append(covered, handled)
			if handled == 7 {
				cancel()
			}
			return nil
		},
		Release: func(context.Context) error { return nil },
	}
	if err := l.Run(runCtx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if fmt.Sprint(covered) != "[3 7]" {
		t.Errorf("commits after %v messages, want [3 7] (at the gap after message 3, then on idle input)", covered)
	}
}

// With IdleCommitEvery, pauses in the input sooner after the last commit than that do not
// commit, and what was handled since is still committed once the input stops.
func TestLoopIdleCommitEvery(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "BURSTS", "bursts.>")
	cons, err := DurableConsumer(ctx, js, "BURSTS", "bursts")
	if err != nil {
		t.Fatal(err)
	}
	const bursts, every = 8, 600 * time.Millisecond
	var mu sync.Mutex
	var commits []int // messages handled at each commit
	handled := 0
	runCtx, cancel := context.WithCancel(ctx)
	l := Loop{
		Consumer:        cons,
		Idle:            20 * time.Millisecond,
		IdleCommitEvery: every,
		Handle: func(context.Context, jetstream.Msg) error {
			mu.Lock()
			handled++
			mu.Unlock()
			return nil
		},
		Commit: func(context.Context) error {
			mu.Lock()
			commits = append(commits, handled)
			done := handled == bursts
			mu.Unlock()
			if done {
				cancel()
			}
			return nil
		},
	}
	ran := make(chan error, 1)
	go func() { ran <- l.Run(runCtx) }()
	// A message every 100 ms: each followed by a pause of several Idle, none of IdleCommitEvery.
	began := time.Now()
	for range bursts {
		publishN(t, js, "bursts.a", 1)
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the last messages were never committed")
	}
	mu.Lock()
	defer mu.Unlock()
	// Without IdleCommitEvery every pause commits: 8 commits. With it, one at most every 600
	// ms of the ~800 ms of input, and one after it.
	if most := int(time.Since(began)/every) + 1; len(commits) > most || len(commits) < 2 {
		t.Errorf("commits after %v messages: %d commits, want 2..%d", commits, len(commits), most)
	}
	if last := commits[len(commits)-1]; last != bursts {
		t.Errorf("commits after %v messages: the last covers %d, want all %d", commits, last, bursts)
	}
}

// A loop stopped with messages it holds (retained, or handled since its last commit) gives
// them back at once, so a replica taking over need not wait out the ack wait.
func TestLoopStopGivesBackHeldMessages(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "HOLD", "hold.>")
	publishN(t, js, "hold.a", 3)
	cons, err := DurableConsumer(ctx, js, "HOLD", "holder")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	handled := 0
	l := Loop{
		Consumer: cons,
		MaxBatch: 2, // m1 and m2 committed but retained, m3 handled and not committed
		Idle:     time.Minute,
		Handle: func(context.Context, jetstream.Msg) error {
			if handled++; handled == 3 {
				cancel()
			}
			return nil
		},
		Retain: func(jetstream.Msg) bool { return true },
	}
	if err := l.Run(runCtx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	// The consumer's ack wait is far longer than the fetch waits: only given back are they
	// delivered again within it.
	if info, err := cons.Info(ctx); err != nil || info.Config.AckWait < 30*time.Second {
		t.Fatalf("consumer info %v, %v: want an ack wait of at least 30s for this test", info, err)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	again := 0
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if md.NumDelivered != 2 {
			t.Errorf("%s delivered %d times, want 2", m.Data(), md.NumDelivered)
		}
		again++
	}
	if again != 3 {
		t.Errorf("%d of the 3 held messages delivered again within 5s of the stop, want 3", again)
	}
}

// TestDurableConsumerStorage checks where a stage's consumer keeps its state: in memory on a
// work queue (the stream holds what is left), in a file on any other stream, and where it
// was for a consumer that exists (the server refuses to change it).
func TestDurableConsumerStorage(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	file := func(name string, retention jetstream.RetentionPolicy, subject string) {
		t.Helper()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject},
			Storage: jetstream.FileStorage, Retention: retention}); err != nil {
			t.Fatal(err)
		}
	}
	file("WORK", jetstream.WorkQueuePolicy, "work.>")
	file("KEPT", jetstream.LimitsPolicy, "kept.>")
	file("OLD", jetstream.WorkQueuePolicy, "old.>")
	if _, err := js.CreateConsumer(ctx, "OLD", jetstream.ConsumerConfig{Durable: "stage", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stream string
		memory bool
	}{{"WORK", true}, {"KEPT", false}, {"OLD", false}} {
		cons, err := DurableConsumer(ctx, js, c.stream, "stage")
		if err != nil {
			t.Fatalf("%s: %v", c.stream, err)
		}
		if got := cons.CachedInfo().Config.MemoryStorage; got != c.memory {
			t.Errorf("%s: memory storage %v, want %v", c.stream, got, c.memory)
		}
		// A second replica starting (or a restart) finds it as it is.
		again, err := DurableConsumer(ctx, js, c.stream, "stage")
		if err != nil {
			t.Fatalf("%s, again: %v", c.stream, err)
		}
		if got := again.CachedInfo().Config.MemoryStorage; got != c.memory {
			t.Errorf("%s, again: memory storage %v, want %v", c.stream, got, c.memory)
		}
	}
}

// TestLoopInOrderStopsAtALostDelivery: a delivery that never reached the loop (here fetched
// by a pull request no one reads on, as when the NATS node it went through dies) comes again
// only after the ack wait, behind the messages after it. A loop with InOrder stops at the
// first of those, before handling it; on a fresh consumer everything comes again in order.
func TestLoopInOrderStopsAtALostDelivery(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "ORDERTEST", "order.>")
	publishN(t, js, "order.a", 3)
	cons, err := DurableConsumer(ctx, js, "ORDERTEST", "ordered")
	if err != nil {
		t.Fatal(err)
	}
	lost, err := js.Consumer(ctx, "ORDERTEST", "ordered")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := lost.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if string(m.Data()) != "m1" {
			t.Fatalf("the lost delivery is %q, want m1", m.Data())
		}
	}
	run := func(cons jetstream.Consumer, want int) ([]string, error) {
		var handled []string
		runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		l := Loop{Consumer: cons, InOrder: true, Idle: 20 * time.Millisecond,
			Handle: func(_ context.Context, m jetstream.Msg) error {
				if handled = append(handled, string(m.Data())); len(handled) == want {
					cancel()
				}
				return nil
			}}
		return handled, l.Run(runCtx)
	}
	handled, err := run(cons, 2)
	if !errors.Is(err, ErrOutOfOrder) || len(handled) != 0 {
		t.Fatalf("after a lost delivery: handled %v, err %v; want nothing handled and ErrOutOfOrder", handled, err)
	}
	fresh, err := FreshConsumer(ctx, js, "ORDERTEST", "ordered")
	if err != nil {
		t.Fatal(err)
	}
	handled, err = run(fresh, 3)
	if err != nil || fmt.Sprint(handled) != "[m1 m2 m3]" {
		t.Fatalf("on a fresh consumer: handled %v, err %v; want [m1 m2 m3]", handled, err)
	}
}

// TestLoopKeepsWhatAStallFound: a message delivered to the loop's iterator after Next gave up
// waiting (here while Commit runs, past stallFirst of silence) leaves the consumer with no pull
// waiting, so the stall watch replaces the iterator; the message it was delivered must still
// be handled at once, not after the consumer's ack wait.
func TestLoopKeepsWhatAStallFound(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	createStream(t, js, "STALLDELIV", "stalldeliv.>")
	cons, err := DurableConsumer(ctx, js, "STALLDELIV", "stage") // an ack wait of a minute
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, js, "stalldeliv.a", 1)
	handled := make(chan string, 4)
	commits := 0
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := Loop{
		Consumer: cons,
		MaxBatch: 2, // pulls of two messages: the second delivered, no pull waits
		Idle:     20 * time.Millisecond,
		Handle: func(_ context.Context, m jetstream.Msg) error {
			handled <- string(m.Data())
			return nil
		},
		Commit: func(ctx context.Context) error {
			if commits++; commits > 1 {
				return nil
			}
			// The next message comes to the iterator's pull while the loop is busy here, and
			// stays in its buffer; the silence outlasts stallFirst.
			time.Sleep(stallFirst)
			if _, err := js.Publish(ctx, "stalldeliv.a", []byte("m2")); err != nil {
				return err
			}
			for {
				info, err := cons.Info(ctx)
				if err != nil {
					return err
				}
				if info.NumAckPending == 2 && info.NumWaiting == 0 {
					return nil // delivered, unread, and no pull waits: what the watch sees
				}
				time.Sleep(5 * time.Millisecond)
			}
		},
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()
	for _, want := range []string{"m1", "m2"} {
		select {
		case got := <-handled:
			if got != want {
				t.Fatalf("handled %s, want %s", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not handled within 5s (the ack wait is a minute: a dropped delivery)", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package natsutil

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
)

func TestPublisherFlush(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	s := createStream(t, js, "PUBTEST", "pub.>")

	t.Run("acknowledged, with de-duplication by id", func(t *testing.T) {
		p := NewPublisher(js)
		for _, m := range []struct{ data, id string }{{"one", "id-1"}, {"two", "id-2"}, {"one again", "id-1"}, {"no id", ""}} {
			msg := nats.NewMsg("pub.x")
			msg.Data = []byte(m.data)
			if err := p.Publish(msg, m.id); err != nil {
				t.Fatal(err)
			}
		}
		if got := p.Pending(); got != 4 {
			t.Errorf("Pending = %d, want 4", got)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if got := p.Pending(); got != 0 {
			t.Errorf("Pending after Flush = %d, want 0", got)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// "one again" carries the id of "one" and is dropped by the stream.
		if info.State.Msgs != 3 {
			t.Errorf("stream holds %d messages, want 3", info.State.Msgs)
		}
		m, err := s.GetMsg(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != "no id" {
			t.Errorf("third stored message = %q, want %q", m.Data, "no id")
		}
	})

	t.Run("no stream captures the subject", func(t *testing.T) {
		p := NewPublisher(js)
		p.RetryFor = 300 * time.Millisecond
		ok := nats.NewMsg("pub.fine")
		if err := p.Publish(ok, ""); err != nil {
			t.Fatal(err)
		}
		lost := nats.NewMsg("nowhere.at.all")
		lost.Data = []byte("x")
		if err := p.Publish(lost, ""); err != nil {
			t.Fatal(err)
		}
		err := p.Flush(ctx)
		if !errors.Is(err, ErrPublish) {
			t.Fatalf("Flush = %v, want an error wrapping ErrPublish", err)
		}
		if !strings.Contains(err.Error(), "nowhere.at.all") || !strings.Contains(err.Error(), "retried for") {
			t.Errorf("error %q does not name the subject", err)
		}
		if got := p.Pending(); got != 0 {
			t.Errorf("Pending after a failed Flush = %d, want 0", got)
		}
		// The Publisher stays usable.
		if err := p.Publish(nats.NewMsg("pub.after"), ""); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Errorf("Flush after a failure: %v", err)
		}
	})
}

// TestPublisherRetriesUntilStored: a message nothing stores yet (as while a cluster elects a
// stream leader) is published again until a stream takes it, once.
func TestPublisherRetriesUntilStored(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	p := NewPublisher(js)
	p.RetryFor = 20 * time.Second
	for _, id := range []string{"a", "b"} {
		msg := nats.NewMsg("later." + id)
		if err := p.Publish(msg, id); err != nil {
			t.Fatal(err)
		}
	}
	created := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LATER", Subjects: []string{"later.>"},
			Storage: jetstream.MemoryStorage, Duplicates: time.Minute})
		created <- err
	}()
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "LATER")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("stream holds %d messages, want 2", n)
	}
}

func TestDeadLetterMsg(t *testing.T) {
	tests := []struct {
		name string
		dl   DeadLetter
		want map[string]string // header -> value; "" means absent
	}{
		{
			name: "all fields",
			dl:   DeadLetter{Stage: "ingest", Reason: "malformed input: x", Source: "a.log", Line: 12, Format: "auditd", Data: []byte("type=X")},
			want: map[string]string{control.HeaderStage: "ingest", control.HeaderReason: "malformed input: x",
				control.HeaderSource: "a.log", control.HeaderLine: "12", control.HeaderFormat: "auditd"},
		},
		{
			name: "no position",
			dl:   DeadLetter{Stage: "windower", Reason: "too late", Data: []byte("{}")},
			want: map[string]string{control.HeaderStage: "windower", control.HeaderReason: "too late",
				control.HeaderSource: "", control.HeaderLine: "", control.HeaderFormat: ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.dl.Msg("rarenet.dlq." + tt.dl.Stage)
			if m.Subject != "rarenet.dlq."+tt.dl.Stage {
				t.Errorf("subject %q", m.Subject)
			}
			if string(m.Data) != string(tt.dl.Data) {
				t.Errorf("data %q, want %q", m.Data, tt.dl.Data)
			}
			for h, v := range tt.want {
				if got := m.Header.Get(h); got != v {
					t.Errorf("%s = %q, want %q", h, got, v)
				}
			}
			if control.IsControl(m.Header) {
				t.Error("a dead letter must not look like a control message")
			}
		})
	}
}

// TestPublisherFence: a marker between two fences (PublishMarker) is stored after everything published before it
// and before everything published after it, even when a message on either side is refused at
// first and published again. The refusals come from a real server: a subject at its
// per-subject limit (discard new) refuses publishes until the test purges it, as a cluster
// that lost a node leaves some unanswered while later ones land.
func TestPublisherFence(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	o := newOrderStream(t, js, "ORDER", "order.>")

	t.Run("data refused at first stays ahead of the marker after it", func(t *testing.T) {
		p := NewPublisher(js)
		p.RetryFor = 20 * time.Second
		unblock := o.refuse("order.a.data")
		for _, m := range []struct {
			subject string
			marker  bool
		}{{"order.a.data", false}, {"order.a.marker", true}, {"order.a.next", false}} {
			publishMarker(t, p, m.marker, orderMsg(m.subject), "")
		}
		if got := p.Pending(); got != 3 {
			t.Errorf("Pending = %d, want 3", got)
		}
		go unblock()
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := o.seqs("order.a.data", "order.a.marker", "order.a.next")
		if !slices.IsSorted(got) {
			t.Errorf("stream sequences of data, marker, next = %v: out of order", got)
		}
	})

	t.Run("a marker refused at first stays ahead of what follows", func(t *testing.T) {
		p := NewPublisher(js)
		p.RetryFor = 20 * time.Second
		unblock := o.refuse("order.b.marker")
		if err := p.Publish(orderMsg("order.b.data"), "id-b-data"); err != nil {
			t.Fatal(err)
		}
		publishMarker(t, p, true, orderMsg("order.b.marker"), "id-b-marker")
		for _, sub := range []string{"order.b.next", "order.b.last"} {
			if err := p.Publish(orderMsg(sub), ""); err != nil {
				t.Fatal(err)
			}
		}
		go unblock()
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := o.seqs("order.b.data", "order.b.marker", "order.b.next", "order.b.last")
		if !slices.IsSorted(got) {
			t.Errorf("stream sequences of data, marker, next, last = %v: out of order", got)
		}
		m, err := o.stream.GetLastMsgForSubject(ctx, "order.b.marker")
		if err != nil {
			t.Fatal(err)
		}
		if id := m.Header.Get(jetstream.MsgIDHeader); id != "id-b-marker" {
			t.Errorf("the marker's Nats-Msg-Id = %q, want id-b-marker", id)
		}
	})

	t.Run("the Publisher is reusable after Flush", func(t *testing.T) {
		p := NewPublisher(js)
		for range 3 {
			publishMarker(t, p, true, orderMsg("order.c.marker"), "")
			if err := p.Publish(orderMsg("order.c.data"), ""); err != nil {
				t.Fatal(err)
			}
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if p.Pending() != 0 || p.PendingBytes() != 0 {
				t.Fatalf("after Flush: Pending %d, PendingBytes %d", p.Pending(), p.PendingBytes())
			}
			if err := o.stream.Purge(ctx, jetstream.WithPurgeSubject("order.c.>")); err != nil { // room for the next round
				t.Fatal(err)
			}
		}
	})
}

// publishMarker publishes msg, between two fences when fenced.
func publishMarker(t *testing.T, p *Publisher, fenced bool, msg *nats.Msg, id string) {
	t.Helper()
	var err error
	if fenced {
		if id != "" {
			msg.Header.Set(jetstream.MsgIDHeader, id)
		}
		err = p.PublishMarker(msg)
	} else {
		err = p.Publish(msg, id)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestPublisherWatermarkInDoubt: a watermark goes out behind a fence once a message before it
// is known to have failed, and data after a watermark known to have failed waits for it; with
// every message acknowledged, nothing waits.
func TestPublisherWatermarkInDoubt(t *testing.T) {
	_, js := startJetStream(t)
	ctx := testContext(t)
	o := newOrderStream(t, js, "DOUBT", "doubt.>")
	// known waits until the Publisher knows the outcome of what it sent.
	known := func(p *Publisher) {
		for deadline := time.Now().Add(10 * time.Second); p.known < len(p.pending) && p.failed == nil; {
			if time.Now().After(deadline) {
				t.Fatal("no acknowledgement in 10s")
			}
			time.Sleep(5 * time.Millisecond)
			p.settle()
		}
	}
	t.Run("nothing in doubt", func(t *testing.T) {
		p := NewPublisher(js)
		if err := p.Publish(orderMsg("doubt.a.data"), ""); err != nil {
			t.Fatal(err)
		}
		known(p)
		if p.Doubt() {
			t.Error("Doubt with every message acknowledged")
		}
		if err := p.PublishWatermark(orderMsg("doubt.a.wm")); err != nil {
			t.Fatal(err)
		}
		if err := p.Publish(orderMsg("doubt.a.next"), ""); err != nil {
			t.Fatal(err)
		}
		if len(p.queue) != 0 {
			t.Errorf("%d messages wait behind a fence with nothing in doubt", len(p.queue))
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a failed publish before the watermark", func(t *testing.T) {
		p := NewPublisher(js)
		p.RetryFor = 20 * time.Second
		unblock := o.refuse("doubt.b.data")
		if err := p.Publish(orderMsg("doubt.b.data"), ""); err != nil {
			t.Fatal(err)
		}
		known(p)
		if !p.Doubt() {
			t.Fatal("no Doubt after a refused publish")
		}
		if err := p.PublishWatermark(orderMsg("doubt.b.wm")); err != nil {
			t.Fatal(err)
		}
		go unblock()
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := o.seqs("doubt.b.data", "doubt.b.wm"); !slices.IsSorted(got) {
			t.Errorf("stream sequences of data, watermark = %v: out of order", got)
		}
	})

	t.Run("a failed watermark before data", func(t *testing.T) {
		p := NewPublisher(js)
		p.RetryFor = 20 * time.Second
		unblock := o.refuse("doubt.c.wm")
		if err := p.PublishWatermark(orderMsg("doubt.c.wm")); err != nil {
			t.Fatal(err)
		}
		known(p)
		if err := p.Publish(orderMsg("doubt.c.next"), ""); err != nil {
			t.Fatal(err)
		}
		go unblock()
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := o.seqs("doubt.c.wm", "doubt.c.next"); !slices.IsSorted(got) {
			t.Errorf("stream sequences of watermark, next = %v: out of order", got)
		}
	})
}

// orderStream is a stream whose subjects hold one message each and refuse the next (discard
// new per subject): a real server refusing a publish until the test makes room, as a cluster
// that lost a node leaves some unanswered while later ones land.
type orderStream struct {
	t      *testing.T
	js     jetstream.JetStream
	stream jetstream.Stream
}

func newOrderStream(t *testing.T, js jetstream.JetStream, name, subject string) orderStream {
	t.Helper()
	s, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: name, Subjects: []string{subject},
		Storage: jetstream.MemoryStorage, Duplicates: time.Minute, MaxMsgsPerSubject: 1,
		Discard: jetstream.DiscardNew, DiscardNewPerSubject: true})
	if err != nil {
		t.Fatal(err)
	}
	return orderStream{t, js, s}
}

// refuse stores a message on subject, so that the next one is refused until unblock purges
// the subject, 300 ms after it is called.
func (o orderStream) refuse(subject string) (unblock func()) {
	o.t.Helper()
	ctx := testContext(o.t)
	if _, err := o.js.Publish(ctx, subject, []byte("filler")); err != nil {
		o.t.Fatal(err)
	}
	return func() {
		time.Sleep(300 * time.Millisecond)
		if err := o.stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
			o.t.Error(err)
		}
	}
}

// seqs returns the stream sequence of the last message on each subject.
func (o orderStream) seqs(subjects ...string) []uint64 {
	o.t.Helper()
	var out []uint64
	for _, sub := range subjects {
		m, err := o.stream.GetLastMsgForSubject(testContext(o.t), sub)
		if err != nil {
			o.t.Fatalf("%s: %v", sub, err)
		}
		out = append(out, m.Sequence)
	}
	return out
}

// orderMsg is a message on subject whose data is the subject.
func orderMsg(subject string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = []byte(subject)
	return m
}

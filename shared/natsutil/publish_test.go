package natsutil

import (
	"errors"
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

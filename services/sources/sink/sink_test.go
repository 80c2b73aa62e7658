package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

func server(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect("", srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Lines go out as raw messages of many lines on rarenet.raw.<format>, numbered on across
// calls, each message naming the source and its first line.
func TestSendPublishesNumberedChunks(t *testing.T) {
	js := server(t)
	ctx := context.Background()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 1, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	s, err := New(js, format.ECS, "sense:h1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for i := range 2500 {
		lines = append(lines, fmt.Appendf(nil, `{"n":%d}`, i+1))
	}
	if err := s.Send(ctx, lines[:1500]); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, lines[1500:]); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Published.Load() != 2500 || s.Backlog() != 0 {
		t.Fatalf("published %d, backlog %d", s.Stats().Published.Load(), s.Backlog())
	}
	raw, err := js.Stream(ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	next := int64(1)
	for seq := uint64(1); ; seq++ {
		m, err := raw.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "rarenet.raw.ecs" || m.Header.Get(control.HeaderSource) != "sense:h1" || m.Header.Get(control.HeaderLine) != fmt.Sprint(next) {
			t.Fatalf("message %d: %s %v, want line %d", seq, m.Subject, m.Header, next)
		}
		got := strings.Split(natstest.RawText(t, m.Header, m.Data), "\n")
		if got[0] != fmt.Sprintf(`{"n":%d}`, next) {
			t.Fatalf("message %d starts with %s, want line %d", seq, got[0], next)
		}
		next += int64(len(got))
	}
	if next != 2501 {
		t.Errorf("the stream holds lines up to %d, want 2500", next-1)
	}
}

// Without a stream to take them, lines stay in the backlog, up to its bound; the overflow is
// counted.
func TestBacklogIsBoundedAndCounted(t *testing.T) {
	js := server(t) // no RAW stream: every publish fails
	s, err := New(js, format.ECS, "sense:h1", 10)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for range 25 {
		lines = append(lines, []byte(`{}`))
	}
	short, cancelShort := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelShort()
	if err := s.Send(short, lines); err == nil {
		t.Fatal("Send succeeded without a stream")
	}
	if s.Backlog() != 10 || s.Stats().Dropped.Load() != 15 || s.Stats().Published.Load() != 0 {
		t.Errorf("backlog %d, dropped %d, published %d; want 10, 15, 0", s.Backlog(), s.Stats().Dropped.Load(), s.Stats().Published.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 1, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if s.Backlog() != 0 || s.Stats().Published.Load() != 10 {
		t.Errorf("after the stream exists: backlog %d, published %d", s.Backlog(), s.Stats().Published.Load())
	}
}

func TestNewChecksItsArguments(t *testing.T) {
	if _, err := New(nil, format.ECS, "x", 0); !errors.Is(err, ErrNoJetStream) {
		t.Errorf("nil JetStream: %v", err)
	}
	if _, err := New(server(t), "syslog", "x", 0); !errors.Is(err, format.ErrUnknownFormat) {
		t.Errorf("unknown format: %v", err)
	}
}

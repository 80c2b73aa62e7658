package service

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/syncbuf"
)

// A stage whose JetStream stops answering while its connection stays up turns /readyz red
// and says why in its log within seconds.
func TestReadinessWatchLogsWhenJetStreamStops(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := natsutil.Connect(srv.ClientURL(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := natsutil.JetStream(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 1, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	cons := []Consumer{{Stream: stream.Raw, Durable: stream.IngestConsumer}}
	if _, err := natsutil.DurableConsumer(ctx, js, stream.Raw, stream.IngestConsumer); err != nil {
		t.Fatal(err)
	}
	ready := NewReadiness(cons)
	ready.Running(nc, js)
	var logs syncbuf.Buffer
	go ready.Watch(ctx, slog.New(slog.NewTextHandler(&logs, nil)), 100*time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "msg=ready") {
		if time.Now().After(deadline) {
			t.Fatalf("never ready before JetStream stopped: %v; logs: %q", ready.Check(), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.DisableJetStream(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "not ready") {
		if time.Now().After(deadline) {
			t.Fatalf("nothing logged 20 s after JetStream stopped; logs: %q", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !nc.IsConnected() {
		t.Fatal("the connection dropped: the test must keep it up while JetStream is gone")
	}
	if err := ready.Check(); err == nil || !strings.Contains(err.Error(), "consumer ingest") {
		t.Errorf("Check = %v, want the consumer named", err)
	}
	if !strings.Contains(logs.String(), "consumer ingest") {
		t.Errorf("the log does not say why: %q", logs.String())
	}
}

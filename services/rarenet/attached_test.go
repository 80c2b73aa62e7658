package rarenet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

func testOptions(url string) Options {
	o := DefaultOptions()
	o.NATSURL, o.Streams = url, stream.Config{Partitions: 2, Replicas: 1, Memory: true}
	// A stopped stage's pull requests outlive it on the server and may take the next
	// replay's first message, which then waits the ack wait (a minute by default) to be
	// delivered again: short here, so replays one after another stay quick.
	o.Ingest.AckWait, o.Enricher.AckWait = 2*time.Second, 2*time.Second
	return o
}

// TestReplayRefusesALivePipeline: a replay against a server where a live pipeline runs is
// refused at once (it used to hang, sharing the live consumers); replays one after another
// against the same server are not refused for the one before.
func TestReplayRefusesALivePipeline(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	input := filepath.Join(t.TempDir(), "events.ndjson")
	line := `{"@timestamp":"2026-03-02T10:00:00Z","event":{"category":["network"],"type":["start"]},"host":{"name":"h1","os":{"type":"linux"}},"process":{"name":"curl"},"destination":{"ip":"203.0.113.5","port":443}}` + "\n"
	if err := os.WriteFile(input, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		st, err := Replay(ctx, ReplayOptions{Pipeline: testOptions(srv.ClientURL()), Files: []string{input}, Out: new(discard)})
		if err != nil || st.Accepted != 1 {
			t.Fatalf("replay %d against an idle server: %+v, %v", i+1, st, err)
		}
	}

	liveCtx, stopLive := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- RunLive(liveCtx, testOptions(srv.ClientURL()), new(discard), discardLogger()) }()
	defer func() {
		stopLive()
		if err := <-done; err != nil {
			t.Errorf("the live pipeline stopped with %v", err)
		}
	}()
	nc, err := natsutil.Connect(srv.ClientURL(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if stages, err := attachedStages(ctx, js, 2); err == nil && len(stages) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the live pipeline's stages never read their consumers")
		}
	}
	o := ReplayOptions{Pipeline: testOptions(srv.ClientURL()), Files: []string{input}, Out: new(discard), Timeout: 20 * time.Second}
	_, refused := Replay(ctx, o)
	if !errors.Is(refused, ErrAttached) {
		t.Fatalf("a replay against a live pipeline: %v, want ErrAttached", refused)
	}
}

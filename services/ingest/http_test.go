package ingest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/sources/httpin"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// With --http-listen the stage serves the HTTP input, and what is posted there comes out as
// events.
func TestHTTPListen(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := natsutil.Connect("", srv, Stage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 2, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := Config{Datafeed: "rarenet", BucketSpan: 15 * time.Minute, AllowedLateness: time.Minute, HTTPListen: addr}
	svc, err := New(ctx, cfg, nc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()

	body := `{"@timestamp":"2024-05-01T10:00:00Z","event":{"action":"connected-to"},"host":{"os":{"type":"linux"}},"process":{"name":"curl"},"destination":{"ip":"203.0.113.7","port":443}}` + "\n"
	var res *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err = http.Post("http://"+addr+httpin.EventsPath+"?format=ecs", "application/x-ndjson", strings.NewReader(body))
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // Run has not bound the address yet
	}
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %d, want 202", res.StatusCode)
	}
	for svc.Stats().Accepted.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the posted event was never accepted by the stage")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if _, err := http.Get("http://" + addr + httpin.HealthPath); err == nil {
		t.Error("the HTTP input still answers after the stage stopped")
	}
}

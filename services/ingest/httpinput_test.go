package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/sources/httpin"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Events and dead letters of an authenticated request carry the token's name as their source.
func TestHTTPTokensStampSource(t *testing.T) {
	ts := natstest.Start(t)
	ts.Pipeline(t, testPartitions)
	tokenPath := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokenPath, []byte("web-shipper-2 "+tokens.Hash("tok")+" web-*\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := Config{Datafeed: "rarenet", BucketSpan: 15 * time.Minute, AllowedLateness: time.Minute, HTTPListen: addr, HTTP: HTTPInput{Tokens: tokenPath}}
	svc, err := New(ts.Ctx, cfg, ts.Conn(t, Stage), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	eventsSub := subscribe(t, ts.NC, stream.EventsWildcard)
	dlqSub := subscribe(t, ts.NC, stream.DLQSubject(Stage))
	runCtx, stop := context.WithCancel(ts.Ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	body := `{"@timestamp":"2024-05-01T10:00:00Z","event":{"action":"connected-to"},"host":{"name":"web-1","os":{"type":"linux"}},"process":{"name":"socat"},"destination":{"ip":"203.0.113.7","port":443}}` +
		"\n{\"truncated\":\n"
	deadline := time.Now().Add(10 * time.Second)
	var res *http.Response
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+httpin.EventsPath+"?format=ecs", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set(httpin.HeaderSource, "someone-else")
		if res, err = http.DefaultClient.Do(req); err == nil || time.Now().After(deadline) {
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
	m, err := eventsSub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	evs := natstest.Batch(t, m.Header, m.Data)
	if len(evs) != 1 {
		t.Fatalf("events: %v", evs)
	}
	if o := evs[0].Origin; o.Source != "web-shipper-2" || o.Line != 1 {
		t.Errorf("the event's origin is %+v, want rarenet.source web-shipper-2, line 1", o)
	}
	dl, err := dlqSub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if src, reason := dl.Header.Get(control.HeaderSource), dl.Header.Get(control.HeaderReason); src != "web-shipper-2" || !strings.HasPrefix(reason, "web-shipper-2:2: ") {
		t.Errorf("the dead letter's source %q and reason %q, want web-shipper-2 and web-shipper-2:2: ...", src, reason)
	}
	if n := svc.HTTPStats().Count("web-shipper-2", http.StatusAccepted); n != 1 {
		t.Errorf("HTTPStats counted %d accepted requests of web-shipper-2, want 1", n)
	}
}

func TestHTTPInputValidate(t *testing.T) {
	base := Config{Datafeed: "rarenet", BucketSpan: 15 * time.Minute}
	c := base
	c.HTTPListen = ":8089"
	if err := c.Validate(); !errors.Is(err, httpin.ErrInsecureListen) {
		t.Errorf("--http-listen :8089 without tokens: %v, want ErrInsecureListen", err)
	}
	c.HTTP.Insecure = true
	if err := c.Validate(); err != nil {
		t.Errorf("with --http-insecure: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(bad, []byte("only-a-name\n"), 0o600)
	c = base
	c.HTTPListen, c.HTTP.Tokens = ":8089", bad
	if err := c.Validate(); !errors.Is(err, tokens.ErrSyntax) || !strings.Contains(err.Error(), bad+":1") {
		t.Errorf("a bad token file: %v, want the file and line", err)
	}
	c = base
	c.HTTPListen, c.HTTP.TLSCert = "127.0.0.1:8089", "cert.pem"
	if err := c.Validate(); err == nil {
		t.Error("--http-tls-cert without --http-tls-key was taken")
	}
}

package service

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

func startNATS(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
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
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestEndpoints serves a stage's endpoints over a real JetStream: /readyz waits for the
// stage to run and its consumer to exist, /metrics shows the stage's counters, the consumer's
// lag and the checkpoint's age.
func TestEndpoints(t *testing.T) {
	nc, js := startNATS(t)
	ctx := context.Background()
	cfg := stream.Config{Partitions: 2, Replicas: 1, Memory: true}
	if err := stream.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	cons := []Consumer{{Stream: stream.Raw, Durable: stream.IngestConsumer}}
	ready := NewReadiness(cons)
	m := NewMetrics("ingest")
	var lines atomic.Int64
	m.Counter("lines_total", "lines read", lines.Load)
	m.Gauge("active", "always on", func() float64 { return 1 })
	m.CounterVec("http_requests_total", "requests by token and code", []string{"token", "code"}, func(emit func(int64, ...string)) {
		emit(7, "web-shipper-2", "202")
		emit(1, "", "401")
	})
	srv := httptest.NewServer(Handler(ready, m))
	defer srv.Close()

	if code, body := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q before start, want 200 ok", code, body)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("/readyz = %d %q before start, want 503 starting", code, body)
	}
	ready.Running(nc, js)
	m.reg.MustRegister(newConnCollector(nc), NewConsumerCollector(js, cons))
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "consumer ingest") {
		t.Errorf("/readyz = %d %q without the consumer, want 503 naming it", code, body)
	}
	if _, err := natsutil.DurableConsumer(ctx, js, stream.Raw, stream.IngestConsumer); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q with the consumer, want 200", code, body)
	}

	for range 3 {
		if _, err := js.Publish(ctx, stream.RawSubject("ecs"), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	lines.Add(42)
	obj := natstest.ObjectStore(t, ctx, js, stream.ModelStore)
	if _, err := obj.PutBytes(ctx, "model", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := m.Register(NewCheckpointAge(js, stream.ModelStore, "model")); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		"rarenet_ingest_lines_total 42",
		"rarenet_ingest_active 1",
		`rarenet_ingest_http_requests_total{code="202",token="web-shipper-2"} 7`,
		`rarenet_ingest_http_requests_total{code="401",token=""} 1`,
		`rarenet_consumer_pending{consumer="ingest",stream="RARENET_RAW"} 3`,
		`rarenet_consumer_up{consumer="ingest",stream="RARENET_RAW"} 1`,
		"rarenet_nats_connected 1",
		`rarenet_checkpoint_age_seconds{object="model",store="rarenet_scorer_model"}`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}

	nc.Close()
	if code, body := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "not connected") {
		t.Errorf("/readyz = %d %q after the connection closed, want 503", code, body)
	}
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d after the connection closed: the process is still alive", code)
	}
}

func TestServeAndHealthCheck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ready := NewReadiness(nil)
	h := Handler(ready, NewMetrics("test"))
	// A real listener, as the binaries have: find a free port through httptest, then serve.
	probe := httptest.NewServer(http.NotFoundHandler())
	addr := probe.Listener.Addr().String()
	probe.Close()
	Serve(ctx, addr, h, log)
	deadline := time.Now().Add(5 * time.Second)
	for HealthCheck("http://"+addr+"/healthz") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the health check never passed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := HealthCheck("http://" + addr + "/readyz"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("HealthCheck(/readyz) = %v before start, want a 503 error", err)
	}
	// A second stage on the same address goes on without endpoints rather than failing.
	Serve(ctx, addr, h, log)
	cancel()
	deadline = time.Now().Add(5 * time.Second)
	for HealthCheck("http://"+addr+"/healthz") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the server outlived its context")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWithProfiling(t *testing.T) {
	ready := NewReadiness(nil)
	h := WithProfiling(Handler(ready, NewMetrics("test")))
	for path, want := range map[string]int{"/healthz": 200, "/debug/pprof/": 200, "/debug/pprof/goroutine?debug=1": 200, "/nothing": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}

package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultHTTPAddr is where a stage binary serves /healthz, /readyz and /metrics unless told
// otherwise; an empty --http-addr serves nothing.
const DefaultHTTPAddr = ":9090"

// Readiness answers /readyz: ready once the stage is running, connected to NATS, and every
// consumer it reads exists.
type Readiness struct {
	running   atomic.Bool
	nc        atomic.Pointer[nats.Conn]
	js        atomic.Value // jetstream.JetStream
	consumers []Consumer
}

// NewReadiness waits for consumers.
func NewReadiness(consumers []Consumer) *Readiness { return &Readiness{consumers: consumers} }

// Running marks the stage as running on nc.
func (r *Readiness) Running(nc *nats.Conn, js jetstream.JetStream) {
	r.nc.Store(nc)
	r.js.Store(js)
	r.running.Store(true)
}

// Check returns nil when the stage is ready, or why it is not.
func (r *Readiness) Check() error {
	if !r.running.Load() {
		return errors.New("starting")
	}
	if nc := r.nc.Load(); !nc.IsConnected() {
		return fmt.Errorf("not connected to NATS (%s)", nc.Status())
	}
	js := r.js.Load().(jetstream.JetStream)
	for _, c := range r.consumers {
		if _, err := consumerInfo(js, c); err != nil {
			return fmt.Errorf("consumer %s on %s: %w", c.Durable, c.Stream, err)
		}
	}
	return nil
}

// Watch checks readiness every interval until ctx is done and logs each change: a stage whose
// JetStream stops answering (its consumers' info times out) says so in its log within
// seconds, not only to whoever polls /readyz.
func (r *Readiness) Watch(ctx context.Context, log *slog.Logger, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	// A stage still starting (a standby scorer has no model consumer yet) is not news; one
	// that was ready and no longer is, is.
	wasReady := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := r.Check()
		switch {
		case err != nil && wasReady:
			log.Error("not ready: /readyz answers 503", "why", err)
		case err == nil && !wasReady:
			log.Info("ready")
		}
		wasReady = err == nil
	}
}

// Handler serves /healthz (the process answers), /readyz (Readiness) and /metrics.
func Handler(ready *Readiness, metrics *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready.Check(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", metrics.Handler())
	return mux
}

// WithProfiling adds Go's profiles (net/http/pprof) under /debug/pprof/ to h: the way to see
// where a stage of a running deployment spends its time (go tool pprof URL).
func WithProfiling(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Serve serves h on addr until ctx is done. A port already taken is logged and the stage
// goes on without the endpoints: several stages on one development machine must not fail for
// it, and a probe that never answers makes it visible where it matters.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) {
	if addr == "" {
		return
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("health and metrics endpoints disabled", "http_addr", addr, "err", err)
		return
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("serving health and metrics", "http_addr", l.Addr().String())
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health and metrics endpoints stopped", "err", err)
		}
	}()
}

// HealthCheck GETs url and returns nil on 200 OK: the container health check of images that
// hold nothing but the stage binary.
func HealthCheck(url string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	return nil
}

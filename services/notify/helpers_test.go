package notify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
)

// sampleSignals are the three signals `rarenet replay` makes of the bundled sample
// (testdata/signals.ndjson): kworkerds, perl and bash, each of its own rule run.
func sampleSignals(t testing.TB) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "signals.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if len(out) != 3 {
		t.Fatalf("testdata/signals.ndjson holds %d signals, want 3", len(out))
	}
	return out
}

// variant rewrites a signal document's fields (dotted keys of the 8.x shape).
func variant(t testing.TB, doc []byte, set map[string]any) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		d[k] = v
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// harness is a real JetStream with the pipeline's streams and a notifier running on it.
type harness struct {
	s       *natstest.Server
	n       *Notifier
	metrics *Metrics
	cancel  context.CancelFunc
	done    chan error
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startNotifier runs a notifier with cfg on a new server until the test ends.
func startNotifier(t *testing.T, cfg *Config) *harness {
	t.Helper()
	s := natstest.Start(t)
	s.Pipeline(t, 1)
	return runNotifier(t, s, cfg)
}

func runNotifier(t *testing.T, s *natstest.Server, cfg *Config) *harness {
	t.Helper()
	m := NewMetrics()
	n, err := New(cfg, testLogger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(s.Ctx)
	h := &harness{s: s, n: n, metrics: m, cancel: cancel, done: make(chan error, 1)}
	// Connected here, not in the goroutine: its cleanup (closing it) must be registered
	// before the one below, so that it runs after the notifier stopped (cleanups run last
	// first). Connected in the goroutine, on a loaded machine it closed first, and the
	// notifier failed with "connection closed".
	nc := s.Conn(t, "notify")
	go func() {
		h.done <- n.Run(ctx, nc, RunOptions{AckWait: 5 * time.Second, DeliverAll: true})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("notifier: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the notifier did not stop")
		}
		n.Close()
	})
	return h
}

// publish puts signal documents on rarenet.signals as the windower does.
func (h *harness) publish(t testing.TB, docs ...[]byte) {
	t.Helper()
	for _, d := range docs {
		sig, err := ParseSignal(d)
		id := ""
		if err == nil {
			id = sig.ID
		}
		var opts []jetstream.PublishOpt
		if id != "" {
			opts = append(opts, jetstream.WithMsgID(id))
		}
		if _, err := h.s.JS.Publish(h.s.Ctx, stream.SignalsSubject, d, opts...); err != nil {
			t.Fatal(err)
		}
	}
}

// waitAcked waits until the notifier's consumer has acknowledged n signals.
func (h *harness) waitAcked(t testing.TB, n uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := h.s.JS.Consumer(h.s.Ctx, stream.Signals, stream.NotifyConsumer)
		if err == nil {
			info, err := c.Info(h.s.Ctx)
			if err == nil && info.AckFloor.Stream >= n && info.NumAckPending == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notifier did not acknowledge %d signals in 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadLetters reads the dead letters on subject.
func (h *harness) deadLetters(t testing.TB, subject string) []*nats.Msg {
	t.Helper()
	sub, err := h.s.NC.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	c, err := h.s.JS.OrderedConsumer(h.s.Ctx, stream.DLQ, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*nats.Msg
	for {
		m, err := c.Next(jetstream.FetchMaxWait(500 * time.Millisecond))
		if err != nil {
			return out
		}
		nm := nats.NewMsg(m.Subject())
		nm.Data, nm.Header = m.Data(), m.Headers()
		out = append(out, nm)
	}
}

// writeFile writes a file in a new temporary directory and returns its path.
func writeFile(t testing.TB, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder is a list safe for the handlers of a test server.
type recorder[T any] struct {
	mu    sync.Mutex
	items []T
}

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, v)
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

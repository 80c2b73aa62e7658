package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// The tests run the console against a real NATS server holding the signals of a replay of the
// bundled sample (3 days of a small fleet; kworkerds, perl and bash are signalled), as
// `rarenet replay` leaves them. A fixture is made once per name and shared by the tests that
// name it: those that add signals (live updates, the browser) have their own.

// sample is one NATS server with a replay's signals and a console serving them.
type sample struct {
	srv     *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	console *console.Server
	// url is the console's base URL, without the trailing slash.
	url string
	// docs are the replay's signal documents by process name; raw the same as written.
	docs map[string]map[string]any
	raw  map[string][]byte
	ids  map[string]string
	stop func()
}

var (
	samplesMu sync.Mutex
	samples   = map[string]*sample{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range samples {
		s.stop()
	}
	os.Exit(code)
}

// defaultOptions is the all-in-one pipeline as `rarenet replay` configures it by default.
func defaultOptions() rarenet.Options {
	o := rarenet.DefaultOptions()
	o.Streams = stream.Config{Partitions: 4, Replicas: 1, Memory: true}
	return o
}

func samplePath(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "sample", "fleet-3d.ndjson.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// getSample returns the fixture of that name, replaying the sample on first use.
func getSample(t testing.TB, name string) *sample {
	t.Helper()
	samplesMu.Lock()
	defer samplesMu.Unlock()
	if s := samples[name]; s != nil {
		return s
	}
	dir, err := os.MkdirTemp("", "console-test-")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir, Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := &sample{srv: srv, docs: map[string]map[string]any{}, raw: map[string][]byte{}, ids: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stop = func() {
		cancel()
		<-done
		s.nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
		os.RemoveAll(dir)
	}
	o := defaultOptions()
	o.NATSURL = srv.ClientURL()
	var out bytes.Buffer
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	st, err := rarenet.Replay(rctx, rarenet.ReplayOptions{Pipeline: o, Files: []string{samplePath(t)}, Format: "auto", Out: &out})
	rcancel()
	if err != nil {
		t.Fatalf("replay of the sample: %v", err)
	}
	if st.Signals != 3 {
		t.Fatalf("the replay of the sample gave %d signals, want 3 (kworkerds, perl, bash)", st.Signals)
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		p := d["by_field_value"].(string)
		s.docs[p], s.raw[p], s.ids[p] = d, bytes.Clone(sc.Bytes()), d["kibana.alert.uuid"].(string)
	}
	if s.nc, err = natsutil.Connect(srv.ClientURL(), nil, "test"); err != nil {
		t.Fatal(err)
	}
	if s.js, err = natsutil.JetStream(s.nc); err != nil {
		t.Fatal(err)
	}
	s.console = startConsole(t, ctx, srv, console.Config{Listen: "127.0.0.1:0"}, done)
	s.url = strings.TrimSuffix(s.console.URL(), "/")
	samples[name] = s
	return s
}

// startConsole starts a console on its own connection; done is closed when it stopped.
func startConsole(t testing.TB, ctx context.Context, srv *server.Server, cfg console.Config, done chan struct{}) *console.Server {
	t.Helper()
	nc, err := natsutil.Connect(srv.ClientURL(), nil, "console")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Streams = stream.Config{Replicas: 1, Memory: true}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := console.New(ctx, cfg, nc, log)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		defer nc.Close()
		if err := c.Run(ctx); err != nil {
			t.Errorf("console: %v", err)
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !c.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the console did not read the signals stream within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// get fetches path and returns the status and body.
func (s *sample) get(t testing.TB, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// getJSON fetches path and decodes its JSON into v, failing unless the status is want.
func (s *sample) getJSON(t testing.TB, path string, want int, v any) {
	t.Helper()
	code, body := s.get(t, path)
	if code != want {
		t.Fatalf("GET %s: %d, want %d: %s", path, code, want, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

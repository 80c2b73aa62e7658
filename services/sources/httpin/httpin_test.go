package httpin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// startJetStream starts an embedded server with the pipeline's streams; stop shuts it down.
func startJetStream(t testing.TB) (stop func(), nc *nats.Conn, js jetstream.JetStream, ctx context.Context) {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	nc, err = natsutil.Connect("", srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err = natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 2, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	return func() { srv.Shutdown(); srv.WaitForShutdown() }, nc, js, ctx
}

// rawMessages returns the messages on the RAW stream, in order.
func rawMessages(t *testing.T, ctx context.Context, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// stored returns every line on the RAW stream as "subject source:line text".
func stored(t *testing.T, ctx context.Context, js jetstream.JetStream) []string {
	t.Helper()
	var out []string
	for _, m := range rawMessages(t, ctx, js) {
		var line int
		fmt.Sscan(m.Header.Get(control.HeaderLine), &line)
		for _, l := range strings.Split(natstest.RawText(t, m.Header, m.Data), "\n") {
			out = append(out, fmt.Sprintf("%s %s:%d %s", m.Subject, m.Header.Get(control.HeaderSource), line, l))
			line++
		}
	}
	return out
}

type request struct {
	method, target, body string
	header               map[string]string
	gzip                 bool
}

func do(t *testing.T, url string, rq request) (int, Response) {
	t.Helper()
	body := []byte(rq.body)
	if rq.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	method := rq.method
	if method == "" {
		method = http.MethodPost
	}
	target := rq.target
	if target == "" {
		target = EventsPath
	}
	req, err := http.NewRequest(method, url+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	if rq.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r Response
	_ = json.NewDecoder(res.Body).Decode(&r)
	return res.StatusCode, r
}

const ecsLine = `{"@timestamp":"2024-05-01T10:00:00Z","event":{"action":"connected-to"},"process":{"name":"curl"},"destination":{"ip":"203.0.113.7","port":443}}`

func TestPostEvents(t *testing.T) {
	_, _, js, ctx := startJetStream(t)
	ts := httptest.NewServer(NewHandler(js, Config{MaxBody: 64 << 10}, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)

	code, r := do(t, ts.URL, request{target: EventsPath + "?format=ecs", body: ecsLine + "\r\n\n" + ecsLine + "\n",
		header: map[string]string{HeaderSource: "vector-1"}})
	if code != http.StatusAccepted || r.Accepted != 2 {
		t.Fatalf("POST = %d %+v, want 202 with 2 accepted", code, r)
	}
	code, r = do(t, ts.URL, request{body: "type=SYSCALL msg=audit(1.0:1): arch=c000003e", gzip: true,
		header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}})
	if code != http.StatusAccepted || r.Accepted != 1 {
		t.Fatalf("gzip POST = %d %+v, want 202 with 1 accepted", code, r)
	}
	want := []string{
		"rarenet.raw.ecs vector-1:1 " + ecsLine,
		"rarenet.raw.ecs vector-1:2 ",
		"rarenet.raw.ecs vector-1:3 " + ecsLine,
		"rarenet.raw.auto http:127.0.0.1:1 type=SYSCALL msg=audit(1.0:1): arch=c000003e",
	}
	if got := stored(t, ctx, js); !slices.Equal(got, want) {
		t.Fatalf("stored:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestPostEventsRefusals(t *testing.T) {
	_, _, js, ctx := startJetStream(t)
	ts := httptest.NewServer(NewHandler(js, Config{MaxBody: 4 << 10}, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	big := strings.Repeat(ecsLine+"\n", 40)
	tests := []struct {
		name string
		rq   request
		want int
	}{
		{"empty body", request{body: ""}, http.StatusBadRequest},
		{"blank lines only", request{body: "\n  \n\n"}, http.StatusBadRequest},
		{"unknown format", request{target: EventsPath + "?format=syslog", body: ecsLine}, http.StatusBadRequest},
		{"too large", request{body: big}, http.StatusRequestEntityTooLarge},
		{"too large once decompressed", request{body: big, gzip: true}, http.StatusRequestEntityTooLarge},
		{"form", request{body: "a=b", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, http.StatusUnsupportedMediaType},
		{"binary", request{body: ecsLine, header: map[string]string{"Content-Type": "application/octet-stream"}}, http.StatusUnsupportedMediaType},
		{"unknown encoding", request{body: ecsLine, header: map[string]string{"Content-Encoding": "br"}}, http.StatusUnsupportedMediaType},
		{"broken gzip", request{body: ecsLine, header: map[string]string{"Content-Encoding": "gzip"}}, http.StatusBadRequest},
		{"GET", request{method: http.MethodGet, body: ""}, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, r := do(t, ts.URL, tt.rq); code != tt.want {
				t.Errorf("status %d (%s), want %d", code, r.Error, tt.want)
			}
		})
	}
	if got := stored(t, ctx, js); len(got) != 0 {
		t.Errorf("refused requests stored %d lines", len(got))
	}
	if code, _ := do(t, ts.URL, request{method: http.MethodGet, target: HealthPath}); code != http.StatusOK {
		t.Errorf("healthz = %d, want 200", code)
	}
}

func TestPostEventsChunksAndIdempotency(t *testing.T) {
	_, _, js, ctx := startJetStream(t)
	ts := httptest.NewServer(NewHandler(js, Config{}, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	var b strings.Builder
	n := rawpub.MaxLines * 5 / 2 // two messages of MaxLines lines and one of half that
	for i := range n {
		fmt.Fprintf(&b, "{\"n\":%d}\n", i)
	}
	rq := request{body: b.String(), header: map[string]string{HeaderIdemKey: "batch-1", HeaderSource: "fluent-bit"}}
	for range 2 { // a shipper's retry
		if code, r := do(t, ts.URL, rq); code != http.StatusAccepted || r.Accepted != n {
			t.Fatalf("POST = %d %+v", code, r)
		}
	}
	got := stored(t, ctx, js)
	last := fmt.Sprintf(`rarenet.raw.auto fluent-bit:%d {"n":%d}`, n, n-1)
	if len(got) != n || got[0] != `rarenet.raw.auto fluent-bit:1 {"n":0}` || got[n-1] != last {
		t.Fatalf("stored %d lines (first %q), want %d once", len(got), got[0], n)
	}
	s, _ := js.Stream(ctx, stream.Raw)
	if info, _ := s.Info(ctx); info.State.Msgs != 3 {
		t.Errorf("%d messages, want 3 chunks of at most %d lines", info.State.Msgs, rawpub.MaxLines)
	}
}

// TestPostEventsReusesMemorySafely sends requests at once, of bodies small and large (one
// chunk below compression's threshold, one, several), so that bodies and chunks reuse the
// handler's buffers while earlier requests' messages wait for their acks: every line must be
// stored as sent, none overwritten by a later request's.
func TestPostEventsReusesMemorySafely(t *testing.T) {
	_, _, js, ctx := startJetStream(t)
	ts := httptest.NewServer(NewHandler(js, Config{}, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	sizes := []int{3, 40, rawpub.MaxLines / 3, rawpub.MaxLines * 3 / 2}
	const rounds = 6
	var want []string
	bodies := make([]request, 0, rounds*len(sizes))
	for r := range rounds {
		for k, n := range sizes {
			src := fmt.Sprintf("req-%d-%d", r, k)
			var b strings.Builder
			for i := range n {
				line := fmt.Sprintf(`{"req":%q,"n":%d,"pad":%q}`, src, i, strings.Repeat(string(rune('a'+r)), k*20))
				b.WriteString(line + "\n")
				want = append(want, fmt.Sprintf("rarenet.raw.auto %s:%d %s", src, i+1, line))
			}
			bodies = append(bodies, request{body: b.String(), gzip: r%2 == 1, header: map[string]string{HeaderSource: src}})
		}
	}
	errs := make(chan error, len(bodies))
	for _, rq := range bodies {
		go func() {
			code, r := do(t, ts.URL, rq)
			if code != http.StatusAccepted {
				errs <- fmt.Errorf("POST from %s = %d %+v", rq.header[HeaderSource], code, r)
				return
			}
			errs <- nil
		}()
	}
	for range bodies {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := stored(t, ctx, js)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("stored %d lines, want %d; first difference:\n  got  %.200s\n  want %.200s", len(got), len(want), got[i], want[i])
			}
		}
		t.Fatalf("stored %d lines, want %d", len(got), len(want))
	}
}

func TestUnavailable(t *testing.T) {
	t.Run("no stream stores the subject", func(t *testing.T) {
		_, _, js, ctx := startJetStream(t)
		if err := js.DeleteStream(ctx, stream.Raw); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(NewHandler(js, Config{AckTimeout: 2 * time.Second}, slog.New(slog.DiscardHandler)))
		t.Cleanup(ts.Close)
		if code, r := do(t, ts.URL, request{body: ecsLine}); code != http.StatusServiceUnavailable || r.Accepted != 0 {
			t.Errorf("POST = %d %+v, want 503", code, r)
		}
	})
	t.Run("NATS down", func(t *testing.T) {
		stop, nc, js, _ := startJetStream(t)
		ts := httptest.NewServer(NewHandler(js, Config{AckTimeout: 2 * time.Second}, slog.New(slog.DiscardHandler)))
		t.Cleanup(ts.Close)
		stop()
		deadline := time.Now().Add(10 * time.Second)
		for nc.Status() == nats.CONNECTED && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if code, r := do(t, ts.URL, request{body: ecsLine}); code != http.StatusServiceUnavailable {
			t.Errorf("POST = %d %+v, want 503", code, r)
		}
		if code, _ := do(t, ts.URL, request{method: http.MethodGet, target: HealthPath}); code != http.StatusServiceUnavailable {
			t.Errorf("healthz = %d, want 503", code)
		}
	})
}

func TestListen(t *testing.T) {
	_, _, js, _ := startJetStream(t)
	s, err := Listen("127.0.0.1:0", js, Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr().String()
	if code, r := do(t, url, request{body: ecsLine}); code != http.StatusAccepted || r.Accepted != 1 {
		t.Errorf("POST = %d %+v", code, r)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	again, err := Listen(s.Addr().String(), js, Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("the address is not free again after Close: %v", err)
	}
	again.Close()
}

// An auditd event's records reach ingest in one raw message (it decodes each on its own):
// a body longer than a message is cut between events, not at its last line, whatever the
// format parameter says of it.
func TestPostAuditdKeepsEventsWhole(t *testing.T) {
	for _, formatName := range []string{"auditd", "auto"} {
		t.Run(formatName, func(t *testing.T) {
			_, _, js, ctx := startJetStream(t)
			ts := httptest.NewServer(NewHandler(js, Config{}, slog.New(slog.DiscardHandler)))
			t.Cleanup(ts.Close)
			// Events of three records and no EOE, as auditd logs a connect; MaxLines is not a
			// multiple of three, so a message of MaxLines lines would end inside an event.
			if rawpub.MaxLines%3 == 0 {
				t.Fatalf("MaxLines %d is a multiple of 3: make the events of this test 4 records long", rawpub.MaxLines)
			}
			events := rawpub.MaxLines * 2 / 3
			var b strings.Builder
			for i := range events {
				stamp := fmt.Sprintf("msg=audit(1700000000.%03d:%d)", i%1000, 5000+i)
				fmt.Fprintf(&b, "type=SYSCALL %s: arch=c000003e syscall=42 success=yes exit=0 a0=3 ppid=1 pid=%d auid=0 uid=0 comm=\"curl\" exe=\"/usr/bin/curl\" key=\"net\"\n", stamp, 100+i)
				fmt.Fprintf(&b, "type=SOCKADDR %s: saddr=02000050C0A80001000000000000000\n", stamp)
				fmt.Fprintf(&b, "type=PROCTITLE %s: proctitle=6375726C\n", stamp)
			}
			code, r := do(t, ts.URL, request{target: EventsPath + "?format=" + formatName, body: b.String()})
			if code != http.StatusAccepted || r.Accepted != 3*events {
				t.Fatalf("POST = %d %+v", code, r)
			}
			msgs := rawMessages(t, ctx, js)
			serialIn := map[string]uint64{} // the message of each event's records
			wantLine, lines := 1, 0
			for _, m := range msgs {
				seq := m.Sequence
				if got := m.Header.Get(control.HeaderLine); got != strconv.Itoa(wantLine) {
					t.Fatalf("message %d starts at line %s, want %d", seq, got, wantLine)
				}
				text := strings.Split(natstest.RawText(t, m.Header, m.Data), "\n")
				if len(text) > rawpub.MaxLines {
					t.Fatalf("message %d holds %d lines, more than %d", seq, len(text), rawpub.MaxLines)
				}
				for _, l := range text {
					serial := l[strings.Index(l, ":")+1 : strings.Index(l, ")")]
					if at, ok := serialIn[serial]; ok && at != seq {
						t.Fatalf("the records of event %s are in messages %d and %d", serial, at, seq)
					}
					serialIn[serial] = seq
				}
				wantLine += len(text)
				lines += len(text)
			}
			if lines != 3*events || len(serialIn) != events || len(msgs) < 3 {
				t.Fatalf("%d lines of %d events in %d messages, want %d lines of %d events in 3 or more", lines, len(serialIn), len(msgs), 3*events, events)
			}
		})
	}
}

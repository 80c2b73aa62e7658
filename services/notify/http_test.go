package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/stream"
)

// request is what a test receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is an HTTP server that records every request and answers with the status
// status(n) gives the n-th request (from 1); nil answers 200.
func receiver(t *testing.T, status func(n int) int) (*httptest.Server, *recorder[request]) {
	t.Helper()
	rec := &recorder[request]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.add(request{header: r.Header.Clone(), body: b})
		code := 200
		if status != nil {
			code = status(len(rec.all()))
		}
		w.WriteHeader(code)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func hookURL(kind string, srv *httptest.Server, path string) string {
	return kind + "+" + srv.URL + path
}

// TestWebhook delivers the sample's signals to a webhook: JSON envelope with the documents as
// published, the HMAC-SHA256 signature of the body under the secret from a file, the
// idempotency key, custom headers (one from a file), and the acknowledgement after it.
func TestWebhook(t *testing.T) {
	srv, rec := receiver(t, nil)
	secretFile := writeFile(t, "secret", "s3cret-key\n", 0o600)
	tokenFile := writeFile(t, "token", "Bearer tok-123\n", 0o600)
	cfg := &Config{
		ConsoleURL: "https://console.example/signals/{id}",
		Destinations: []DestinationConfig{{Name: "hook", URL: hookURL("webhook", srv, "/in"), SecretFile: secretFile,
			Headers: map[string]string{"X-Team": "sec"}, HeaderFiles: map[string]string{"Authorization": tokenFile}}},
		Routes: []RouteConfig{{Name: "all", To: []string{"hook"}}},
	}
	h := startNotifier(t, cfg)
	docs := sampleSignals(t)
	h.publish(t, docs...)
	h.waitAcked(t, 3)

	got := rec.all()
	if len(got) != 3 {
		t.Fatalf("the webhook got %d requests, want 3", len(got))
	}
	for i, r := range got {
		want, _ := ParseSignal(docs[i])
		if sig := r.header.Get(HeaderSignature); sig != Sign([]byte("s3cret-key"), r.body) {
			t.Errorf("request %d: signature %q does not verify with the secret", i, sig)
		}
		if k := r.header.Get(HeaderIdempotencyKey); k != want.ID {
			t.Errorf("request %d: %s %q, want the signal's kibana.alert.uuid %s", i, HeaderIdempotencyKey, k, want.ID)
		}
		if r.header.Get("X-Team") != "sec" || r.header.Get("Authorization") != "Bearer tok-123" {
			t.Errorf("request %d: custom headers %v", i, r.header)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var env struct {
			IdempotencyKey string            `json:"idempotency_key"`
			Route          string            `json:"route"`
			Text           string            `json:"text"`
			Signals        []json.RawMessage `json:"signals"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatalf("request %d: body is not JSON: %v\n%s", i, err, r.body)
		}
		if env.IdempotencyKey != want.ID || env.Route != "all" || len(env.Signals) != 1 {
			t.Errorf("request %d: envelope %+v", i, env)
		}
		var a, b any
		_ = json.Unmarshal(env.Signals[0], &a)
		_ = json.Unmarshal(docs[i], &b)
		if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
			t.Errorf("request %d: the signal document is not the one published", i)
		}
		for _, part := range []string{want.Reason, want.Process(), want.Host(), "https://console.example/signals/" + want.ID} {
			if !strings.Contains(env.Text, part) {
				t.Errorf("request %d: text %q lacks %q", i, env.Text, part)
			}
		}
	}
	if v := testutil.ToFloat64(h.metrics.Sent.WithLabelValues("hook")); v != 3 {
		t.Errorf("sent_total = %v, want 3", v)
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestChatWebhooks checks the Slack and Mattermost incoming-webhook shapes: a JSON object
// whose text is in the service's markup, with values escaped for it.
func TestChatWebhooks(t *testing.T) {
	slack, slackRec := receiver(t, nil)
	mm, mmRec := receiver(t, nil)
	urlFile := writeFile(t, "slack-url", hookURL("slack", slack, "/services/T0/B0/XXXX")+"\n", 0o600)
	t.Setenv("TEST_MM_URL", hookURL("mattermost", mm, "/hooks/abc"))
	cfg := &Config{
		ConsoleURL: "https://console.example/s/{id}",
		Destinations: []DestinationConfig{
			{Name: "slack", URLFile: urlFile},
			{Name: "mm", URLEnv: "TEST_MM_URL"},
		},
		Routes: []RouteConfig{{Name: "chat", To: []string{"slack", "mm"}}},
	}
	h := startNotifier(t, cfg)
	doc := variant(t, sampleSignals(t)[0], map[string]any{
		"process.name":        []string{"<b>*evil*</b>&co"},
		"kibana.alert.reason": "reason with <tags> & [a](link)",
	})
	h.publish(t, doc)
	h.waitAcked(t, 1)
	sig, _ := ParseSignal(doc)

	var sm struct {
		Text string `json:"text"`
	}
	if got := slackRec.all(); len(got) != 1 || json.Unmarshal(got[0].body, &sm) != nil {
		t.Fatalf("slack got %d requests", len(got))
	}
	for _, want := range []string{"*&lt;b&gt;*evil*&lt;/b&gt;&amp;co*", ">reason with &lt;tags&gt; &amp; [a](link)",
		"<https://console.example/s/" + sig.ID + "|Open in the console>", "score *94.6*"} {
		if !strings.Contains(sm.Text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, sm.Text)
		}
	}
	if k := slackRec.all()[0].header.Get(HeaderIdempotencyKey); k != sig.ID {
		t.Errorf("slack: idempotency key %q", k)
	}
	var mmm struct {
		Text     string `json:"text"`
		Username string `json:"username"`
	}
	if got := mmRec.all(); len(got) != 1 || json.Unmarshal(got[0].body, &mmm) != nil {
		t.Fatalf("mattermost got %d requests", len(got))
	}
	for _, want := range []string{`**\<b\>\*evil\*\</b\>\&co**`, `> reason with \<tags\> \& \[a\]\(link\)`,
		"[Open in the console](https://console.example/s/" + sig.ID + ")"} {
		if !strings.Contains(mmm.Text, want) {
			t.Errorf("mattermost text lacks %q:\n%s", want, mmm.Text)
		}
	}
	if mmm.Username != "rarenet" {
		t.Errorf("mattermost username %q", mmm.Username)
	}
}

// TestRetryAndDeadLetter: a webhook that fails twice with 503 gets the signal on the third
// attempt; one that answers 400 gets it once and the signal goes, with its original bytes and
// the reason, to the destination's dead-letter subject. Both are acknowledged only then.
func TestRetryAndDeadLetter(t *testing.T) {
	flaky, flakyRec := receiver(t, func(n int) int {
		if n <= 2 {
			return 503
		}
		return 200
	})
	broken, brokenRec := receiver(t, func(int) int { return 400 })
	cfg := &Config{
		Destinations: []DestinationConfig{
			{Name: "flaky", URL: hookURL("webhook", flaky, "/"), Backoff: 10 * time.Millisecond},
			{Name: "broken", URL: hookURL("webhook", broken, "/"), Backoff: 10 * time.Millisecond},
		},
		Routes: []RouteConfig{{Name: "all", To: []string{"flaky", "broken"}}},
	}
	h := startNotifier(t, cfg)
	doc := sampleSignals(t)[1]
	h.publish(t, doc)
	h.waitAcked(t, 1)
	if n := len(flakyRec.all()); n != 3 {
		t.Errorf("flaky got %d attempts, want 3", n)
	}
	if n := len(brokenRec.all()); n != 1 {
		t.Errorf("broken got %d attempts, want 1 (a 400 is not retried)", n)
	}
	if v := testutil.ToFloat64(h.metrics.Retried.WithLabelValues("flaky")); v != 2 {
		t.Errorf("retried_total{flaky} = %v, want 2", v)
	}
	dl := h.deadLetters(t, stream.NotifyDLQSubject("broken"))
	if len(dl) != 1 {
		t.Fatalf("%d dead letters for broken, want 1", len(dl))
	}
	if string(dl[0].Data) != string(doc) {
		t.Errorf("the dead letter is not the original bytes")
	}
	if r := dl[0].Header.Get(control.HeaderReason); !strings.Contains(r, "400") || !strings.Contains(r, "permanent") {
		t.Errorf("dead letter reason %q", r)
	}
	if d := dl[0].Header.Get(HeaderDestination); d != "broken" {
		t.Errorf("dead letter destination %q", d)
	}
	if v := testutil.ToFloat64(h.metrics.DeadLetters.WithLabelValues("broken")); v != 1 {
		t.Errorf("dead_letters_total{broken} = %v", v)
	}
	if got := h.deadLetters(t, stream.NotifyDLQSubject("flaky")); len(got) != 0 {
		t.Errorf("flaky has %d dead letters", len(got))
	}
}

// TestRoutesAndDigest: routes choose by score, host and process patterns and detector; a
// digest route gathers the signals of one rule run into one message; a signal no route
// takes is acknowledged and counted; a message that is no signal is dead-lettered.
func TestRoutesAndDigest(t *testing.T) {
	srv, rec := receiver(t, nil)
	cfg := &Config{
		Destinations: []DestinationConfig{{Name: "hook", URL: hookURL("webhook", srv, "/")}},
		Routes: []RouteConfig{
			{Name: "web", To: []string{"hook"}, Hosts: []string{"web-*"}, MinScore: 50, Digest: 300 * time.Millisecond},
			{Name: "perl", To: []string{"hook"}, Processes: []string{"per?"}},
			{Name: "newdest", To: []string{"hook"}, Detectors: []string{"new-destination"}, Profile: "enhanced"},
		},
	}
	h := startNotifier(t, cfg)
	base := sampleSignals(t)[0] // kworkerds on web-03, score 94.6
	run := map[string]any{"rarenet.rule_run": "2026-03-04T02:45:00Z"}
	with := func(id, host, proc string, score float64, extra map[string]any) []byte {
		set := map[string]any{"kibana.alert.uuid": id, "host.name": []string{host}, "process.name": []string{proc}, "record_score": score}
		for k, v := range run {
			set[k] = v
		}
		for k, v := range extra {
			set[k] = v
		}
		return variant(t, base, set)
	}
	docs := [][]byte{
		with("00000000-0000-5000-8000-000000000001", "web-01", "kworkerds", 90, nil), // web: digest
		with("00000000-0000-5000-8000-000000000002", "web-02", "curl", 70, nil),      // web: digest
		with("00000000-0000-5000-8000-000000000003", "db-01", "perl", 60, nil),       // perl
		with("00000000-0000-5000-8000-000000000004", "db-01", "nc", 99, nil),         // no route
		with("00000000-0000-5000-8000-000000000005", "web-03", "sh", 40, nil),        // web, but under 50: no route
		with("00000000-0000-5000-8000-000000000006", "db-02", "python3", 80, map[string]any{
			"rarenet.explanation": map[string]any{"detector": "new-destination", "first_occurrence": false}}), // newdest
		[]byte(`{"not": "a signal"}`),
	}
	h.publish(t, docs...)
	h.waitAcked(t, uint64(len(docs)))
	keys := map[string][]string{}
	for _, r := range rec.all() {
		var env struct {
			Route   string            `json:"route"`
			Signals []json.RawMessage `json:"signals"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatal(err)
		}
		for _, s := range env.Signals {
			sig, err := ParseSignal(s)
			if err != nil {
				t.Fatal(err)
			}
			keys[env.Route] = append(keys[env.Route], sig.ID[len(sig.ID)-1:])
		}
		if env.Route == "web" && r.header.Get(HeaderIdempotencyKey) == "" {
			t.Error("the digest has no idempotency key")
		}
	}
	want := map[string][]string{"web": {"1", "2"}, "perl": {"3"}, "newdest": {"6"}}
	if mustJSON(t, keys) != mustJSON(t, want) {
		t.Errorf("routes got %v, want %v", keys, want)
	}
	if n := len(rec.all()); n != 3 {
		t.Errorf("%d messages, want 3 (one digest of two signals, two single ones)", n)
	}
	if v := testutil.ToFloat64(h.metrics.Unrouted); v != 2 {
		t.Errorf("unrouted_total = %v, want 2", v)
	}
	if dl := h.deadLetters(t, stream.NotifyRejectSubject); len(dl) != 1 || !strings.Contains(dl[0].Header.Get(control.HeaderReason), "not a signal") {
		t.Errorf("rejected: %d dead letters", len(dl))
	}
}

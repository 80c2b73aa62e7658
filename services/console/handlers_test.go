package console_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/stream"
)

// The handler tests share the "handlers" fixture and run in this file's order: the list and
// pages first, then the changes (triage, exceptions), then live updates, which add a signal.

var rowProcess = regexp.MustCompile(`<a class="chip proc" href="[^"]*">([^<]+)</a>`)

// listed returns the processes of the list page's rows, in order.
func listed(body string) []string {
	var out []string
	for _, m := range rowProcess.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestListPage(t *testing.T) {
	s := getSample(t, "handlers")
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"bash", "perl", "kworkerds"}}, // newest first
		{"?process=perl", []string{"perl"}},
		{"?host=web-03", []string{"kworkerds"}},
		{"?user=www-data", []string{"bash", "perl", "kworkerds"}},
		{"?user=root", nil},
		{"?min=93", []string{"kworkerds"}},
		{"?q=STRATUM", []string{"kworkerds"}},
		{"?q=198.51.100.23", []string{"perl"}},
		{"?from=2026-03-04T10:00&to=2026-03-04T12:00", []string{"perl"}},
		{"?from=2026-03-04T10:30:00Z", []string{"bash", "perl"}},
		{"?to=2026-03-04T10:30", []string{"kworkerds"}},
		{"?status=open", []string{"bash", "perl", "kworkerds"}},
		{"?status=closed", nil},
		{"?limit=1&page=2", []string{"perl"}},
	}
	for _, tt := range tests {
		code, body := s.get(t, "/"+tt.query)
		if code != http.StatusOK {
			t.Errorf("GET /%s: %d", tt.query, code)
			continue
		}
		if got := listed(body); !slices.Equal(got, tt.want) {
			t.Errorf("GET /%s lists %v, want %v", tt.query, got, tt.want)
		}
	}
	code, body := s.get(t, "/")
	for _, want := range []string{
		`<svg class="timeline"`, "45.9.148.99:3333", "stratum: mining pool", `class="score critical"`,
		`<span class="status open">open</span>`, "Unusual network activity: kworkerds connected", `href="/signals/` + s.ids["perl"] + `"`,
		`<option value="web-03">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / (%d) lacks %q", code, want)
		}
	}
	// The process filter adds the process's activity across the fleet.
	if _, body := s.get(t, "/?process=kworkerds"); !strings.Contains(body, "kworkerds across the fleet") || !strings.Contains(body, `<svg class="strip"`) {
		t.Error("GET /?process=kworkerds shows no activity chart")
	}
	for _, bad := range []struct{ query, want string }{
		{"?min=abc", `min &#34;abc&#34;: want a score from 0 to 100`},
		{"?from=yesterday", `from &#34;yesterday&#34;: want a time`},
		{"?status=done", `status &#34;done&#34;: want open, acknowledged, closed`},
		{"?page=0", `page &#34;0&#34;`},
	} {
		code, body := s.get(t, "/"+bad.query)
		if code != http.StatusBadRequest || !strings.Contains(body, bad.want) {
			t.Errorf("GET /%s: %d, want 400 saying %q", bad.query, code, bad.want)
		}
	}
}

type apiList struct {
	Total    int               `json:"total"`
	Signals  []console.Summary `json:"signals"`
	Timeline struct {
		BinSeconds int64 `json:"bin_seconds"`
		Bins       []struct {
			Start time.Time `json:"start"`
			Count int       `json:"count"`
		} `json:"bins"`
	} `json:"timeline"`
}

func TestAPIList(t *testing.T) {
	s := getSample(t, "handlers")
	var l apiList
	s.getJSON(t, "/api/signals", http.StatusOK, &l)
	if l.Total != 3 || len(l.Signals) != 3 {
		t.Fatalf("total %d, %d signals, want 3", l.Total, len(l.Signals))
	}
	k := l.Signals[2]
	if k.Process != "kworkerds" || k.ID != s.ids["kworkerds"] || !slices.Equal(k.Hosts, []string{"web-03"}) ||
		len(k.Destinations) != 1 || k.Destinations[0].Addr() != "45.9.148.99:3333" || k.Destinations[0].Class != "public" ||
		k.Time != time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC) || k.Score < 94 || k.Status != "open" {
		t.Errorf("kworkerds summary: %+v", k)
	}
	if l.Timeline.BinSeconds != 3600 {
		t.Errorf("timeline bins of %ds, want an hour", l.Timeline.BinSeconds)
	}
	sum := 0
	for _, b := range l.Timeline.Bins {
		sum += b.Count
	}
	if sum != 3 || l.Timeline.Bins[0].Start != k.Time || l.Timeline.Bins[0].Count != 1 {
		t.Errorf("timeline %+v: want the 3 signals, kworkerds's hour first", l.Timeline.Bins)
	}
	s.getJSON(t, "/api/signals?limit=1&offset=1", http.StatusOK, &l)
	if l.Total != 3 || len(l.Signals) != 1 || l.Signals[0].Process != "perl" {
		t.Errorf("limit=1&offset=1: total %d, %v", l.Total, l.Signals)
	}
	var e map[string]string
	s.getJSON(t, "/api/signals?limit=100000", http.StatusBadRequest, &e)
	if !strings.Contains(e["error"], "limit") {
		t.Errorf("limit too large: %v", e)
	}
}

func TestSignalPage(t *testing.T) {
	s := getSample(t, "handlers")
	common := []string{
		"1</span> Where did it connect?", "2</span> Who ran it?", "3</span> Is it regular?", "4</span> What ran?", "5</span> Why did it score?",
		"Example events", "fleet-3d.ndjson.gz:", `href="https://attack.mitre.org/tactics/TA0011/"`, "T1071 Application Layer Protocol",
		"The record score is the lowest of four ceilings", `class="binding"`, `<svg class="strip"`, "Raw document", "Add an exception",
		`name="e0.field" value="process.name"`, "Never triaged",
	}
	for proc, wants := range map[string][]string{
		"kworkerds": {"<code>45.9.148.99:3333</code>", "stratum: mining pool", "/tmp/.X11-unix/kworkerds", "kworkerds -o stratum&#43;tcp://45.9.148.99:3333",
			"its executable is in /tmp, which anyone can write to", "never before this bucket", "1 of 3 hosts", "www-data</b> never ran it before", "0.000142"},
		"perl": {"198.51.100.23:4444", "metasploit", "new on this host"},
		"bash": {"203.0.113.77:443", "https"},
	} {
		code, body := s.get(t, "/signals/"+s.ids[proc])
		if code != http.StatusOK {
			t.Errorf("%s: %d", proc, code)
			continue
		}
		for _, w := range append(common, wants...) {
			if !strings.Contains(body, w) {
				t.Errorf("the page of %s lacks %q", proc, w)
			}
		}
	}
	code, body := s.get(t, "/signals/no-such-signal")
	if code != http.StatusNotFound || !strings.Contains(body, "no such signal") {
		t.Errorf("unknown signal: %d", code)
	}
}

func TestSignalRawAndAPI(t *testing.T) {
	s := getSample(t, "handlers")
	id := s.ids["perl"]
	code, body := s.get(t, "/signals/"+id+"/raw")
	if code != http.StatusOK || body != string(s.raw["perl"]) {
		t.Errorf("raw document (%d) differs from the replay's signal", code)
	}
	var got struct {
		Summary  console.Summary `json:"summary"`
		Document map[string]any  `json:"document"`
		Triage   *console.Triage `json:"triage"`
		History  []console.Triage
	}
	s.getJSON(t, "/api/signals/"+id, http.StatusOK, &got)
	if got.Summary.ID != id || got.Document["kibana.alert.uuid"] != id || got.Document["by_field_value"] != "perl" || got.History == nil {
		t.Errorf("GET /api/signals/%s: %+v", id, got.Summary)
	}
	var e map[string]string
	s.getJSON(t, "/api/signals/nope", http.StatusNotFound, &e)
	if !strings.Contains(e["error"], "no such signal") {
		t.Errorf("unknown signal: %v", e)
	}
}

func TestStaticAndHealth(t *testing.T) {
	s := getSample(t, "handlers")
	for path, want := range map[string]string{
		"/static/console.css": "text/css", "/static/console.js": "javascript", "/static/favicon.svg": "image/svg+xml",
		"/healthz": "text/plain", "/readyz": "text/plain",
	} {
		req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), want) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: no content security policy", path)
		}
	}
	// Every asset is ours: the pages name no other origin.
	for _, p := range []string{"/", "/signals/" + s.ids["bash"], "/exceptions", "/login"} {
		_, body := s.get(t, p)
		for _, attr := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1) {
			if u := attr[1]; strings.HasPrefix(u, "http") && !strings.HasPrefix(u, "https://attack.mitre.org/") {
				t.Errorf("%s loads %s", p, u)
			}
		}
	}
}

// postForm posts a form as a browser on the console's own page would.
func (s *sample) postForm(t testing.TB, path string, form url.Values, header ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), b.String()
}

func (s *sample) postJSON(t testing.TB, path string, v any, header ...string) (int, string) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func TestTriage(t *testing.T) {
	s := getSample(t, "handlers")
	id := s.ids["perl"]
	updates := make(chan *nats.Msg, 10)
	sub, err := s.nc.ChanSubscribe(stream.TriageSubject, updates)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	s.nc.Flush()

	// The page's form.
	code, loc, body := s.postForm(t, "/signals/"+id+"/status", url.Values{"status": {"acknowledged"}, "note": {"asked the web team"}})
	if code != http.StatusSeeOther || loc != "/signals/"+id {
		t.Fatalf("POST status: %d %s %s", code, loc, body)
	}
	select {
	case m := <-updates:
		var tr console.Triage
		if err := json.Unmarshal(m.Data, &tr); err != nil || tr.ID != id || tr.Status != "acknowledged" || tr.Note != "asked the web team" || tr.By != "local" {
			t.Errorf("published update %s: %v", m.Data, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no update on " + stream.TriageSubject)
	}
	kv, err := console.TriageKV(t.Context(), s.js)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := console.ReadStatus(t.Context(), kv, id); err != nil || tr == nil || tr.Status != "acknowledged" {
		t.Fatalf("bucket holds %+v, %v", tr, err)
	}
	_, page := s.get(t, "/signals/"+id)
	if !strings.Contains(page, `<span class="status acknowledged" id="sig-status">acknowledged</span>`) || !strings.Contains(page, "asked the web team") {
		t.Error("the signal's page does not show the new status and note")
	}
	if got := listed(mustGet(t, s, "/?status=acknowledged")); !slices.Equal(got, []string{"perl"}) {
		t.Errorf("status=acknowledged lists %v", got)
	}

	// The API.
	code, body = s.postJSON(t, "/api/signals/"+id+"/status", map[string]string{"status": "closed", "note": "known pentest"})
	if code != http.StatusOK {
		t.Fatalf("POST /api/.../status: %d %s", code, body)
	}
	var got struct{ History []console.Triage }
	s.getJSON(t, "/api/signals/"+id, http.StatusOK, &got)
	if len(got.History) != 2 || got.History[0].Status != "closed" || got.History[1].Status != "acknowledged" {
		t.Errorf("history %+v, want closed then acknowledged", got.History)
	}
	code, body = s.postJSON(t, "/api/signals/"+id+"/status", map[string]string{"status": "resolved"})
	if code != http.StatusBadRequest || !strings.Contains(body, "want open, acknowledged, closed") {
		t.Errorf("bad status: %d %s", code, body)
	}
	code, _ = s.postJSON(t, "/api/signals/unknown/status", map[string]string{"status": "closed"})
	if code != http.StatusNotFound {
		t.Errorf("unknown signal: %d", code)
	}
	// A state change from another site's page is refused (cross-origin protection).
	code, _, _ = s.postForm(t, "/signals/"+id+"/status", url.Values{"status": {"open"}}, "Sec-Fetch-Site", "cross-site")
	if code != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", code)
	}
}

func mustGet(t *testing.T, s *sample, path string) string {
	t.Helper()
	code, body := s.get(t, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, code)
	}
	return body
}

func TestExceptions(t *testing.T) {
	s := getSample(t, "handlers")
	// The signal page's form, as pre-filled: process.name and host.name ticked.
	form := url.Values{"rule_id": {windower.DefaultRule().ID}, "comment": {"miner test"},
		"e0.on": {"1"}, "e0.field": {"process.name"}, "e0.op": {"is"}, "e0.value": {"kworkerds"},
		"e1.on": {"1"}, "e1.field": {"host.name"}, "e1.op": {"is one of"}, "e1.value": {"web-03, web-04"},
		"e2.field": {"user.name"}, "e2.op": {"is"}, "e2.value": {"www-data"}}
	code, loc, body := s.postForm(t, "/exceptions", form)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/exceptions?added=") {
		t.Fatalf("POST /exceptions: %d %s %s", code, loc, body)
	}
	id := strings.TrimPrefix(loc, "/exceptions?added=")
	kv, err := windower.ExceptionsKV(t.Context(), s.js)
	if err != nil {
		t.Fatal(err)
	}
	xs, err := windower.ListExceptions(t.Context(), kv, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != 1 || xs[0].ID != id || len(xs[0].Entries) != 2 ||
		xs[0].Entries[0].String() != "process.name is kworkerds" || xs[0].Entries[1].String() != "host.name is one of web-03,web-04" ||
		!strings.HasPrefix(xs[0].Comment, "miner test") {
		t.Fatalf("the bucket holds %+v", xs)
	}
	page := mustGet(t, s, "/exceptions?added="+id)
	if !strings.Contains(page, "process.name is kworkerds") || !strings.Contains(page, `data-id="`+id+`" class="fresh"`) {
		t.Error("the exceptions page does not show the new exception")
	}
	// Bad entries are refused with what was expected.
	code, _, body = s.postForm(t, "/exceptions", url.Values{"entries": {"process.name is"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "want FIELD is|is one of|matches VALUE") {
		t.Errorf("bad entry: %d", code)
	}
	code, _, body = s.postForm(t, "/exceptions", url.Values{"entries": {"process.title is x"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "field &#34;process.title&#34;") {
		t.Errorf("bad field: %d", code)
	}
	// The API, and the text form of the exceptions page.
	code, body = s.postJSON(t, "/api/exceptions", windower.Exception{Entries: []windower.Entry{{Field: "user.name", Operator: "matches", Values: []string{"svc-*"}}}})
	if code != http.StatusCreated {
		t.Fatalf("POST /api/exceptions: %d %s", code, body)
	}
	var list []windower.Exception
	s.getJSON(t, "/api/exceptions", http.StatusOK, &list)
	if len(list) != 2 {
		t.Fatalf("%d exceptions, want 2", len(list))
	}
	// Removal.
	code, loc, _ = s.postForm(t, "/exceptions/"+id+"/delete", nil)
	if code != http.StatusSeeOther || loc != "/exceptions?removed="+id {
		t.Fatalf("remove: %d %s", code, loc)
	}
	if xs, _ = windower.ListExceptions(t.Context(), kv, ""); len(xs) != 1 || xs[0].ID == id {
		t.Errorf("after removal the bucket holds %+v", xs)
	}
	if code, _, _ = s.postForm(t, "/exceptions/"+id+"/delete", nil); code != http.StatusNotFound {
		t.Errorf("removing it again: %d, want 404", code)
	}
}

// TestEvents reads the live updates as a browser's EventSource does: a signal published on
// rarenet.signals arrives as a "signal" event, a status change as a "status" event.
func TestEvents(t *testing.T) {
	s := getSample(t, "handlers")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan [2]string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var kind string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- [2]string{kind, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	next := func(kind string) string {
		t.Helper()
		for {
			select {
			case e := <-events:
				if e[0] == kind {
					return e[1]
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("no %q event within 15s", kind)
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // the stream is subscribed once its first bytes are out
	doc := liveSignal(t, s.docs["bash"], "live-nc", "2026-03-04T20:00:00Z")
	if _, err := s.js.Publish(t.Context(), stream.SignalsSubject, doc); err != nil {
		t.Fatal(err)
	}
	var sum console.Summary
	if err := json.Unmarshal([]byte(next("signal")), &sum); err != nil || sum.Process != "live-nc" {
		t.Fatalf("signal event: %+v %v", sum, err)
	}
	if got := listed(mustGet(t, s, "/")); len(got) != 4 || got[0] != "live-nc" {
		t.Errorf("after the live signal the list is %v", got)
	}
	// The live signal carries GeoIP (as the enricher writes it with --geoip-asn/--geoip-city):
	// the list and the page show the AS and the country.
	if !strings.Contains(mustGet(t, s, "/?q=live-nc"), `title="AS64500 Example Transit">NL</span>`) {
		t.Error("the list does not show the destination's country with its organisation")
	}
	page := mustGet(t, s, "/signals/"+sum.ID)
	for _, want := range []string{"AS64500 Example Transit", "NL · Amsterdam", "edge.example.net"} {
		if !strings.Contains(page, want) {
			t.Errorf("the live signal's page lacks %q", want)
		}
	}
	if code, _ := s.postJSON(t, "/api/signals/"+sum.ID+"/status", map[string]string{"status": "acknowledged"}); code != http.StatusOK {
		t.Fatalf("status: %d", code)
	}
	var st struct{ ID, Status, By string }
	if err := json.Unmarshal([]byte(next("status")), &st); err != nil || st.ID != sum.ID || st.Status != "acknowledged" || st.By != "local" {
		t.Errorf("status event %+v %v", st, err)
	}
}

// liveSignal is a copy of a replayed signal as a new one: another id, process and time.
func liveSignal(t testing.TB, base map[string]any, process, when string) []byte {
	t.Helper()
	d := map[string]any{}
	for k, v := range base {
		d[k] = v
	}
	d["kibana.alert.uuid"] = "live-" + process + "-" + strings.NewReplacer(":", "", "-", "").Replace(when)
	d["by_field_value"] = process
	d["process.name"] = []string{process}
	d["kibana.alert.original_time"] = when
	d["kibana.alert.reason"] = "Unusual network activity: " + process + " connected for the first time (live test)."
	d["@timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	d["rarenet.context"] = map[string]any{"destinations": []any{map[string]any{
		"ip": "192.0.2.44", "port": 8443, "ip_class": "public", "service": "https-alt",
		"as":          map[string]any{"number": 64500, "organization": "Example Transit"},
		"geo":         map[string]any{"country_iso_code": "NL", "city_name": "Amsterdam"},
		"reverse_dns": map[string]any{"names": []string{"edge.example.net"}, "status": "ok"},
	}}}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

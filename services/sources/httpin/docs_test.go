package httpin

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPostJSONDocuments: a _search response (pretty, and on one line) and Tetragon's
// pretty-printed sample events are stored one document per line, each numbered as the line
// of the body it starts on; a retry with the same Idempotency-Key is stored once.
func TestPostJSONDocuments(t *testing.T) {
	_, _, js, ctx := startJetStream(t)
	ts := httptest.NewServer(NewHandler(js, Config{}, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	search, err := os.ReadFile("../../ingest/format/jsondoc/testdata/search-response.json")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(search, &resp); err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, h := range resp.Hits.Hits {
		var c bytes.Buffer
		if err := json.Compact(&c, h.Source); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, c.String())
	}
	var oneLine bytes.Buffer
	if err := json.Compact(&oneLine, search); err != nil {
		t.Fatal(err)
	}
	for _, rq := range []request{
		{body: string(search), header: map[string]string{HeaderSource: "es", HeaderIdemKey: "k1", "Content-Type": "application/json"}},
		{body: oneLine.String(), header: map[string]string{HeaderSource: "es-line", HeaderIdemKey: "k2"}},
	} {
		for range 2 { // the second is a shipper's retry
			if code, r := do(t, ts.URL, rq); code != http.StatusAccepted || r.Accepted != 3 {
				t.Fatalf("POST = %d %+v, want 202 with 3 documents", code, r)
			}
		}
	}
	var got []string
	for _, l := range stored(t, ctx, js) {
		if !strings.HasSuffix(l, " ") { // blank lines between documents
			got = append(got, l)
		}
	}
	want := []string{
		"rarenet.raw.auto es:17 " + sources[0],
		"rarenet.raw.auto es:40 " + sources[1],
		"rarenet.raw.auto es:54 " + sources[2],
		"rarenet.raw.auto es-line:1 " + sources[0],
		"rarenet.raw.auto es-line:1 " + sources[1],
		"rarenet.raw.auto es-line:1 " + sources[2],
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestPostJSONDocumentTooLong: a document longer than a raw message is refused with its line.
func TestPostJSONDocumentTooLong(t *testing.T) {
	_, _, js, _ := startJetStream(t)
	ts := httptest.NewServer(NewHandler(js, Config{}, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	body := "{\n \"a\": 1\n}\n{\n  \"big\": \"" + strings.Repeat("x", 1100<<10) + "\"\n}\n"
	if code, r := do(t, ts.URL, request{body: body}); code != http.StatusRequestEntityTooLarge || !strings.Contains(r.Error, "line 4") {
		t.Errorf("POST = %d %+v, want 413 naming line 4", code, r)
	}
}

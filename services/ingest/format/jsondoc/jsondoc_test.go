package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// realTetragon is Tetragon's published sample events, one pretty-printed event per file
// (cilium/tetragon, docs/security-observability-with-ebpf/03_chapter/; see
// ../shared/testdata/real/README.md).
const realTetragon = "../../../../../shared/testdata/real/tetragon"

type got struct {
	line int64
	data string
	err  error
}

func each(t *testing.T, in []byte) ([]got, int64) {
	t.Helper()
	var docs []got
	lines, err := Each(bytes.NewReader(in), 0, func(d Doc) error {
		docs = append(docs, got{d.Line, string(d.Data), d.Err})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs, lines
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var c bytes.Buffer
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// TestEachConcatenatedPrettyEvents: Tetragon's sample events, pretty-printed, one after the
// other as `cat *.json` gives them: each comes out compact, on the line it starts on.
func TestEachConcatenatedPrettyEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(realTetragon, "*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("the real Tetragon samples: %v %v", files, err)
	}
	var in []byte
	var want []got
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Some files end without a newline: the next one starts on their last line.
		want = append(want, got{line: int64(bytes.Count(in, []byte{'\n'})) + 1, data: compact(t, b)})
		in = append(in, b...)
	}
	docs, lines := each(t, in)
	if want := int64(bytes.Count(in, []byte{'\n'})) + 1; lines != want {
		t.Errorf("%d lines read, want %d", lines, want)
	}
	if len(docs) != len(want) {
		t.Fatalf("%d documents, want %d", len(docs), len(want))
	}
	for i := range want {
		if docs[i] != want[i] {
			t.Errorf("document %d: line %d, %.80s (err %v); want line %d, %.80s", i, docs[i].line, docs[i].data, docs[i].err, want[i].line, want[i].data)
		}
	}
}

// TestEachSearchResponse: the documents of an Elasticsearch _search response (pretty, as
// `?pretty` and Kibana's console give it) are its hits' _source, each at its hit's line.
func TestEachSearchResponse(t *testing.T) {
	in, err := os.ReadFile("testdata/search-response.json")
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
	if err := json.Unmarshal(in, &resp); err != nil {
		t.Fatal(err)
	}
	hitLines := []int64{17, 40, 54}
	check := func(t *testing.T, docs []got, lines []int64) {
		t.Helper()
		if len(docs) != len(resp.Hits.Hits) {
			t.Fatalf("%d documents, want %d: %v", len(docs), len(resp.Hits.Hits), docs)
		}
		for i, h := range resp.Hits.Hits {
			if want := (got{line: lines[i], data: compact(t, h.Source)}); docs[i] != want {
				t.Errorf("hit %d: %+v, want %+v", i, docs[i], want)
			}
		}
	}
	docs, n := each(t, in)
	if n != int64(bytes.Count(in, []byte{'\n'})) {
		t.Errorf("%d lines read", n)
	}
	check(t, docs, hitLines)
	// The same response on one line (curl without ?pretty), twice (a scroll's pages saved
	// one per line): every hit of a page names the page's line.
	one := compact(t, in)
	docs, _ = each(t, []byte(one+"\n"+one+"\n"))
	check(t, docs[:3], []int64{1, 1, 1})
	check(t, docs[3:], []int64{2, 2, 2})
}

func TestEachArrayAndOneLine(t *testing.T) {
	in := "[\n  {\"a\": 1,\n   \"b\": [1, 2]},\n  {\"a\": 2}\n]\n{\"c\":3}{\"d\": \"x y\"}\n"
	docs, _ := each(t, []byte(in))
	want := []got{{2, `{"a":1,"b":[1,2]}`, nil}, {4, `{"a":2}`, nil}, {6, `{"c":3}`, nil}, {6, `{"d":"x y"}`, nil}}
	if len(docs) != len(want) {
		t.Fatalf("%v, want %v", docs, want)
	}
	for i := range want {
		if docs[i] != want[i] {
			t.Errorf("document %d: %+v, want %+v", i, docs[i], want[i])
		}
	}
}

// TestEachRejects: a broken document comes out as one reject at its first line, with its
// text; reading goes on with the next document.
func TestEachRejects(t *testing.T) {
	in := strings.Join([]string{
		`{`, // 1: not closed; line 4 starts another document
		`  "@timestamp": "2026-03-02T10:00:00Z",`,
		`  "process": {"name": "curl"}`,
		`{`, // 4
		`  "a": 1 "b": 2`,
		`}`,
		`hello`,        // 7: no document
		`{"ok": true}`, // 8
		`{"open": [1,`, // 9: the input ends in it
	}, "\n")
	docs, lines := each(t, []byte(in))
	if lines != 9 {
		t.Errorf("%d lines", lines)
	}
	want := []struct {
		line  int64
		data  string
		isErr bool
	}{
		{1, `{   "@timestamp": "2026-03-02T10:00:00Z",   "process": {"name": "curl"}`, true},
		{4, `{   "a": 1 "b": 2`, true},
		{7, `hello`, true},
		{8, `{"ok":true}`, false},
		{9, `{"open": [1,`, true},
	}
	if len(docs) != len(want) {
		t.Fatalf("%d documents: %+v", len(docs), docs)
	}
	for i, w := range want {
		d := docs[i]
		if d.line != w.line || d.data != w.data || (d.err != nil) != w.isErr || d.err != nil && !errors.Is(d.err, ErrSyntax) {
			t.Errorf("document %d: %+v, want %+v", i, d, w)
		}
	}
	// The stray closer of line 6 is dropped: it holds nothing.
}

// TestEachReadError: a read error (a truncated gzip) stops the reading; the documents before
// it went to fn, the one it cut does not.
func TestEachReadError(t *testing.T) {
	cut := errors.New("cut")
	r := io.MultiReader(strings.NewReader("{\"a\": 1}\n{\n \"b\": "), iotest.ErrReader(cut))
	var docs []string
	_, err := Each(r, 0, func(d Doc) error { docs = append(docs, string(d.Data)); return nil })
	if !errors.Is(err, cut) || len(docs) != 1 || docs[0] != `{"a":1}` {
		t.Errorf("err %v, documents %q", err, docs)
	}
}

func TestEachLongDocument(t *testing.T) {
	in := `{"a": "` + strings.Repeat("x", 200<<10) + `"}` + "\n{\"b\": 1}\n"
	var docs []Doc
	_, err := Each(strings.NewReader(in), 100<<10, func(d Doc) error {
		d.Data = bytes.Clone(d.Data)
		docs = append(docs, d)
		return nil
	})
	if err != nil || len(docs) != 2 {
		t.Fatalf("%v, %d documents", err, len(docs))
	}
	if docs[0].Size != len(in)-len("\n{\"b\": 1}\n")-1 || len(docs[0].Data) != headBytes || docs[1].Size != 0 || string(docs[1].Data) != `{"b":1}` {
		t.Errorf("long: size %d, %d bytes kept; next %q", docs[0].Size, len(docs[0].Data), docs[1].Data)
	}
}

func TestSniff(t *testing.T) {
	search, _ := os.ReadFile("testdata/search-response.json")
	for _, tt := range []struct {
		name string
		head string
		eof  bool
		want bool
	}{
		{"ndjson", "{\"@timestamp\":\"x\"}\n{\"@timestamp\":\"y\"}\n", false, false},
		{"ndjson one line, no newline", "{\"@timestamp\":\"x\"}", true, false},
		{"ndjson broken first line", "{\"@timestamp\":\n{\"@timestamp\":\"y\"}\n", false, false},
		{"ndjson first line past the head", "{\"@timestamp\":\"xxxxxxxx", false, false},
		{"pretty", "{\n  \"@timestamp\": \"x\"\n}\n", false, true},
		{"pretty with a BOM and blank lines", "\ufeff\n\n{\n  \"a\": 1\n}\n", true, true},
		{"concatenated on a line", "{\"a\":1}{\"a\":2}\n", false, true},
		{"array", " [{\"a\":1}]", true, true},
		{"search response, pretty", string(search), true, true},
		{"search response, one line", compact(t, search) + "\n", false, true},
		{"auditd", "type=SYSCALL msg=audit(1.2:3): arch=c000003e\n", false, false},
		{"sysmon xml", "<Event><System><Provider Name=\"Linux-Sysmon\"/></System></Event>\n", false, false},
		{"empty", "\n\n", true, false},
		{"hits not an object", "{\"hits\": 3}\n", false, false},
	} {
		if got := Sniff([]byte(tt.head), tt.eof); got != tt.want {
			t.Errorf("%s: Sniff = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBoundary(t *testing.T) {
	var b Boundary
	lines := []string{`{`, `  "a": "{[",`, `  "b": [1, {"c": "\"]"}]`, `}`, `{"d": 1}`, `{`, `  "e": 2`}
	want := []bool{true, false, false, false, true, true, false}
	for i, l := range lines {
		if got := b.Add([]byte(l)); got != want[i] {
			t.Errorf("line %d %q: safe before = %v, want %v", i+1, l, got, want[i])
		}
	}
	if !b.Open() {
		t.Error("the last document is open")
	}
	b.Reset()
	if b.Open() {
		t.Error("open after Reset")
	}
}

func TestAlign(t *testing.T) {
	in := "{\n \"a\": 1\n}\n{\"b\": 2}{\"c\": 3}\n\n{\n\"d\": 4}\n"
	got := Align([]byte(in), 10, 0)
	want := []Piece{{10, []byte("{\"a\":1}\n\n\n{\"b\":2}")}, {13, []byte("{\"c\":3}\n\n{\"d\":4}")}}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i].FirstLine != want[i].FirstLine || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("piece %d: %d %q, want %d %q", i, got[i].FirstLine, got[i].Data, want[i].FirstLine, want[i].Data)
		}
	}
}

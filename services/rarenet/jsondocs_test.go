package rarenet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/sources/chunk"
	"github.com/rarenet/rarenet/shared/natsembed"
)

// The inputs of the JSON documents tests: Tetragon's published sample events (pretty, one
// per file; see ../shared/testdata/real/README.md) and an Elasticsearch _search response
// written in the shape Elasticsearch returns it.
var (
	realTetragonDir = filepath.Join("..", "..", "..", "shared", "testdata", "real", "tetragon")
	searchResponse  = filepath.Join("..", "ingest", "format", "jsondoc", "testdata", "search-response.json")
)

// prettyECS is two pretty-printed ECS documents around a broken one (line 12: a missing
// comma), as `jq .` writes them.
const prettyECS = `{
  "@timestamp": "2026-03-02T11:00:00Z",
  "event": {"category": ["network"], "type": ["start"]},
  "host": {"name": "db-1", "os": {"type": "linux"}},
  "process": {"name": "psql"},
  "destination": {"ip": "203.0.113.9", "port": 5432}
}
{
  "@timestamp": "2026-03-02T11:00:01Z",
  "event": {"category": ["network"], "type": ["start"]},
  "host": {"name": "db-1", "os": {"type": "linux"}}
  "process": {"name": "psql"}
}
{
  "@timestamp": "2026-03-02T11:00:02Z",
  "event": {"category": ["network"], "type": ["start"]},
  "host": {"name": "db-2", "os": {"type": "linux"}},
  "process": {"name": "nc"},
  "destination": {"ip": "198.51.100.20", "port": 4444}
}
`

// jsonDocInputs writes the test's inputs and returns their paths: the Tetragon samples
// concatenated (cat *.json), the _search response pretty and on one line, and prettyECS.
func jsonDocInputs(t *testing.T) (tetragon, search, searchLine, ecs string, tetragonDocs int) {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(realTetragonDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the real Tetragon samples: %v", err)
	}
	var cat []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cat = append(cat, b...)
	}
	resp, err := os.ReadFile(searchResponse)
	if err != nil {
		t.Fatal(err)
	}
	var line bytes.Buffer
	if err := json.Compact(&line, resp); err != nil {
		t.Fatal(err)
	}
	line.WriteByte('\n')
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("tetragon.json", cat), write("search.json", resp), write("search-line.json", line.Bytes()),
		write("ecs-pretty.json", []byte(prettyECS)), len(files)
}

// TestNormalizeJSONDocuments: pretty-printed, concatenated and _search inputs give their
// documents' events, each naming the line its document starts on, and a broken document one
// reject at its first line.
func TestNormalizeJSONDocuments(t *testing.T) {
	tetragon, search, searchLine, ecs, tetragonDocs := jsonDocInputs(t)
	type origin struct {
		Rarenet struct {
			Line   int64  `json:"line"`
			Format string `json:"format"`
		} `json:"rarenet"`
		Host struct {
			Name string `json:"name"`
		} `json:"host"`
	}
	for _, tt := range []struct {
		name, file         string
		lines              int64
		accepted, filtered int64
		rejects            string
		lineOf             map[string]int64 // host.name: the line of its event
		format             string
	}{
		{"tetragon concatenated", tetragon, 244, int64(tetragonDocs), 0, "", nil, "tetragon"},
		{"search response", search, 70, 2, 1, "", map[string]int64{"web-1": 17, "ws-7": 40, "web-2": 54}, "ecs"},
		{"search response on one line", searchLine, 1, 2, 1, "", map[string]int64{"web-1": 1, "ws-7": 1, "web-2": 1}, "ecs"},
		{"pretty ecs with a broken document", ecs, 20, 2, 0, ecs + ":8: ", map[string]int64{"db-1": 1, "db-2": 14}, "ecs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			st, err := Normalize(NormalizeOptions{Files: []string{tt.file}, Format: "auto", All: true, Out: &out, Errors: &errs})
			if err != nil {
				t.Fatal(err)
			}
			rejected := int64(0)
			if tt.rejects != "" {
				rejected = 1
			}
			if st.Lines != tt.lines || st.Accepted != tt.accepted || st.Filtered != tt.filtered || st.Rejected != rejected {
				t.Errorf("stats %+v, want %d lines, %d accepted, %d filtered, %d rejected", st, tt.lines, tt.accepted, tt.filtered, rejected)
			}
			if !strings.HasPrefix(errs.String(), tt.rejects) || tt.rejects == "" && errs.Len() > 0 {
				t.Errorf("rejects %q, want them to start with %q", errs.String(), tt.rejects)
			}
			for l := range strings.Lines(out.String()) {
				var o origin
				if err := json.Unmarshal([]byte(l), &o); err != nil {
					t.Fatal(err)
				}
				if o.Rarenet.Format != tt.format {
					t.Errorf("format %q, want %q", o.Rarenet.Format, tt.format)
				}
				if want, ok := tt.lineOf[o.Host.Name]; ok && o.Rarenet.Line != want {
					t.Errorf("%s's event at line %d, want %d", o.Host.Name, o.Rarenet.Line, want)
				}
			}
		})
	}
}

// TestReplayJSONDocuments replays the same inputs through the pipeline (the driver's
// messages, ingest's decoding) and checks that it sees what normalize sees: the same events,
// and the broken document rejected at its first line.
func TestReplayJSONDocuments(t *testing.T) {
	tetragon, search, searchLine, ecs, _ := jsonDocInputs(t)
	files := []string{tetragon, search, searchLine, ecs}
	var want NormalizeStats
	for _, f := range files {
		st, err := Normalize(NormalizeOptions{Files: []string{f}, Format: "auto", Out: new(bytes.Buffer), Errors: new(bytes.Buffer)})
		if err != nil {
			t.Fatal(err)
		}
		want.Lines, want.Accepted, want.Filtered, want.Rejected = want.Lines+st.Lines, want.Accepted+st.Accepted, want.Filtered+st.Filtered, want.Rejected+st.Rejected
	}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rejects bytes.Buffer
	st, err := Replay(ctx, ReplayOptions{Pipeline: testOptions(srv.ClientURL()), Files: files, Out: new(discard), Rejects: &rejects})
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != want.Lines || st.Accepted != want.Accepted || st.Filtered != want.Filtered || st.Rejected != want.Rejected || want.Rejected != 1 {
		t.Errorf("replay %+v, want what normalize saw: %+v", st, want)
	}
	if !strings.Contains(rejects.String(), ecs+":8: ") {
		t.Errorf("rejects %q, want the broken document at %s:8", rejects.String(), ecs)
	}
}

// TestSendDocsNumbersLines: the driver's messages of a documents input put each document on
// its own line at the place ingest numbers as the line the document starts on, and start a
// new message where two documents share a line.
func TestSendDocsNumbersLines(t *testing.T) {
	_, search, searchLine, _, _ := jsonDocInputs(t)
	for _, tt := range []struct {
		file   string
		limits chunkLimits
		want   []int64 // the documents' lines
		msgs   int
	}{
		{search, chunkLimits{1000, 1 << 20, 1 << 20, 0}, []int64{17, 40, 54}, 1},
		{search, chunkLimits{2, 1 << 20, 1 << 20, 0}, []int64{17, 40, 54}, 2},
		{searchLine, chunkLimits{1000, 1 << 20, 1 << 20, 0}, []int64{1, 1, 1}, 3},
	} {
		in, err := os.Open(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		msgs := 0
		_, err = sendDocs(bufio.NewReader(in), tt.file, tt.limits, func(ch chunk.Chunk) error {
			msgs++
			for i, l := range strings.Split(string(ch.Data), "\n") {
				if l != "" {
					if !json.Valid([]byte(l)) {
						t.Errorf("line %d of a message is not one document: %.60s", i, l)
					}
					got = append(got, ch.FirstLine+int64(i))
				}
			}
			return nil
		})
		in.Close()
		if err != nil || msgs != tt.msgs || !slices.Equal(got, tt.want) {
			t.Errorf("%s %+v: %d messages, documents at lines %v, err %v; want %d messages, lines %v", filepath.Base(tt.file), tt.limits, msgs, got, err, tt.msgs, tt.want)
		}
	}
}

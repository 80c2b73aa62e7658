package tail

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPrettyJSONDocuments follows a file that a writer appends pretty-printed events to
// (Tetragon's published samples, see ../shared/testdata/real/README.md): each event is
// published whole, compact, numbered as the line it starts on, and one half written is held
// until its end comes.
func TestPrettyJSONDocuments(t *testing.T) {
	js, ctx := startJetStream(t)
	files, err := filepath.Glob("../../../../shared/testdata/real/tetragon/*.json")
	if err != nil || len(files) < 3 {
		t.Fatalf("the real Tetragon samples: %v %v", files, err)
	}
	var events [][]byte
	var compact []string
	for _, f := range files[:3] {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(b, []byte{'\n'}) {
			b = append(b, '\n')
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatal(err)
		}
		events, compact = append(events, b), append(compact, c.String())
	}
	lines := func(b []byte) int { return bytes.Count(b, []byte{'\n'}) }
	dir := t.TempDir()
	log := filepath.Join(dir, "tetragon.json")
	state := filepath.Join(dir, "state.json")
	half := len(events[1]) / 2
	appendTo(t, log, string(events[0])+string(events[1][:half]))
	tl := newTailer(t, js, Config{Paths: []string{log}, StateFile: state})
	poll(t, ctx, tl)
	docs := func(want ...string) {
		t.Helper()
		var got []string
		for _, l := range stored(t, ctx, js) {
			if !strings.HasSuffix(l, " ") { // the blank lines a document's other lines leave
				got = append(got, l)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("stored:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	first := "rarenet.raw.auto tetragon.json:1 " + compact[0]
	docs(first)

	appendTo(t, log, string(events[1][half:]))
	poll(t, ctx, tl)
	second := "rarenet.raw.auto tetragon.json:" + strconv.Itoa(1+lines(events[0])) + " " + compact[1]
	docs(first, second)

	// A restart resumes after the acknowledged documents.
	tl.Close()
	appendTo(t, log, string(events[2]))
	tl2 := newTailer(t, js, Config{Paths: []string{log}, StateFile: state})
	poll(t, ctx, tl2)
	third := "rarenet.raw.auto tetragon.json:" + strconv.Itoa(1+lines(events[0])+lines(events[1])) + " " + compact[2]
	docs(first, second, third)
}

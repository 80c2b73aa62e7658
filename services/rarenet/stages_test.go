package rarenet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestStagesMatchPipelineDoc: what each stage declares it reads, writes and creates is what
// docs/pipeline.md's table of streams and stores says, so the picture cannot drift from the
// code unnoticed.
func TestStagesMatchPipelineDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "pipeline.md"))
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ writtenBy, readBy string }
	rows := map[string]row{} // by the name between the first cell's backquotes
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 7 || !strings.Contains(cells[1], "`") {
			continue
		}
		name := strings.Split(cells[1], "`")[1]
		rows[name] = row{writtenBy: cells[4], readBy: cells[5]}
	}
	var o Options
	stages := o.Describe()
	if len(stages) != len(Stages) {
		t.Fatalf("%d stages described, %d named", len(stages), len(Stages))
	}
	for i, st := range stages {
		if st.Name != Stages[i] {
			t.Errorf("stage %d is %s, Stages names %s", i, st.Name, Stages[i])
		}
		check := func(what, name, cell string) {
			if cell == "" {
				t.Errorf("%s %s %s: docs/pipeline.md has no row for it", st.Name, what, name)
				return
			}
			if !strings.Contains(cell, st.Name) && !strings.Contains(cell, "every stage") {
				t.Errorf("%s %s %s, but docs/pipeline.md's row says %q", st.Name, what, name, strings.TrimSpace(cell))
			}
		}
		for _, s := range st.Reads {
			check("reads", s, rows[s].readBy)
		}
		for _, s := range append(st.Writes, st.Stores...) {
			check("writes", s, rows[s].writtenBy)
		}
		for _, c := range st.Consumers {
			if !slices.Contains(st.Reads, c.Stream) {
				t.Errorf("%s consumes %s (%s) but does not declare it among what it reads", st.Name, c.Stream, c.Durable)
			}
		}
	}
}

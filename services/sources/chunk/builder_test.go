package chunk

import (
	"bytes"
	"testing"
)

func TestChunkerCutsAtLinesAndBytes(t *testing.T) {
	c := Builder{Next: 7}
	for i := range LiveLines {
		if full := c.Add([]byte("x")); full != (i == LiveLines-1) {
			t.Fatalf("line %d: full = %v", i+1, full)
		}
	}
	ch, ok := c.Take()
	if !ok || ch.FirstLine != 7 || ch.Lines != LiveLines || len(ch.Data) != 2*LiveLines-1 {
		t.Fatalf("chunk first %d lines %d bytes %d ok %v", ch.FirstLine, ch.Lines, len(ch.Data), ok)
	}
	if _, ok := c.Take(); ok {
		t.Error("Take of an empty chunker returned a chunk")
	}
	big := bytes.Repeat([]byte("y"), LiveBytes-10)
	c.Add(big)
	if c.Room(10) || !c.Room(9) {
		t.Errorf("Room around the byte limit: Room(9)=%v Room(10)=%v, want true and false", c.Room(9), c.Room(10))
	}
	ch, _ = c.Take()
	if ch.FirstLine != 7+LiveLines {
		t.Errorf("numbering does not continue: first line %d", ch.FirstLine)
	}
	if !c.Room(2 * LiveBytes) {
		t.Error("an empty chunk must take any line")
	}
}

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

// TestReuse: a chunk's memory handed back serves the next chunk, also after TakeLines dropped
// lines (its Data keeps the whole buffer's capacity), and a chunk with lines keeps its own.
func TestReuse(t *testing.T) {
	c := Builder{Next: 1, SizeHint: 64}
	c.Add([]byte("one"))
	c.Add([]byte("two"))
	c.Add([]byte("three"))
	ch, ok := c.TakeLines(2)
	if !ok || string(ch.Data) != "one\ntwo" || cap(ch.Data) < 64 {
		t.Fatalf("TakeLines(2) = %q (cap %d), ok %v; want one\\ntwo with the buffer's capacity", ch.Data, cap(ch.Data), ok)
	}
	c.Reuse(ch.Data)
	c.Add([]byte("three"))
	next, _ := c.Take()
	if string(next.Data) != "three" || next.FirstLine != 3 || &next.Data[:1][0] != &ch.Data[:1][0] {
		t.Fatalf("after Reuse: %q from line %d, same memory %v", next.Data, next.FirstLine, &next.Data[:1][0] == &ch.Data[:1][0])
	}
	c.Add([]byte("four"))
	c.Reuse(make([]byte, 0, 1024)) // a chunk with a line keeps its buffer
	c.Add([]byte("five"))
	if last, _ := c.Take(); string(last.Data) != "four\nfive" {
		t.Fatalf("Reuse during a chunk: %q, want four\\nfive", last.Data)
	}
}

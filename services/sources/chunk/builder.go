package chunk

// Builder gathers consecutive lines into chunks of at most Limits.Lines lines and about
// Limits.Bytes bytes. The zero value is ready, with the live limits (Live); set Next to the
// number of the first line to come.
type Builder struct {
	// Limits bound the chunks; the zero Limits are Live().
	Limits Limits
	// Next is the number the next added line gets.
	Next int64
	// SizeHint, when set, is about how many bytes the next chunk will hold: its buffer is
	// made that large (at most Limits.Bytes) at its first line rather than grown line by
	// line, which copied each chunk several times over and was a seventh of ingest's CPU
	// under the HTTP input's load (docs/performance.md, item 15).
	SizeHint int
	chunk    Chunk
}

// limits returns the limits in force: Live for the zero Limits.
func (c *Builder) limits() Limits {
	if c.Limits == (Limits{}) {
		return Live()
	}
	return c.Limits
}

// Add appends a line (without its newline) and reports whether the chunk is full and should
// be taken now.
func (c *Builder) Add(line []byte) (full bool) {
	lim := c.limits()
	if c.chunk.Lines == 0 {
		c.chunk.FirstLine = c.Next
		if want := min(c.SizeHint, lim.Bytes); want > cap(c.chunk.Data) {
			c.chunk.Data = make([]byte, 0, want)
		}
	} else {
		c.chunk.Data = append(c.chunk.Data, '\n')
	}
	c.chunk.Data = append(c.chunk.Data, line...)
	c.chunk.Lines++
	c.Next++
	return c.chunk.Lines >= lim.Lines || len(c.chunk.Data) >= lim.Bytes
}

// Reuse gives the builder buf's memory for its next chunk, when it has no line yet and buf is
// larger than what it holds: a source that is done with a chunk it took (it published a
// compressed copy) hands its Data back, and the next chunk needs no new buffer. The HTTP
// input's chunks were otherwise two fifths of ingest's allocations under load
// (docs/performance.md, item 29).
func (c *Builder) Reuse(buf []byte) {
	if c.chunk.Lines == 0 && cap(buf) > cap(c.chunk.Data) {
		c.chunk.Data = buf[:0]
	}
}

// Room reports whether a line of n bytes still fits in the current chunk; when not, take the
// chunk first. An empty chunk takes any line.
func (c *Builder) Room(n int) bool {
	return c.chunk.Lines == 0 || len(c.chunk.Data)+1+n <= c.limits().Bytes
}

// Len is the number of lines waiting in the current chunk.
func (c *Builder) Len() int { return c.chunk.Lines }

// Take returns the current chunk and starts a new one; ok is false when it holds no line.
// The returned Data belongs to the caller.
func (c *Builder) Take() (ch Chunk, ok bool) {
	if c.chunk.Lines == 0 {
		return Chunk{}, false
	}
	ch, c.chunk = c.chunk, Chunk{}
	return ch, true
}

// TakeLines returns the first n lines of the current chunk (all when n covers them) and drops
// the rest, which the caller reads again (a source that cuts between events); Next goes back
// to the first line dropped. The returned Data's capacity covers the dropped lines too, so
// that Reuse gets the whole buffer back.
func (c *Builder) TakeLines(n int) (ch Chunk, ok bool) {
	if n >= c.chunk.Lines {
		return c.Take()
	}
	if n <= 0 {
		c.Next -= int64(c.chunk.Lines)
		c.chunk = Chunk{}
		return Chunk{}, false
	}
	end, seen := 0, 0
	for i, b := range c.chunk.Data {
		if b == '\n' {
			if seen++; seen == n {
				end = i
				break
			}
		}
	}
	ch = Chunk{FirstLine: c.chunk.FirstLine, Lines: n, Data: c.chunk.Data[:end]}
	c.Next = ch.FirstLine + int64(n)
	c.chunk = Chunk{}
	return ch, true
}

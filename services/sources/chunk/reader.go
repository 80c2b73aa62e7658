package chunk

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/rarenet/rarenet/services/ingest/format/auditd"
)

// Reader cuts an input into chunks. It works on blocks, not lines: for formats whose every
// line is an event of its own it only looks for the last newline that fits, so a replay's
// driver costs next to nothing per line; for auditd logs it asks auditd.Boundary about every
// line, so that a chunk holds whole events (ingest decodes each message on its own). A chunk
// is cut anywhere only when its limits hold no such place.
type Reader struct {
	br *bufio.Reader
	// bound, when set, decides where auditd logs may be cut.
	bound *auditd.Boundary
	// maxLines and maxBytes bound a chunk; a line longer than maxLine is not sent.
	maxLines, maxBytes, maxLine int
	line                        int64 // the number of the next line
	// Boundary has seen the lines of the unread input up to scanned (scannedLines of them);
	// safe is the last place before it where a chunk may end (safeLines lines), 0: none.
	scanned, scannedLines, safe, safeLines int
	err                                    error // the input's read error, once met
}

// NewReader returns a Reader of br, whose buffer must hold lim.Bytes+1 bytes (and any larger
// size SetBytes will set), numbering lines from 1. With auditdLog, chunks end between events
// where they can.
func NewReader(br *bufio.Reader, lim Limits, auditdLog bool) *Reader {
	c := &Reader{br: br, maxLines: lim.Lines, maxBytes: lim.Bytes, maxLine: lim.Line, line: 1}
	if auditdLog {
		c.bound = &auditd.Boundary{}
	}
	return c
}

// Line is the number of the next line to be read.
func (c *Reader) Line() int64 { return c.line }

// SetLine numbers the next line n: a part of a longer input cut again goes on with its
// numbering.
func (c *Reader) SetLine(n int64) { c.line = n }

// SetBytes sets the most bytes of lines of the chunks to come (the replay packs chunks to
// what fits a message compressed); the reader's buffer must hold n+1 bytes.
func (c *Reader) SetBytes(n int) { c.maxBytes = n }

// Next returns the next chunk, or io.EOF after the last. A chunk's Data may be a view of the
// reader's buffer, valid until the next call: the caller copies what it keeps (the replay
// compresses it into a message of its own, see rawdata.Encoder). A line longer than the
// limits' Line comes as a chunk of its own with only its head, in Long.
func (c *Reader) Next() (Chunk, error) {
	// One byte more than a chunk: a newline right after maxBytes still ends a full one.
	buf, err := c.br.Peek(c.maxBytes + 1)
	eof := errors.Is(err, io.EOF)
	if err != nil && !eof && !errors.Is(err, bufio.ErrBufferFull) && c.err == nil {
		c.err = err // a read error (a truncated gzip): the whole lines before it still go first
	}
	if len(buf) == 0 && c.err == nil {
		return Chunk{}, io.EOF
	}
	end, lines := c.cut(buf, eof)
	if lines == 0 {
		if c.err != nil {
			return Chunk{}, c.err
		}
		return c.longLine()
	}
	data := bytes.TrimSuffix(buf[:end], []byte{'\n'})
	ch := Chunk{Data: data, FirstLine: c.line, Lines: lines}
	c.line += int64(lines)
	_, _ = c.br.Discard(end)
	c.scanned, c.scannedLines = c.scanned-end, c.scannedLines-lines
	c.safe, c.safeLines = 0, 0
	return ch, nil
}

// cut finds where the next chunk ends in buf: after the last whole line within the limits
// or, for auditd, at the last place Boundary allows. eof says buf ends the input, so its last
// line needs no newline. It returns no lines when not even one fits.
func (c *Reader) cut(buf []byte, eof bool) (end, lines int) {
	limit := min(len(buf), c.maxBytes)
	lastLine := func(from int) bool { return eof && len(buf) <= c.maxBytes && from < len(buf) }
	if c.bound == nil {
		for lines < c.maxLines {
			i := bytes.IndexByte(buf[end:limit], '\n')
			if i < 0 {
				if lastLine(end) && len(buf)-end <= c.maxLine {
					return len(buf), lines + 1
				}
				break
			}
			if i > c.maxLine {
				break // a line too long to send ends the chunk before it (see longLine)
			}
			end += i + 1
			lines++
		}
		return end, lines
	}
	for c.scannedLines < c.maxLines {
		lineEnd := len(buf)
		if i := bytes.IndexByte(buf[c.scanned:limit], '\n'); i >= 0 {
			lineEnd = c.scanned + i
		} else if !lastLine(c.scanned) {
			break
		}
		if lineEnd-c.scanned > c.maxLine {
			break // a line too long to send ends the chunk before it (see longLine)
		}
		if c.bound.Add(buf[c.scanned:lineEnd]) && c.scannedLines > 0 {
			c.safe, c.safeLines = c.scanned, c.scannedLines
		}
		c.scanned, c.scannedLines = min(lineEnd+1, len(buf)), c.scannedLines+1
	}
	if c.scannedLines > 0 && c.scanned < len(buf) && c.bound.Open() && c.safeLines > 0 {
		return c.safe, c.safeLines
	}
	return c.scanned, c.scannedLines
}

// longLine reads a line longer than a chunk: one of at most maxLine bytes is sent alone;
// of a longer one only the head is kept, for a dead letter.
func (c *Reader) longLine() (Chunk, error) {
	ch := Chunk{FirstLine: c.line, Lines: 1}
	c.line++
	c.scanned, c.scannedLines, c.safe, c.safeLines = 0, 0, 0, 0
	var line []byte
	size := 0
	for {
		frag, err := c.br.ReadSlice('\n')
		if err == nil {
			frag = frag[:len(frag)-1]
		}
		size += len(frag)
		if keep := c.maxLine + 1 - len(line); keep > 0 {
			line = append(line, frag[:min(len(frag), keep)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Chunk{}, err
		}
		break
	}
	if c.bound != nil {
		c.bound.Add(line[:min(len(line), LongHead)])
	}
	if size > c.maxLine {
		ch.Long, ch.LongSize = line[:min(len(line), LongHead)], size
		return ch, nil
	}
	ch.Data = line
	return ch, nil
}

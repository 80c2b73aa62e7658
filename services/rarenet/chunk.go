package rarenet

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/rarenet/rarenet/services/ingest/format/auditd"
)

// chunker cuts an input into raw messages of many lines. It works on blocks, not lines: for
// formats whose every line is an event of its own it only looks for the last newline that
// fits, so the replay's driver costs next to nothing per line; for auditd logs it asks
// auditd.Boundary about every line, so that a message holds whole events (ingest decodes each
// message on its own). A message is cut anywhere only when its limits hold no such place.
type chunker struct {
	br *bufio.Reader
	// bound, when set, decides where auditd logs may be cut.
	bound *auditd.Boundary
	// maxLines and maxBytes bound a message; a line longer than maxLine is not sent.
	maxLines, maxBytes, maxLine int
	line                        int64 // the number of the next line
	// Boundary has seen the lines of the unread input up to scanned (scannedLines of them);
	// safe is the last place before it where a message may end (safeLines lines), 0: none.
	scanned, scannedLines, safe, safeLines int
	err                                    error // the input's read error, once met
}

// chunk is one raw message's worth of input: data, or the head of a line too long to send.
type chunk struct {
	data  []byte // lines, without the last newline
	first int64  // the number of its first line
	lines int
	// long is set for a line longer than maxLine: its first 64 KiB, for a dead letter, and
	// longSize its length.
	long     []byte
	longSize int
}

// longHead is how much of a line too long to send a dead letter keeps.
const longHead = 64 << 10

// newChunker returns a chunker of br, whose buffer must hold maxBytes+1 bytes.
func newChunker(br *bufio.Reader, auditdLog bool, maxLines, maxBytes, maxLine int) *chunker {
	c := &chunker{br: br, maxLines: maxLines, maxBytes: maxBytes, maxLine: maxLine, line: 1}
	if auditdLog {
		c.bound = &auditd.Boundary{}
	}
	return c
}

// next returns the next chunk, or io.EOF after the last. A chunk's data may be a view of the
// reader's buffer, valid until the next call: the caller copies what it keeps (the replay
// compresses it into a message of its own, see rawdata.Encoder).
func (c *chunker) next() (chunk, error) {
	// One byte more than a message: a newline right after maxBytes still ends a full one.
	buf, err := c.br.Peek(c.maxBytes + 1)
	eof := errors.Is(err, io.EOF)
	if err != nil && !eof && !errors.Is(err, bufio.ErrBufferFull) && c.err == nil {
		c.err = err // a read error (a truncated gzip): the whole lines before it still go first
	}
	if len(buf) == 0 && c.err == nil {
		return chunk{}, io.EOF
	}
	end, lines := c.cut(buf, eof)
	if lines == 0 {
		if c.err != nil {
			return chunk{}, c.err
		}
		return c.longLine()
	}
	data := bytes.TrimSuffix(buf[:end], []byte{'\n'})
	ch := chunk{data: data, first: c.line, lines: lines}
	c.line += int64(lines)
	_, _ = c.br.Discard(end)
	c.scanned, c.scannedLines = c.scanned-end, c.scannedLines-lines
	c.safe, c.safeLines = 0, 0
	return ch, nil
}

// cut finds where the next message ends in buf: after the last whole line within the limits
// or, for auditd, at the last place Boundary allows. eof says buf ends the input, so its last
// line needs no newline. It returns no lines when not even one fits.
func (c *chunker) cut(buf []byte, eof bool) (end, lines int) {
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
				break // a line too long to send ends the message before it (see longLine)
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
			break // a line too long to send ends the message before it (see longLine)
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

// longLine reads a line longer than a message: one of at most maxLine bytes is sent alone;
// of a longer one only the head is kept, for a dead letter.
func (c *chunker) longLine() (chunk, error) {
	ch := chunk{first: c.line, lines: 1}
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
			return chunk{}, err
		}
		break
	}
	if c.bound != nil {
		c.bound.Add(line[:min(len(line), longHead)])
	}
	if size > c.maxLine {
		ch.long, ch.longSize = line[:min(len(line), longHead)], size
		return ch, nil
	}
	ch.data = line
	return ch, nil
}

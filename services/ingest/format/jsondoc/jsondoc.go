// Package jsondoc reads JSON documents however a file lays them out, for the inputs whose
// decoders take one document per line: pretty-printed over many lines (`jq .`, Tetragon's and
// Elastic's published sample events), concatenated with or without newlines, in a JSON array
// (`jq -s`), or as the hits of an Elasticsearch _search response, whose hits.hits[]._source
// are the documents. Each comes out on one line (compact), with the number of the line it
// starts on, so a decoder's reject still names the right line.
//
// NDJSON does not need it, and the inputs keep their fast path for it: Sniff tells, once per
// input from its first bytes, whether an input needs the document reader.
package jsondoc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Doc is one document of the input.
type Doc struct {
	// Line is the number of the line the document starts on (1-based).
	Line int64
	// Data is the document on one line: compact JSON, or for input that is not a JSON
	// document (a syntax error, text between documents) its bytes as they are with newlines
	// as spaces, for the decoder to reject with its reason. Only valid during the callback.
	Data []byte
	// Err says why Data is not a document, when it is not one.
	Err error
	// Size is the document's size when it is longer than the reader's limit: Data then
	// holds only its first bytes.
	Size int
}

// ErrSyntax is wrapped by the Err of input that is not JSON.
var ErrSyntax = errors.New("invalid JSON")

// DefaultMaxDoc is the longest document Each keeps whole unless told otherwise.
const DefaultMaxDoc = 64 << 20

// headBytes is how much of a document longer than the limit Doc.Data keeps.
const headBytes = 64 << 10

// Each reads the documents of r in order and calls fn with each: top-level values, the
// elements of a top-level array, and in place of a _search response its hits' _source (a hit
// without _source as it is). A document longer than maxDoc bytes (0: DefaultMaxDoc) comes with
// its Size and only its head. Each returns the number of lines read, and fn's error or the
// read error that stopped it (the documents before it were given to fn).
func Each(r io.Reader, maxDoc int, fn func(Doc) error) (int64, error) {
	if maxDoc <= 0 {
		maxDoc = DefaultMaxDoc
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<20)
	}
	p := &parser{br: br, maxDoc: maxDoc, fn: fn}
	err := p.run()
	return p.lines, err
}

// parser is a recursive-descent reader of JSON text, line by line. It copies every document
// into out without insignificant white space, and keeps the raw text of the current unit (a
// top-level value, an array element or a hit) for a reject.
type parser struct {
	br     *bufio.Reader
	maxDoc int
	fn     func(Doc) error

	buf   []byte // the current line, without its newline
	i     int    // the next byte of buf
	line  int64  // the number of the line in buf
	lines int64  // lines read
	eof   bool   // no line after buf
	rdErr error  // the read error met, if any

	out  []byte // the current unit, compact
	size int    // its size, counted on past maxDoc
	raw  []byte // the current unit's text of the lines before buf
	// rawFrom is where the unit starts in buf, or 0 once it began on an earlier line.
	rawFrom  int
	unitLine int64
	// search is set once the current top-level value shows itself a _search response: it is
	// not a document, its hits are.
	search bool
	// source is the span of the current hit's _source in out, end 0 when it has none.
	srcStart, srcEnd int
	depth            int
	// resync is set by a reject: reading goes on at the top level, outside any array.
	resync bool
}

// maxDepth bounds nesting, as encoding/json does, so a hostile input cannot exhaust the stack.
const maxDepth = 10000

// fnError carries fn's error out of the recursion.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// syntaxError is a syntax error at a place of the input.
type syntaxError struct {
	line int64
	col  int
	msg  string
	// lineStart is set when the error is at the first byte of its line that is not white
	// space, and that byte may start a document: the broken unit ends before the line.
	lineStart bool
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.line, e.col, e.msg)
}

func (e *syntaxError) Unwrap() error { return ErrSyntax }

// run reads top-level values until the input ends.
func (p *parser) run() error {
	if !p.next() {
		return p.rdErr
	}
	p.buf = bytes.TrimPrefix(p.buf, []byte("\ufeff"))
	for {
		c, ok := p.skipSpace()
		if !ok {
			return p.rdErr
		}
		var err error
		switch c {
		case ',', ']', '}':
			// Separators and closers left between documents (a broken array's) carry nothing.
			p.i++
			continue
		case '[':
			p.i++
			err = p.array()
		case '{':
			err = p.unit(func() error { return p.value(roleTop) })
		default:
			err = p.junk()
		}
		if err != nil {
			var fe *fnError
			if errors.As(err, &fe) {
				return fe.err
			}
			if p.rdErr != nil {
				return p.rdErr
			}
			return err
		}
	}
}

// array reads a top-level array, whose elements are the documents.
func (p *parser) array() error {
	first := true
	for {
		c, ok := p.skipSpace()
		if !ok {
			return nil // the input ends in the array: every element went out
		}
		if c == ']' {
			p.i++
			return nil
		}
		if !first && c != '{' && c != '[' { // a missing comma loses nothing: read on
			if c != ',' {
				return p.unit(func() error { return p.errorf("expected , or ] after an array element, got %q", c) })
			}
			p.i++
			if c, ok = p.skipSpace(); !ok {
				return nil
			}
		}
		first = false
		if err := p.unit(func() error { return p.value(roleTop) }); err != nil || p.resync {
			return err
		}
	}
}

// unit reads one document with read, which starts at the current byte, and gives it to fn;
// a syntax error gives fn the unit's text as a reject instead, and reading goes on after it.
func (p *parser) unit(read func() error) error {
	p.begin()
	err := read()
	var se *syntaxError
	switch {
	case err == nil:
		if !p.search {
			return p.emit(p.out)
		}
		return nil
	case errors.As(err, &se) && p.rdErr == nil:
		return p.reject(se)
	case p.rdErr != nil:
		return p.rdErr // the unit the read error cut is not given to fn
	default:
		return err
	}
}

// begin starts a unit at the current byte.
func (p *parser) begin() {
	p.out, p.raw, p.size = p.out[:0], p.raw[:0], 0
	p.rawFrom, p.unitLine, p.search, p.depth, p.resync = p.i, p.line, false, 0, false
}

// emit gives fn a document of the current unit.
func (p *parser) emit(data []byte) error {
	d := Doc{Line: p.unitLine, Data: data}
	if p.size > p.maxDoc {
		d.Size, d.Data = p.size, data[:min(len(data), headBytes)]
	}
	if err := p.fn(d); err != nil {
		return &fnError{err}
	}
	return nil
}

// reject gives fn the text of a broken unit, up to the end of the line of the error (or up
// to that line, when the line may start the next document), and goes on after it.
func (p *parser) reject(se *syntaxError) error {
	text := p.raw
	if se.lineStart && se.line > p.unitLine {
		p.i = len(p.buf) - len(bytes.TrimLeft(p.buf, " \t\r"))
	} else {
		text = append(text, p.buf[min(p.rawFrom, len(p.buf)):]...)
		p.i = len(p.buf)
	}
	p.resync = true
	text = bytes.TrimRight(text, " \t\r\n")
	for i, b := range text {
		if b == '\n' {
			text[i] = ' '
		}
	}
	p.raw = text[:0]
	p.size = 0
	if err := p.fn(Doc{Line: p.unitLine, Data: text, Err: se}); err != nil {
		return &fnError{err}
	}
	return nil
}

// junk gives fn the rest of a line that holds no document where one should start.
func (p *parser) junk() error {
	err := &syntaxError{line: p.line, col: p.i + 1, msg: "expected a JSON object or array"}
	text := bytes.TrimRight(p.buf[p.i:], " \t\r")
	p.i = len(p.buf)
	if e := p.fn(Doc{Line: p.line, Data: text, Err: err}); e != nil {
		return &fnError{e}
	}
	return nil
}

// next reads the next line into buf; false at the end of the input.
func (p *parser) next() bool {
	if p.eof {
		return false
	}
	p.buf = p.buf[:0]
	for {
		frag, err := p.br.ReadSlice('\n')
		p.buf = append(p.buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			p.eof = true
			if !errors.Is(err, io.EOF) {
				p.rdErr, p.buf, p.i = err, p.buf[:0], 0
				return false // the line the error cut is not read
			}
			if len(p.buf) == 0 {
				return false
			}
		}
		break
	}
	p.buf = bytes.TrimSuffix(p.buf, []byte{'\n'})
	p.i = 0
	p.lines++
	p.line = p.lines
	return true
}

// advance moves to the next line, keeping the unit's text; false at the end of the input.
func (p *parser) advance() bool {
	if p.rawFrom < len(p.buf) {
		p.raw = append(p.raw, p.buf[p.rawFrom:]...)
	}
	p.raw = append(p.raw, '\n')
	p.rawFrom = 0
	if !p.next() {
		p.buf, p.i = p.buf[:0], 0 // the last line is in raw already
		return false
	}
	return true
}

// skipSpace skips white space, across lines, and returns the next byte without taking it.
func (p *parser) skipSpace() (byte, bool) {
	for {
		for p.i < len(p.buf) {
			switch c := p.buf[p.i]; c {
			case ' ', '\t', '\r':
				p.i++
			default:
				return c, true
			}
		}
		if !p.advance() {
			return 0, false
		}
	}
}

func (p *parser) errorf(format string, args ...any) error {
	start := len(p.buf) - len(bytes.TrimLeft(p.buf, " \t\r"))
	lineStart := p.i == start && p.i < len(p.buf) && (p.buf[p.i] == '{' || p.buf[p.i] == '[')
	return &syntaxError{line: p.line, col: p.i + 1, msg: fmt.Sprintf(format, args...), lineStart: lineStart}
}

// put appends document bytes to out, counting those past the limit without keeping them.
func (p *parser) put(b ...byte) {
	p.size += len(b)
	if p.size <= p.maxDoc || len(p.out) < headBytes {
		p.out = append(p.out, b...)
	}
}

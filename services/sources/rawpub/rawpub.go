// Package rawpub builds the raw input messages that live sources (tail, collect, the HTTP
// endpoint) publish on rarenet.raw.<format>: many lines per message, each message naming its
// source and the number of its first line in the headers ingest reads, as `rarenet replay`
// does.
package rawpub

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/stream"
)

// Limits of a raw message, as the replay driver's: many lines per message keeps JetStream's
// per-message cost off the hot path. MaxBytes leaves room for the headers within the 1 MiB
// maximum payload of a default nats-server, so a chunk fits any server; it is also the
// longest line a live source sends in one piece.
const (
	MaxLines = 8192
	MaxBytes = 1000 << 10
)

// Message builds the raw message of data (lines separated by '\n') on the subject of format,
// with source and the number of its first line in the headers.
func Message(formatName, source string, firstLine int64, data []byte) *nats.Msg {
	return BoundMessage(formatName, "", source, firstLine, data)
}

// Subject is the raw subject of input of formatName: rarenet.raw.<format>, or, from a source
// that names itself (sourceName), rarenet.raw.<format>.<source>, the only subject a
// source-bound NATS user may publish on (deploy/nats/accounts.conf). Ingest binds the lines
// of such a subject to the source's host patterns.
func Subject(formatName, sourceName string) string {
	if sourceName == "" {
		return stream.RawSubject(formatName)
	}
	return stream.RawSubject(formatName) + "." + sourceName
}

// BoundMessage is Message on the subject naming sourceName (see Subject). The data of a
// message of many lines is compressed (rawdata): every copy the server makes of it (into the
// stream and its replicas, to disk, out to ingest) then moves several times fewer bytes, which
// costs less CPU than compressing does. The message keeps data itself when it is not.
func BoundMessage(formatName, sourceName, source string, firstLine int64, data []byte) *nats.Msg {
	m := nats.NewMsg(Subject(formatName, sourceName))
	rawdata.Compress(m, data)
	m.Header.Set(control.HeaderSource, source)
	m.Header.Set(control.HeaderLine, strconv.FormatInt(firstLine, 10))
	return m
}

// CheckFormat returns an error wrapping format.ErrUnknownFormat unless name is auto or one of
// the formats ingest decodes: a source that publishes on a subject nobody decodes would only
// fill the dead-letter stream.
func CheckFormat(name string) error {
	if name == format.Auto || slices.Contains(formats.Names(), name) {
		return nil
	}
	return fmt.Errorf("%w: %q (expected auto or one of %q)", format.ErrUnknownFormat, name, formats.Names())
}

// Chunk is a run of consecutive lines of one source, ready to become one raw message.
type Chunk struct {
	// FirstLine is the number of the first line.
	FirstLine int64
	// Lines is the number of lines in Data.
	Lines int
	// Data holds the lines separated by '\n', without a final newline.
	Data []byte
}

// Chunker gathers consecutive lines into chunks of at most MaxLines lines and about MaxBytes
// bytes. The zero value is ready; set Next to the number of the first line to come.
type Chunker struct {
	// Next is the number the next added line gets.
	Next int64
	// SizeHint, when set, is about how many bytes the next chunk will hold: its buffer is
	// made that large (at most MaxBytes) at its first line rather than grown line by line,
	// which copied each chunk several times over and was a seventh of ingest's CPU under the
	// HTTP input's load (docs/performance.md, figure 4).
	SizeHint int
	chunk    Chunk
}

// Add appends a line (without its newline) and reports whether the chunk is full and should
// be taken now.
func (c *Chunker) Add(line []byte) (full bool) {
	if c.chunk.Lines == 0 {
		c.chunk.FirstLine = c.Next
		if c.SizeHint > 0 && cap(c.chunk.Data) == 0 {
			c.chunk.Data = make([]byte, 0, min(c.SizeHint, MaxBytes))
		}
	} else {
		c.chunk.Data = append(c.chunk.Data, '\n')
	}
	c.chunk.Data = append(c.chunk.Data, line...)
	c.chunk.Lines++
	c.Next++
	return c.chunk.Lines >= MaxLines || len(c.chunk.Data) >= MaxBytes
}

// Room reports whether a line of n bytes still fits in the current chunk; when not, take the
// chunk first. An empty chunk takes any line.
func (c *Chunker) Room(n int) bool {
	return c.chunk.Lines == 0 || len(c.chunk.Data)+1+n <= MaxBytes
}

// Len is the number of lines waiting in the current chunk.
func (c *Chunker) Len() int { return c.chunk.Lines }

// Take returns the current chunk and starts a new one; ok is false when it holds no line.
// The returned Data belongs to the caller.
func (c *Chunker) Take() (ch Chunk, ok bool) {
	if c.chunk.Lines == 0 {
		return Chunk{}, false
	}
	ch, c.chunk = c.chunk, Chunk{}
	return ch, true
}

// TakeLines returns the first n lines of the current chunk (all when n covers them) and drops
// the rest, which the caller reads again (a source that cuts between events); Next goes back
// to the first line dropped.
func (c *Chunker) TakeLines(n int) (ch Chunk, ok bool) {
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
	ch = Chunk{FirstLine: c.chunk.FirstLine, Lines: n, Data: c.chunk.Data[:end:end]}
	c.Next = ch.FirstLine + int64(n)
	c.chunk = Chunk{}
	return ch, true
}

// CheckSourceName returns an error unless name is empty or fits one subject token and a token
// file's NAME: letters, digits and _@- only.
func CheckSourceName(name string) error {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '@' || r == '-') {
			return fmt.Errorf("source name %q: want letters, digits and _@- only (it is a subject token and a token file's NAME)", name)
		}
	}
	return nil
}

// Package rawdata compresses and decompresses the data of raw input messages
// (rarenet.raw.<format>), the contract between the sources that publish them and ingest. The
// scorer's partition closes (rarenet.buckets.<p>) use it too, so a close of many values still
// fits the server's max_payload, and so do ingest's event batches (rarenet.events.<p>), which
// a cluster then copies a third as much of.
//
// A raw message of many log lines is compressed with S2 (github.com/klauspost/compress/s2,
// the block format) and marked with the header control.HeaderCompression. Log lines repeat
// most of their bytes: a 1 MiB block of ECS NDJSON or auditd lines shrinks 5 to 13 times, at
// several hundred MB/s each way on one core. Every copy the server makes of a raw message
// (into the stream, to each replica of an R3 stream and to disk, out to ingest) then moves
// that much less, which costs less CPU than the compression does. Messages without the header
// are plain text, so every source and older publisher keeps working.
//
// A raw message can be zstd instead (github.com/klauspost/compress/zstd at its fastest level,
// the same header naming it; Encoder.Codec): about twice S2's ratio on our logs (4 MiB of ECS
// NDJSON 28x against 14x, of auditd 19x against 8x) for about half S2's speed (encode 700-870
// MB/s, decode ~2 GB/s on one core). Every stage decodes it. Raw auditd logs go as zstd, from
// the replay driver and the live sources (rawpub): their lines compress 8x with S2 and 19x
// with zstd, and halving the bytes every replica and disk copy moves paid for zstd's CPU; the
// rest goes as S2, which ECS's 14x leaves little to gain from (docs/performance.md, items 22
// and 28).
package rawdata

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/shared/control"
)

// MinCompress is the smallest data worth compressing: below it the header costs about
// what compression would save.
const MinCompress = 4 << 10

// MaxDecoded bounds the size a raw message may decompress to: a message is at most the
// server's max_payload (64 MiB at most) before compression, so anything larger is not ours.
const MaxDecoded = 64 << 20

// ErrCorrupt is returned for compressed data that does not decompress.
var ErrCorrupt = errors.New("corrupt compressed data")

// ErrTooLarge is returned for compressed data that would decompress past MaxDecoded.
var ErrTooLarge = fmt.Errorf("decompresses to more than %d bytes", MaxDecoded)

// ErrUnknown is returned for a compression this package does not know.
var ErrUnknown = errors.New("unknown compression")

// Compress sets m's data to data, compressed when that pays, and marks it so. Data of
// MinCompress bytes or more goes through a pooled Encoder: compressed into scratch space it
// keeps, the message gets a copy of its size (a message of MaxEncodedLen bytes for each
// compression was several times the data again in garbage for a live source under load).
// m's data never aliases data, so the caller may reuse data at once (the HTTP input's
// buffers) while the message waits for its acknowledgement.
func Compress(m *nats.Msg, data []byte) {
	CompressAs(m, data, S2)
}

// CompressAs is Compress with the codec c.
func CompressAs(m *nats.Msg, data []byte, c Codec) {
	if len(data) < MinCompress {
		m.Data = bytes.Clone(data)
		return
	}
	e := encoders.Get().(*Encoder)
	e.Codec = c
	e.Compress(m, data)
	encoders.Put(e)
}

// encoders keep Compress's scratch space.
var encoders = sync.Pool{New: func() any { return new(Encoder) }}

// Append appends data to dst, S2-compressed when that pays (data of at least MinCompress
// bytes that shrinks), and reports whether it compressed. A publisher that keeps its messages
// in one buffer until they are acknowledged (ingest's event batches) compresses straight into
// it. dst is grown only when it lacks room for MaxAppend(len(data)) more bytes: a caller
// whose earlier messages live in dst makes that room first.
func Append(dst, data []byte) (out []byte, compressed bool) {
	if len(data) < MinCompress {
		return append(dst, data...), false
	}
	n := s2.MaxEncodedLen(len(data))
	if n < 0 {
		return append(dst, data...), false
	}
	start := len(dst)
	dst = slices.Grow(dst, n)
	enc := s2.Encode(dst[start:start+n], data)
	if len(enc) >= len(data) {
		return append(dst[:start], data...), false
	}
	return dst[:start+len(enc)], true
}

// MaxAppend is the most that Append adds to dst for n bytes of data.
func MaxAppend(n int) int {
	if m := s2.MaxEncodedLen(n); m > n {
		return m
	}
	return n
}

// Mark marks m's data as S2-compressed (what Append reported).
func Mark(m *nats.Msg) { mark(m, control.CompressionS2) }

func mark(m *nats.Msg, compression string) {
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.Header.Set(control.HeaderCompression, compression)
}

// Codec is the compression an Encoder uses.
type Codec int

const (
	S2   Codec = iota // S2 block compression (the zero value)
	Zstd              // zstd at its fastest level: about twice the ratio at half the speed
)

// Encoder is Compress for a publisher that reuses its input buffer: the message gets bytes of
// its own (the compressed data, or a copy of data), never data itself, and the encoder's
// scratch space is kept for the next message. A replay compresses every block it reads, and
// allocating s2.MaxEncodedLen for each one was more than the input's size again in garbage.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	Codec   Codec
	scratch []byte
}

// Compress sets m's data to a copy of data, compressed with e's codec when that pays, and
// marks it so.
func (e *Encoder) Compress(m *nats.Msg, data []byte) {
	if e.Codec != Zstd || len(data) < MinCompress {
		out, compressed := Append(e.scratch[:0], data)
		e.scratch = out
		m.Data = bytes.Clone(out)
		if compressed {
			Mark(m)
		}
		return
	}
	// EncodeAll writes the frame's content size, which the decoder checks against MaxDecoded
	// before it allocates.
	e.scratch = zstdEncoder().EncodeAll(data, e.scratch[:0])
	if len(e.scratch) >= len(data) {
		m.Data = bytes.Clone(data)
		return
	}
	m.Data = bytes.Clone(e.scratch)
	mark(m, control.CompressionZstd)
}

// zstdEncoder is shared by every Encoder: EncodeAll is safe for concurrent use and keeps a
// few encoders' state (about a MiB each at the fastest level) for as many callers at once.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		panic(err) // only for invalid options
	}
	return e
})

// zstdDecoder is shared the same way. Its window and memory are bounded by MaxDecoded, so a
// frame that does not declare its size still cannot make it allocate past that.
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithDecoderMaxMemory(MaxDecoded), zstd.WithDecoderMaxWindow(MaxDecoded))
	if err != nil {
		panic(err) // only for invalid options
	}
	return d
})

// Decoder is Data with a buffer it reuses: what it returns is valid until its next call. An
// ingest that is done with a message's text once the message is handled decompresses every
// message into the same memory. A Decoder is not safe for concurrent use.
type Decoder struct{ buf []byte }

// Data is Data, decompressing into the decoder's buffer.
func (d *Decoder) Data(h nats.Header, data []byte) ([]byte, error) {
	return decode(h, data, &d.buf)
}

// Data returns a raw message's data as text: data itself when h names no compression, or
// a new slice the caller owns. It fails on an unknown compression, corrupt data or data that
// would decompress past MaxDecoded, saying which.
func Data(h nats.Header, data []byte) ([]byte, error) {
	return decode(h, data, nil)
}

// decode is Data, into *buf when buf is not nil (grown as needed).
func decode(h nats.Header, data []byte, buf *[]byte) ([]byte, error) {
	switch c := h.Get(control.HeaderCompression); c {
	case "":
		return data, nil
	case control.CompressionS2:
		n, err := s2.DecodedLen(data)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", control.HeaderCompression, c, ErrCorrupt)
		}
		if n > MaxDecoded {
			return nil, fmt.Errorf("%s %s: %w", control.HeaderCompression, c, ErrTooLarge)
		}
		var dst []byte
		if buf != nil {
			if cap(*buf) < n {
				*buf = make([]byte, n)
			}
			dst = (*buf)[:n]
		} else {
			dst = make([]byte, n)
		}
		out, err := s2.Decode(dst, data)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", control.HeaderCompression, c, ErrCorrupt)
		}
		return out, nil
	case control.CompressionZstd:
		var fh zstd.Header
		if err := fh.Decode(data); err != nil {
			return nil, fmt.Errorf("%s %s: %w", control.HeaderCompression, c, ErrCorrupt)
		}
		if fh.HasFCS && fh.FrameContentSize > MaxDecoded {
			return nil, fmt.Errorf("%s %s: %w", control.HeaderCompression, c, ErrTooLarge)
		}
		var dst []byte
		if buf != nil {
			dst = (*buf)[:0]
		}
		if fh.HasFCS && uint64(cap(dst)) < fh.FrameContentSize {
			dst = make([]byte, 0, fh.FrameContentSize)
		}
		out, err := zstdDecoder().DecodeAll(data, dst)
		switch {
		case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
			return nil, fmt.Errorf("%s %s: %w", control.HeaderCompression, c, ErrTooLarge)
		case err != nil:
			return nil, fmt.Errorf("%s %s: %w", control.HeaderCompression, c, ErrCorrupt)
		}
		if buf != nil {
			*buf = out
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s %q: %w (want %q, %q or none)", control.HeaderCompression, c, ErrUnknown,
			control.CompressionS2, control.CompressionZstd)
	}
}

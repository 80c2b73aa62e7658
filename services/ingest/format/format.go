// Package format holds the input decoders of the ingest stage and the contract they share:
// lines of one source go in, in order, and normalized network events or rejects come out.
package format

import (
	"bytes"
	"errors"

	"github.com/rarenet/rarenet/shared/event"
)

// Names of the supported input formats, as used in --format and in the raw subject
// (rarenet.raw.<format>).
const (
	Auto     = "auto"
	ECS      = "ecs"
	Auditd   = "auditd"
	Sysmon   = "sysmon"
	Tetragon = "tetragon"
	Osquery  = "osquery"
	Falco    = "falco"
)

// Line is one line of input with its position, for messages that name file and line.
type Line struct {
	Source string // file name, "-" for stdin, or the publisher's source id
	Num    int64  // 1-based line number within Source
	Data   []byte // the line without its trailing newline; only valid during Decode
}

// Result is what a decoder makes of its input: an event, or a reject with its reason.
// Raw holds the original bytes of every line that made up the event or the reject, so a
// dead letter can carry them unchanged.
type Result struct {
	Event  *event.Event
	Err    error
	Source string
	Line   int64 // the first line of the event or reject
	Raw    []byte
	// Format names the decoder that made the result; Decoding fills it in.
	Format string
}

// Clone returns a copy of r that stays valid after the Emit call that delivered r.
func (r Result) Clone() Result {
	if r.Event != nil {
		r.Event = r.Event.Clone()
	}
	r.Raw = bytes.Clone(r.Raw)
	return r
}

// Emit receives results. A decoder may call it several times per line (never with a Result
// whose Event and Err are both nil).
//
// A Result is only valid during the call: to keep the hot path free of allocations, a
// decoder may reuse its Event (and the Event's slices) and its Raw bytes (which may alias
// the input line) once Emit returns. A receiver that keeps either copies it (Result.Clone).
// Strings are immutable and may be kept as they are.
type Emit func(Result)

// Decoder turns lines of one source into results. Decoders are stateful (auditd events span
// several lines) and not safe for concurrent use: keep one per source.
type Decoder interface {
	// Decode takes the next line of the source.
	Decode(l Line, emit Emit)
	// Flush emits whatever is still pending, at the end of the input.
	Flush(emit Emit)
}

// ErrMalformed is wrapped by every reject caused by input that does not parse.
var ErrMalformed = errors.New("malformed input")

// ErrUnknownFormat is returned when a format name is not one of the supported ones.
var ErrUnknownFormat = errors.New("unknown input format")

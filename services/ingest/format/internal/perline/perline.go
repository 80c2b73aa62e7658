// Package perline is the common shape of decoders whose every input line stands alone (one
// JSON document or one syslog line): trim, skip blank lines, parse, and turn the parse's
// events or error into Results that carry the source, the line and a copy of the bytes.
package perline

import (
	"bytes"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// Parse turns one non-blank line into events appended to dst. A line may hold no event of
// interest (another Sysmon EventID, a Tetragon process_exec), one, or many (an osquery
// snapshot); an error rejects the whole line.
type Parse func(data []byte, dst []*event.Event) ([]*event.Event, error)

// Decoder adapts a Parse to format.Decoder. It keeps no state between lines but a scratch
// slice, so keep one per source like every decoder.
type Decoder struct {
	format  string
	module  string
	dataset string
	parse   Parse
	scratch []*event.Event
}

var _ format.Decoder = (*Decoder)(nil)

// New returns a Decoder for the named format. Every event gets Origin, event.module and
// event.dataset (when parse left them empty) set here, so the decoders cannot forget them.
func New(formatName, module, dataset string, parse Parse) *Decoder {
	return &Decoder{format: formatName, module: module, dataset: dataset, parse: parse}
}

// Decode parses one line and emits its events, or one reject for the whole line.
func (d *Decoder) Decode(l format.Line, emit format.Emit) {
	data := bytes.TrimSpace(l.Data)
	if len(data) == 0 {
		return
	}
	evs, err := d.parse(data, d.scratch[:0])
	if err != nil {
		emit(format.Result{Err: err, Source: l.Source, Line: l.Num, Raw: bytes.Clone(l.Data)})
		d.release(evs)
		return
	}
	for _, ev := range evs {
		ev.Origin = event.Origin{Source: l.Source, Line: l.Num, Format: d.format}
		if ev.Event.Module == "" {
			ev.Event.Module = d.module
		}
		if ev.Event.Dataset == "" {
			ev.Event.Dataset = d.dataset
		}
		// Each Result owns its bytes (format.Emit), even when one line holds many events.
		emit(format.Result{Event: ev, Source: l.Source, Line: l.Num, Raw: bytes.Clone(l.Data)})
	}
	d.release(evs)
}

// release keeps the slice for the next line without holding on to the emitted events.
func (d *Decoder) release(evs []*event.Event) {
	clear(evs)
	d.scratch = evs[:0]
}

// Flush does nothing: no event spans lines.
func (d *Decoder) Flush(format.Emit) {}

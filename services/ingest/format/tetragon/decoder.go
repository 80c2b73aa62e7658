// Package tetragon decodes Cilium Tetragon's JSON export (tetragon.log or `tetra getevents
// -o json`), one event per line, into normalized events.
//
// Two event kinds are connects: the legacy process_connect event of Tetragon's early
// releases, and process_kprobe events of a TracingPolicy hooking tcp_connect, whose first
// argument is a sock_arg holding both endpoints. Every other kind (process_exec,
// process_exit, kprobes on other functions, ...) is skipped without a reject.
package tetragon

import (
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/field"
	"github.com/rarenet/rarenet/services/ingest/format/internal/perline"
	"github.com/rarenet/rarenet/shared/event"
)

// Decoder decodes Tetragon JSON lines; it implements format.Decoder.
type Decoder struct{ *perline.Decoder }

var _ format.Decoder = Decoder{}

// New returns a Decoder.
func New() Decoder {
	return Decoder{perline.New(format.Tetragon, "tetragon", "tetragon.network", parse)}
}

// parse decodes one exported event.
func parse(data []byte, dst []*event.Event) ([]*event.Event, error) {
	var env envelope
	if err := field.Unmarshal(data, &env); err != nil {
		return dst, err
	}
	ev, err := env.event()
	if err != nil || ev == nil {
		return dst, err
	}
	return append(dst, ev), nil
}

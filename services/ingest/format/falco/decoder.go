// Package falco decodes Falco's JSON alerts (json_output: true, from stdout, a file output
// or Falcosidekick), one alert per line, into normalized events.
//
// An alert is a connect when its output_fields carry one: evt.type is connect, or evt.type
// is absent (the rule's output did not name it) and fd.sip, fd.rip or fd.sport is present.
// Every other alert (file opens, execs, inbound accepts) is skipped without a reject. Only
// the fields the rule's output names are in output_fields, so the event holds what the rule
// chose to print.
package falco

import (
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/field"
	"github.com/rarenet/rarenet/services/ingest/format/internal/perline"
	"github.com/rarenet/rarenet/shared/event"
)

// Decoder decodes Falco JSON alerts; it implements format.Decoder.
type Decoder struct{ *perline.Decoder }

var _ format.Decoder = Decoder{}

// New returns a Decoder.
func New() Decoder {
	return Decoder{perline.New(format.Falco, "falco", "falco.alerts", parse)}
}

// alert is one Falco alert. output_fields keeps Falco's dotted field names; values are
// field.Values because Falco writes null for fields it could not resolve (<NA>).
type alert struct {
	Output       string                 `json:"output"`
	Priority     string                 `json:"priority"`
	Rule         string                 `json:"rule"`
	Time         string                 `json:"time"`
	Hostname     string                 `json:"hostname"`
	OutputFields map[string]field.Value `json:"output_fields"`
}

// parse decodes one alert.
func parse(data []byte, dst []*event.Event) ([]*event.Event, error) {
	var a alert
	if err := field.Unmarshal(data, &a); err != nil {
		return dst, err
	}
	ev, err := a.event()
	if err != nil || ev == nil {
		return dst, err
	}
	return append(dst, ev), nil
}

// Package sysmon decodes Sysmon for Linux's network connect events (EventID 3) into
// normalized events.
//
// Sysmon for Linux writes each event as one XML <Event> element to syslog. The decoder takes
// the element alone on a line, inside a syslog line (whatever text comes before "<Event"), or
// wrapped in an NDJSON row that holds it in a string field, as log workspaces export it
// (Azure Monitor's Syslog table puts it in SyslogMessage).
//
// Only outbound connects are events: EventID 3 with Initiated=true. Inbound connections
// (Initiated=false) and every other EventID are not network activity of the process and are
// skipped without a reject; a line that holds no <Event> element, or one that does not
// parse, is rejected.
package sysmon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/perline"
	"github.com/rarenet/rarenet/shared/event"
)

// Decoder decodes Sysmon for Linux lines; it implements format.Decoder.
type Decoder struct{ *perline.Decoder }

var _ format.Decoder = Decoder{}

// New returns a Decoder.
func New() Decoder {
	return Decoder{perline.New(format.Sysmon, "sysmon", "sysmon.network", parse)}
}

// messageKeys are the fields of an NDJSON row that may hold the XML, in the order they are
// tried: Azure Monitor's Syslog table, then the usual names of shippers (Filebeat, Vector,
// Fluent Bit, journald's export).
var messageKeys = []string{"SyslogMessage", "message", "Message", "MESSAGE", "log", "msg"}

// parse decodes one line: an NDJSON row when it starts with '{', else text holding the XML.
func parse(data []byte, dst []*event.Event) ([]*event.Event, error) {
	xmlText := data
	if data[0] == '{' {
		msg, err := rowMessage(data)
		if err != nil {
			return dst, err
		}
		xmlText = []byte(msg)
	}
	i := bytes.Index(xmlText, []byte("<Event"))
	if i < 0 {
		return dst, fmt.Errorf("%w: expected a Sysmon <Event> XML element, found none", format.ErrMalformed)
	}
	ev, err := decodeEvent(xmlText[i:])
	if err != nil || ev == nil {
		return dst, err
	}
	return append(dst, ev), nil
}

// rowMessage returns the string field of an NDJSON row that holds the XML.
func rowMessage(data []byte) (string, error) {
	var row map[string]json.RawMessage
	if err := json.Unmarshal(data, &row); err != nil {
		return "", fmt.Errorf("%w: expected a JSON object, got invalid JSON: %v", format.ErrMalformed, err)
	}
	for _, k := range messageKeys {
		raw, ok := row[k]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: %s: expected a string holding a Sysmon <Event> XML element, got %s", format.ErrMalformed, k, jsonKind(raw))
		}
		if strings.Contains(s, "<Event") {
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: expected a Sysmon <Event> XML element in one of the fields %s, found none", format.ErrMalformed, strings.Join(messageKeys, ", "))
}

// jsonKind names the JSON type of a raw value for an error message.
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

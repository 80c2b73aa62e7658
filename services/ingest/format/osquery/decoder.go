// Package osquery decodes osquery's result logs (osqueryd.results.log, or the same JSON from
// a TLS or Kafka logger), one JSON result per line, into normalized events.
//
// A result holds rows of one scheduled query in one of three shapes: event format
// ({"columns":{...},"action":"added"}, one row), batch format ({"diffResults":{"added":
// [...],"removed":[...]}}) and snapshot format ({"snapshot":[...]}). Added and snapshot
// rows are read; removed rows are sockets that went away and are skipped.
//
// Which table a row comes from is told by its columns, not the query name, which is the
// operator's choice: a row with remote_address, remote_port and pid is a socket row; with an
// action column too it is socket_events (only action "connect" is an event: bind and accept
// are not outbound), without it process_open_sockets (LISTEN sockets are skipped). Rows of
// any other query are skipped. Columns of the processes table joined in (name, cmdline,
// cwd, uid, username, parent) are used when present.
package osquery

import (
	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/field"
	"github.com/rarenet/rarenet/services/ingest/format/internal/perline"
	"github.com/rarenet/rarenet/shared/event"
)

// Decoder decodes osquery result log lines; it implements format.Decoder.
type Decoder struct{ *perline.Decoder }

var _ format.Decoder = Decoder{}

// New returns a Decoder.
func New() Decoder {
	return Decoder{perline.New(format.Osquery, "osquery", "osquery.result", parse)}
}

// parse decodes one result line into an event per socket row.
func parse(data []byte, dst []*event.Event) ([]*event.Event, error) {
	var res result
	if err := field.Unmarshal(data, &res); err != nil {
		return dst, err
	}
	return res.events(dst)
}

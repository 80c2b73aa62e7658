// Package ecs decodes Elastic Common Schema documents, one JSON object per line, as
// Auditbeat, Auditd Manager and Elastic Defend write them (or as an export of their indices
// holds them), into normalized events.
//
// Fields may be nested objects ({"process":{"name":"curl"}}), dotted keys
// ({"process.name":"curl"}) or a mix, as Elasticsearch accepts all three. A document may
// also come wrapped as a search hit or bulk item, under "_source". The action lines of an
// Elasticsearch bulk body ({"index":{...}} or {"create":{...}} before each document, as
// Beats send them) are skipped, so a captured bulk request reads as its documents.
package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// Decoder decodes ECS NDJSON. Every line is a document of its own, so it keeps no state
// between lines; it implements format.Decoder.
type Decoder struct{}

var _ format.Decoder = (*Decoder)(nil)

// New returns a Decoder.
func New() *Decoder { return &Decoder{} }

// Decode decodes one line: an event, a reject, or nothing for a blank line. A document
// without process.name is still an event; the datafeed filter decides about it later.
func (d *Decoder) Decode(l format.Line, emit format.Emit) {
	data := bytes.TrimSpace(l.Data)
	if len(data) == 0 {
		return
	}
	res := format.Result{Source: l.Source, Line: l.Num, Raw: bytes.Clone(l.Data)}
	ev, err := decode(data)
	if ev == nil && err == nil {
		return // a bulk action line
	}
	if err != nil {
		res.Err = err
	} else {
		ev.Origin = event.Origin{Source: l.Source, Line: l.Num, Format: format.ECS}
		res.Event = ev
	}
	emit(res)
}

// Flush does nothing: no document spans lines.
func (d *Decoder) Flush(format.Emit) {}

// decode parses one JSON document into an event; nil without error for a bulk action line.
func decode(data []byte) (*event.Event, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: expected a JSON object, got invalid JSON: %v", format.ErrMalformed, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: expected a JSON object, got %s", format.ErrMalformed, describe(v))
	}
	if isBulkAction(m) {
		return nil, nil
	}
	if src, ok := m["_source"]; ok {
		if m, ok = src.(map[string]any); !ok {
			return nil, fmt.Errorf("%w: _source: expected a JSON object, got %s", format.ErrMalformed, describe(src))
		}
	}
	return toEvent(doc{m: m})
}

// isBulkAction reports whether m is the action line of a bulk request: one key, index or
// create, holding the target's metadata. No ECS document has that shape (it would lack
// @timestamp and be rejected anyway).
func isBulkAction(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for _, k := range []string{"index", "create"} {
		if _, ok := m[k].(map[string]any); ok {
			return true
		}
	}
	return false
}

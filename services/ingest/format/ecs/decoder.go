// Package ecs decodes Elastic Common Schema documents, one JSON object per line, as
// Auditbeat, Auditd Manager and Elastic Defend write them (or as an export of their indices
// holds them), into normalized events.
//
// Fields may be nested objects ({"process":{"name":"curl"}}), dotted keys
// ({"process.name":"curl"}) or a mix, as Elasticsearch accepts all three. A document may
// also come wrapped as a search hit or bulk item, under "_source". The action lines of an
// Elasticsearch bulk body ({"index":{...}} or {"create":{...}} before each document, as
// Beats send them) are skipped, so a captured bulk request reads as its documents.
//
// # Design
//
// The decoder is on the hot path of every replay, so it parses with
// github.com/valyala/fastjson: a reusable Parser that builds the document's tree, in one
// pass, in memory it keeps, so a warm decoder allocates nothing. Measured on our documents
// (BenchmarkLibraries) it read the fields faster than encoding/json into a map (what this
// package first did) or into structs, goccy/go-json into either, and jsonparser's path
// lookups. Struct decoders also allocate per document and cannot express dotted keys and
// mixes (and they match keys case-insensitively, which a map lookup does not); jsonparser
// sees only nested paths and rescans a nested object for each level.
//
// The decoder accepts and rejects exactly the documents encoding/json did (a differential
// test against the first decoder, kept in reference_test.go, checks it). fastjson's parser
// is laxer than JSON inside strings (raw control characters, bad escapes) and numbers (NaN,
// leading zeros), so a line with a control character is validated by encoding/json and one
// with a backslash by fastjson.Validate (which misses control characters before an escape),
// and every number in the document is checked against JSON's grammar and float64's range
// (encoding/json into a map fails the whole document on one out of range). Those lines are
// rare; the others are parsed at once. One difference remains: a value nested in
// fastjson.MaxDepth (300) arrays or objects is rejected, where encoding/json allowed 10000.
//
// One walk over the tree picks each field's value (walk.go). Keys are resolved against a
// tree of the field names' segments (fields.go), so a dotted key, nested objects and any
// mix reach the same field, and each spelling found is ranked by the rule lookup has always
// had: the whole key wins over nested objects, shorter prefixes over longer ones, JSON null
// counts as absent, and a repeated key's last value wins (a document that repeats a key
// leading to a field is walked again, last member first). Strings come from the raw JSON
// text, decoded as encoding/json decodes them.
//
// The decoder reuses its event, the event's slices and its parser after Emit returns (see
// format.Emit). The strings it puts in the event are new or interned, never views of a
// reused buffer, so receivers may keep them: repeated values (hosts, users, processes,
// executables, working directories, IPs, args, event.* words) come from a per-decoder
// table (intern.go) that grows with the values a source shows, to at most maxInternSlots
// strings, so a steady stream decodes without allocating and a decoder's memory stays
// bounded whatever the input.
package ecs

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/valyala/fastjson"
)

// Decoder decodes ECS NDJSON. Every line is a document of its own, so it keeps no state
// between lines apart from reused buffers and interned strings; it implements
// format.Decoder.
type Decoder struct {
	p fastjson.Parser
	m mapper
}

var _ format.Decoder = (*Decoder)(nil)

// New returns a Decoder.
func New() *Decoder { return &Decoder{m: mapper{in: newInterner()}} }

// Decode decodes one line: an event, a reject, or nothing for a blank line. A document
// without process.name is still an event; the datafeed filter decides about it later.
// The result's Event and Raw (the line itself) are only valid during emit.
func (d *Decoder) Decode(l format.Line, emit format.Emit) {
	data := bytes.TrimSpace(l.Data)
	if len(data) == 0 {
		return
	}
	ev, err := d.decode(data)
	if ev == nil && err == nil {
		return // a bulk action line
	}
	res := format.Result{Source: l.Source, Line: l.Num, Raw: l.Data}
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

// decode parses one JSON document into the decoder's event; nil without error for a bulk
// action line.
func (d *Decoder) decode(data []byte) (*event.Event, error) {
	control, high := scan(data)
	backslash := bytes.IndexByte(data, '\\') >= 0
	if err := validate(data, control, backslash); err != nil {
		return nil, invalidJSON(err)
	}
	d.m.w.plain = !backslash && !high
	bulk, err := d.walk(data, false)
	if err == nil && d.m.w.repeated {
		// Walk a fresh tree: the first walk may have unescaped strings in place.
		bulk, err = d.walk(data, true)
	}
	switch {
	case err != nil:
		return nil, err
	case len(d.m.w.bad) > 0:
		return nil, badNumber(d.m.w.bad)
	case bulk:
		return nil, nil
	}
	return d.m.toEvent()
}

// walk parses data and walks it, carefully (see walker.object) or not. It reports a bulk
// action line, and rejects a document (or _source) that is not an object.
func (d *Decoder) walk(data []byte, careful bool) (bulk bool, err error) {
	root, err := d.p.ParseBytes(data)
	if err != nil {
		return false, invalidJSON(err)
	}
	w := &d.m.w
	w.reset()
	obj := root.GetObject()
	if obj == nil {
		return false, w.notObject(root, "")
	}
	base := w.members(obj)
	if w.isBulkAction(base) {
		w.check(root)
		w.kvs = w.kvs[:base]
		return true, nil
	}
	if src := w.source(base); src != nil {
		if obj = src.GetObject(); obj == nil {
			return false, w.notObject(src, "_source: ")
		}
		base = w.members(obj)
	}
	w.object(base, 0, 0, careful)
	return false, nil
}

// isBulkAction reports whether the object w.kvs[base:] is the action line of a bulk
// request: one key, index or create, holding the target's metadata. No ECS document has
// that shape (it would lack @timestamp and be rejected anyway).
func (w *walker) isBulkAction(base int) bool {
	kvs := w.kvs[base:]
	if len(kvs) == 0 {
		return false
	}
	key := kvs[0].key
	if string(key) != "index" && string(key) != "create" {
		return false
	}
	for _, m := range kvs[1:] {
		if !bytes.Equal(m.key, key) {
			return false
		}
	}
	return kvs[len(kvs)-1].v.GetObject() != nil
}

// source returns the (last) _source member of the object w.kvs[base:], after checking the
// numbers of the others, and pops the members; nil without one (the members stay).
func (w *walker) source(base int) *fastjson.Value {
	last := -1
	for i := len(w.kvs) - 1; i >= base; i-- {
		if string(w.kvs[i].key) == "_source" {
			last = i
			break
		}
	}
	if last < 0 {
		return nil
	}
	src := w.kvs[last].v
	for i := base; i < len(w.kvs); i++ {
		if i != last {
			w.check(w.kvs[i].v)
		}
	}
	w.kvs = w.kvs[:base]
	return src
}

// notObject is the reject of a document, or of its _source, that is not an object.
func (w *walker) notObject(v *fastjson.Value, prefix string) error {
	w.num = w.num[:0]
	switch k, raw := scalar(v, &w.num, false); k {
	case kindNumber:
		w.number(raw)
	case kindArray:
		w.check(v)
	}
	if len(w.bad) > 0 {
		return badNumber(w.bad)
	}
	return fmt.Errorf("%w: %sexpected a JSON object, got %s", format.ErrMalformed, prefix, describe(v))
}

func invalidJSON(err error) error {
	return fmt.Errorf("%w: expected a JSON object, got invalid JSON: %v", format.ErrMalformed, err)
}

func badNumber(raw []byte) error {
	what := "out of float64's range"
	if !jsonNumber(raw) {
		what = "not a JSON number"
	}
	return fmt.Errorf("%w: expected a JSON object, got invalid JSON: %s is %s", format.ErrMalformed, raw, what)
}

// validate checks the lines fastjson's parser would take although JSON does not: strings
// with bad escapes or raw control characters. Only a line with a backslash or a control
// character can hold one, so nearly all lines go straight to the parser. A line with a
// backslash is checked by fastjson.Validate; one with a control character by encoding/json,
// as fastjson.Validate misses a control character that comes before an escape in the same
// string.
func validate(b []byte, control, backslash bool) error {
	if control {
		var raw json.RawMessage
		return json.Unmarshal(b, &raw)
	}
	if backslash {
		return fastjson.ValidateBytes(b)
	}
	return nil
}

// scan reports whether b holds a byte below 0x20 and whether it holds one above 0x7f,
// eight bytes at a time: a word x has a byte below 0x20 iff
// (x - 0x2020...20) & ^x & 0x8080...80 is not zero.
func scan(b []byte) (control, high bool) {
	const ones, highs = 0x2020202020202020, 0x8080808080808080
	var c, h uint64
	for ; len(b) >= 8; b = b[8:] {
		x := binary.LittleEndian.Uint64(b)
		c |= (x - ones) &^ x & highs
		h |= x & highs
	}
	for _, x := range b {
		control = control || x < 0x20
		high = high || x > 0x7f
	}
	return control || c != 0, high || h != 0
}

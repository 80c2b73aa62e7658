package ecs

// The reference decoder: rarenet's first ECS decoder, which unmarshalled each line into
// map[string]any with encoding/json and looked fields up in the map. It is kept verbatim
// (names prefixed ref, apart from lookup, which TestLookup checks) as the oracle of the
// differential tests: the typed decoder must make the same events and the same
// accept/reject decisions.

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// decode parses one JSON document into an event; nil without error for a bulk action line.
func refDecode(data []byte) (*event.Event, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: expected a JSON object, got invalid JSON: %v", format.ErrMalformed, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: expected a JSON object, got %s", format.ErrMalformed, refDescribe(v))
	}
	if refIsBulkAction(m) {
		return nil, nil
	}
	if src, ok := m["_source"]; ok {
		if m, ok = src.(map[string]any); !ok {
			return nil, fmt.Errorf("%w: _source: expected a JSON object, got %s", format.ErrMalformed, refDescribe(src))
		}
	}
	return refToEvent(refDoc{m: m})
}

// isBulkAction reports whether m is the action line of a bulk request: one key, index or
// create, holding the target's metadata. No ECS document has that shape (it would lack
// @timestamp and be rejected anyway).
func refIsBulkAction(m map[string]any) bool {
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

// doc reads typed ECS fields from a decoded JSON object and keeps the first type error, so
// the mapping reads as a list of fields.
type refDoc struct {
	m   map[string]any
	err error
}

// lookup finds a field by its dotted ECS name in a document that may spell it as a dotted
// key, as nested objects, or a mix. The whole key wins over nested objects and shorter
// prefixes over longer ones, so the choice never depends on map order. JSON null counts as
// absent.
func lookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok && v != nil {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v, ok := lookup(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// fail records the first type error.
func (d *refDoc) fail(path, expected string, got any) {
	if d.err == nil {
		d.err = refFieldError(path, expected, got)
	}
}

// str reads a keyword field. Elasticsearch indexes numbers and booleans given for a keyword
// as their text, and a one-element array as its element, so those are accepted too.
func (d *refDoc) str(path string) string {
	v, ok := lookup(d.m, path)
	if !ok {
		return ""
	}
	if a, isArray := v.([]any); isArray && len(a) == 1 {
		v = a[0]
	}
	if s, ok := refScalarText(v); ok {
		return s
	}
	d.fail(path, "a string", v)
	return ""
}

// strs reads a keyword field that may hold one value or an array of them.
func (d *refDoc) strs(path string) []string {
	v, ok := lookup(d.m, path)
	if !ok {
		return nil
	}
	a, isArray := v.([]any)
	if !isArray {
		a = []any{v}
	}
	out := make([]string, 0, len(a))
	for _, e := range a {
		if e == nil {
			continue
		}
		s, ok := refScalarText(e)
		if !ok {
			d.fail(path, "a string or an array of strings", v)
			return nil
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// integer reads a whole-number field within [lo, hi]. A numeric string is accepted, as
// Elasticsearch coerces it for long fields.
func (d *refDoc) integer(path, expected string, lo, hi int64) int64 {
	v, ok := lookup(d.m, path)
	if !ok {
		return 0
	}
	if a, isArray := v.([]any); isArray && len(a) == 1 {
		v = a[0]
	}
	var n int64
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || x < float64(lo) || x > float64(hi) {
			d.fail(path, expected, v)
			return 0
		}
		n = int64(x)
	case string:
		var err error
		if n, err = strconv.ParseInt(x, 10, 64); err != nil || n < lo || n > hi {
			d.fail(path, expected, v)
			return 0
		}
	default:
		d.fail(path, expected, v)
		return 0
	}
	return n
}

// scalarText returns the text of a JSON string, number or boolean.
func refScalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// describe names a JSON value for an error message.
func refDescribe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		const max = 80
		if len(x) > max {
			x = x[:max] + "..."
		}
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	s, _ := refScalarText(v)
	return s
}

func refFieldError(path, expected string, got any) error {
	return fmt.Errorf("%w: %s: expected %s, got %s", format.ErrMalformed, path, expected, refDescribe(got))
}

// Ranges of the numeric fields; Linux's pid_t is a 32-bit int.
const (
	refMaxPort = 65535
	refMaxPID  = math.MaxInt32
)

// toEvent maps the ECS fields the detection uses; everything else is ignored.
func refToEvent(d refDoc) (*event.Event, error) {
	ts, err := refTimestamp(d.m)
	if err != nil {
		return nil, err
	}
	const port, pid = "a port number (0-65535)", "a non-negative integer"
	ev := &event.Event{
		Timestamp: ts,
		Event: event.Meta{
			Kind:     d.str("event.kind"),
			Category: d.strs("event.category"),
			Type:     d.strs("event.type"),
			Action:   d.str("event.action"),
			Outcome:  d.str("event.outcome"),
			Module:   d.str("event.module"),
			Dataset:  d.str("event.dataset"),
		},
		Agent: event.Agent{Type: d.str("agent.type")},
		Host: event.Host{
			Name: d.str("host.name"),
			ID:   d.str("host.id"),
			OS:   event.OS{Type: d.str("host.os.type"), Family: d.str("host.os.family")},
		},
		Process: event.Process{
			Name:             d.str("process.name"),
			PID:              d.integer("process.pid", pid, 0, refMaxPID),
			Executable:       d.str("process.executable"),
			Args:             d.strs("process.args"),
			Title:            d.str("process.title"),
			WorkingDirectory: d.str("process.working_directory"),
			Parent:           event.Parent{PID: d.integer("process.parent.pid", pid, 0, refMaxPID)},
		},
		User: event.User{Name: d.str("user.name"), ID: d.str("user.id")},
		Source: event.Endpoint{
			IP:   d.str("source.ip"),
			Port: int(d.integer("source.port", port, 0, refMaxPort)),
		},
		Destination: event.Endpoint{
			IP:   d.str("destination.ip"),
			Port: int(d.integer("destination.port", port, 0, refMaxPort)),
		},
		Network: event.Network{
			Type:      d.str("network.type"),
			Transport: d.str("network.transport"),
			Direction: d.str("network.direction"),
		},
	}
	if ev.Process.Parent.PID == 0 {
		// Auditbeat 7.x wrote the parent's pid as process.ppid.
		ev.Process.Parent.PID = d.integer("process.ppid", pid, 0, refMaxPID)
	}
	if d.err != nil {
		return nil, d.err
	}
	return ev, nil
}

const refTimestampExpected = "RFC 3339 time or epoch milliseconds"

// timestamp reads @timestamp the ways Elasticsearch's default date format accepts it: an
// RFC 3339 string (the zone may be left out, meaning UTC) or epoch milliseconds, as a
// number or a string of digits.
func refTimestamp(m map[string]any) (time.Time, error) {
	v, ok := m["@timestamp"]
	if !ok || v == nil {
		return time.Time{}, fmt.Errorf("%w: @timestamp: expected %s, got nothing", format.ErrMalformed, refTimestampExpected)
	}
	switch x := v.(type) {
	case float64:
		if t, ok := refEpochMillis(x); ok {
			return t, nil
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC(), nil
		}
		if t, err := time.Parse("2006-01-02T15:04:05.999999999", x); err == nil {
			return t, nil
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil && refIsDigits(x) {
			if t, ok := refEpochMillis(f); ok {
				return t, nil
			}
		}
	}
	return time.Time{}, refFieldError("@timestamp", refTimestampExpected, v)
}

// epochMillis converts milliseconds since the epoch, refusing values time cannot hold.
func refEpochMillis(ms float64) (time.Time, bool) {
	const limit = 1 << 53 // beyond this float64 milliseconds are no longer exact
	if math.IsNaN(ms) || ms < -limit || ms > limit {
		return time.Time{}, false
	}
	whole := math.Floor(ms)
	nanos := int64((ms - whole) * 1e6)
	return time.UnixMilli(int64(whole)).Add(time.Duration(nanos)).UTC(), true
}

func refIsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

package ecs

import (
	"fmt"
	"math"
	"strconv"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// doc reads typed ECS fields from a decoded JSON object and keeps the first type error, so
// the mapping reads as a list of fields.
type doc struct {
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
func (d *doc) fail(path, expected string, got any) {
	if d.err == nil {
		d.err = fieldError(path, expected, got)
	}
}

// str reads a keyword field. Elasticsearch indexes numbers and booleans given for a keyword
// as their text, and a one-element array as its element, so those are accepted too.
func (d *doc) str(path string) string {
	v, ok := lookup(d.m, path)
	if !ok {
		return ""
	}
	if a, isArray := v.([]any); isArray && len(a) == 1 {
		v = a[0]
	}
	if s, ok := scalarText(v); ok {
		return s
	}
	d.fail(path, "a string", v)
	return ""
}

// strs reads a keyword field that may hold one value or an array of them.
func (d *doc) strs(path string) []string {
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
		s, ok := scalarText(e)
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
func (d *doc) integer(path, expected string, lo, hi int64) int64 {
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
func scalarText(v any) (string, bool) {
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
func describe(v any) string {
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
	s, _ := scalarText(v)
	return s
}

func fieldError(path, expected string, got any) error {
	return fmt.Errorf("%w: %s: expected %s, got %s", format.ErrMalformed, path, expected, describe(got))
}

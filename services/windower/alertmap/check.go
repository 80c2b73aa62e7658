package alertmap

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// rarenetPrefix is where rarenet's own fields live, outside Kibana's maps by design.
const rarenetPrefix = "rarenet"

// Map is a field map to check documents against.
type Map struct {
	fields      map[string]Field
	parents     map[string]bool // names with fields below them
	conditional []string
}

// New8x is the map of Kibana's 8.x security alert.
func New8x() *Map { return newMap(Fields8x(), conditional8x) }

// New7x is the map of Kibana's 7.x signal.
func New7x() *Map { return newMap(Fields7x(), conditional7x) }

func newMap(fields []Field, conditional []string) *Map {
	m := &Map{fields: map[string]Field{}, parents: map[string]bool{}, conditional: conditional}
	for _, f := range fields {
		if _, ok := m.fields[f.Name]; !ok {
			m.fields[f.Name] = f
		}
		for i := strings.LastIndexByte(f.Name, '.'); i > 0; i = strings.LastIndexByte(f.Name[:i], '.') {
			m.parents[f.Name[:i]] = true
		}
	}
	return m
}

// Check returns the ways doc departs from the map: a missing required field, a value its
// field's type does not take, a field the map does not hold. Dotted keys and nested objects
// are the same field, as in Elasticsearch; an array holds values of its field.
func (m *Map) Check(doc map[string]any) []string {
	tree := expand(doc)
	var problems []string
	m.walk("", tree, &problems)
	for _, f := range m.fields {
		if f.Required {
			m.checkRequired(f.Name, tree, &problems)
		}
	}
	sort.Strings(problems)
	return slices.Compact(problems)
}

// Check checks a signal document against the map of its shape: 7.x when it has a signal
// object, else 8.x.
func Check(doc map[string]any) []string {
	if _, ok := doc["signal"].(map[string]any); ok {
		return New7x().Check(doc)
	}
	return New8x().Check(doc)
}

// CheckJSON checks a signal document in JSON.
func CheckJSON(b []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return []string{"not a JSON object: " + err.Error()}
	}
	return Check(doc)
}

// expand turns dotted keys into nested objects, merging them, as Elasticsearch reads a
// document.
func expand(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			parts := strings.Split(k, ".")
			node := out
			for _, p := range parts[:len(parts)-1] {
				next, ok := node[p].(map[string]any)
				if !ok {
					next = map[string]any{}
					node[p] = next
				}
				node = next
			}
			last := parts[len(parts)-1]
			node[last] = merge(node[last], expand(val))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expand(e)
		}
		return out
	}
	return v
}

// merge merges b into a when both are objects, deeply; else b wins.
func merge(a, b any) any {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return b
	}
	for k, v := range bm {
		am[k] = merge(am[k], v)
	}
	return am
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// walk checks the field at path, whose value is v, and the fields below it.
func (m *Map) walk(path string, v any, problems *[]string) {
	if path == rarenetPrefix || strings.HasPrefix(path, rarenetPrefix+".") || v == nil {
		return // rarenet's own; or null, which Elasticsearch indexes as no value
	}
	if arr, ok := v.([]any); ok {
		f, mapped := m.fields[path]
		switch {
		case mapped && (f.Type == "flattened" || f.Type == "unmapped"):
		case mapped && !isObjectType(f.Type):
			for _, e := range arr {
				if err := accepts(f.Type, e); err != nil {
					*problems = append(*problems, fmt.Sprintf("%s: %v (mapped %s)", path, err, f.Type))
				}
			}
		default:
			for _, e := range arr {
				m.walk(path, e, problems)
			}
		}
		return
	}
	f, mapped := m.fields[path]
	obj, isObj := v.(map[string]any)
	switch {
	case mapped && (f.Type == "flattened" || f.Type == "unmapped"):
		return
	case mapped && isObjectType(f.Type):
		if !isObj {
			*problems = append(*problems, fmt.Sprintf("%s: want an object (mapped %s), got %s", path, f.Type, describe(v)))
			return
		}
		if !m.parents[path] {
			return // an object field without mapped fields below: whatever it holds
		}
	case mapped:
		if err := accepts(f.Type, v); err != nil {
			*problems = append(*problems, fmt.Sprintf("%s: %v (mapped %s)", path, err, f.Type))
		}
		return
	case !isObj:
		*problems = append(*problems, fmt.Sprintf("%s: not a field of Kibana's field map", path))
		return
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.walk(join(path, k), obj[k], problems)
	}
}

// checkRequired reports a required field missing from tree: wherever its parent object is
// present, and anywhere unless a conditional object (one an alert holds only at times) on
// its way is the one absent.
func (m *Map) checkRequired(name string, tree any, problems *[]string) {
	parts := strings.Split(name, ".")
	nodes := []any{tree}
	for i, p := range parts {
		path := strings.Join(parts[:i+1], ".")
		var next []any
		missing := false
		for _, n := range nodes {
			obj, ok := n.(map[string]any)
			if !ok {
				continue
			}
			v, ok := obj[p]
			if !ok || v == nil {
				missing = true
				continue
			}
			if arr, ok := v.([]any); ok && i < len(parts)-1 {
				next = append(next, arr...)
			} else {
				next = append(next, v)
			}
		}
		if missing && !slices.Contains(m.conditional, path) {
			*problems = append(*problems, fmt.Sprintf("%s: required, missing", name))
			return
		}
		if len(next) == 0 {
			return // below an absent conditional object
		}
		nodes = next
	}
}

func isObjectType(t string) bool { return t == "object" || t == "nested" }

var versionRe = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// accepts reports whether Elasticsearch indexes v in a field of type t, as it does by default
// (keyword takes any scalar; numbers and booleans take their string forms).
func accepts(t string, v any) error {
	if _, ok := v.(map[string]any); ok && t != "date_range" {
		return fmt.Errorf("want a %s value, got an object", t)
	}
	switch t {
	case "keyword", "text", "match_only_text", "wildcard", "constant_keyword":
		if v == nil {
			return nil
		}
		switch v.(type) {
		case string, float64, bool:
			return nil
		}
	case "version":
		if s, ok := v.(string); ok && versionRe.MatchString(s) {
			return nil
		}
	case "long", "integer", "short", "byte":
		switch x := v.(type) {
		case float64:
			if x == math.Trunc(x) {
				return nil
			}
		case string:
			if _, err := strconv.ParseInt(x, 10, 64); err == nil {
				return nil
			}
		}
	case "float", "double", "half_float", "scaled_float":
		switch x := v.(type) {
		case float64:
			return nil
		case string:
			if _, err := strconv.ParseFloat(x, 64); err == nil {
				return nil
			}
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return nil
		case string:
			if x == "true" || x == "false" {
				return nil
			}
		}
	case "date":
		switch x := v.(type) {
		case float64:
			return nil // epoch_millis
		case string:
			if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return nil
			}
		}
	case "ip":
		if s, ok := v.(string); ok {
			if _, err := netip.ParseAddr(s); err == nil {
				return nil
			}
		}
	case "date_range":
		if o, ok := v.(map[string]any); ok && (o["gte"] != nil || o["lte"] != nil) {
			return nil
		}
	default:
		return fmt.Errorf("unknown type %s", t)
	}
	return fmt.Errorf("want a %s value, got %s", t, describe(v))
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:57], "..."...)
	}
	return fmt.Sprintf("%T %s", v, b)
}

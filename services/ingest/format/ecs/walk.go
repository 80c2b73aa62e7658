package ecs

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// candidate is the value a field takes in the document so far, and how it was spelled.
type candidate struct {
	v     *fastjson.Value
	spell spelling
	ok    bool
}

// kv is one member of an object, as the walker visits it.
type kv struct {
	key []byte
	v   *fastjson.Value
}

// walker goes once over a parsed document: it picks, for every field, the value the
// precedence rule chooses, and checks every number of the document as encoding/json
// would (a number out of float64's range anywhere fails the whole document, and fastjson's
// parser is laxer about number syntax than JSON).
type walker struct {
	cands [numFields]candidate
	kvs   []kv   // a stack of the members of the objects being walked
	num   []byte // scratch for a number's text
	bad   []byte // the first number encoding/json would refuse, nil if none
}

func (w *walker) reset() {
	w.cands = [numFields]candidate{}
	w.kvs = w.kvs[:0]
	w.bad = w.bad[:0]
}

// members pushes the members of o onto w.kvs and returns where they start.
func (w *walker) members(o *fastjson.Object) int {
	base := len(w.kvs)
	o.Visit(func(k []byte, v *fastjson.Value) { w.kvs = append(w.kvs, kv{k, v}) })
	return base
}

// object walks the members w.kvs[base:] of an object reached at node n of the field tree
// with spelling sp, and pops them. Members are taken last first and a key seen again is
// skipped, so a repeated key's last value wins, as it does in encoding/json's maps (keys
// that resolve to the same node from one object are the same key: see fieldTree.resolve).
func (w *walker) object(base, n int, sp spelling) {
	var seen uint64
	for i := len(w.kvs) - 1; i >= base; i-- {
		key, v := w.kvs[i].key, w.kvs[i].v
		t := tree.resolve(n, key)
		if t < 0 || seen&(1<<t) != 0 {
			w.check(v)
			continue
		}
		seen |= 1 << t
		nd := &tree.nodes[t]
		if nd.field >= 0 {
			w.offer(field(nd.field), sp, v)
			continue
		}
		o := v.GetObject()
		if o == nil {
			w.check(v)
			continue
		}
		w.object(w.members(o), t, sp|1<<(nd.depth-1))
	}
	w.kvs = w.kvs[:base]
}

// offer makes v the field's value unless it is null or a better spelling already gave one.
// It checks the numbers in v without unescaping its strings (see scalar).
func (w *walker) offer(f field, sp spelling, v *fastjson.Value) {
	switch kind, raw := scalar(v, &w.num); kind {
	case kindNull:
		return
	case kindNumber:
		w.number(raw)
	case kindArray:
		for _, e := range v.GetArray() {
			if k, raw := scalar(e, &w.num); k == kindNumber {
				w.number(raw)
			} else if k == kindObject || k == kindArray {
				w.check(e)
			}
		}
	case kindObject:
		w.check(v)
	}
	if c := &w.cands[f]; !c.ok || sp.precedes(c.spell) {
		*c = candidate{v: v, spell: sp, ok: true}
	}
}

// check checks the numbers in a value no field reads. It may unescape the value's
// strings in place (fastjson does so on Type), which is why fields never go through it.
func (w *walker) check(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeObject:
		v.GetObject().Visit(func(_ []byte, e *fastjson.Value) { w.check(e) })
	case fastjson.TypeArray:
		for _, e := range v.GetArray() {
			w.check(e)
		}
	case fastjson.TypeNumber:
		w.number(v.MarshalTo(w.num[:0]))
	}
}

// number records raw as the document's first bad number if encoding/json would refuse it.
// fastjson's parser also takes NaN, Inf, leading zeros and the like, which JSON does not.
func (w *walker) number(raw []byte) {
	if len(w.bad) > 0 || plainNumber(raw) {
		return
	}
	if !jsonNumber(raw) {
		w.bad = append(w.bad[:0], raw...)
		return
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
		w.bad = append(w.bad[:0], raw...)
	}
}

// plainNumber reports whether raw is a JSON integer of at most 15 digits, which float64
// holds exactly: the common case, taken without strconv.
func plainNumber(raw []byte) bool {
	s := raw
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 15 || s[0] == '0' && len(s) > 1 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// jsonNumber reports whether raw follows JSON's number grammar (RFC 8259, section 6).
func jsonNumber(raw []byte) bool {
	s := raw
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	digits := func() int {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		s = s[i:]
		return i
	}
	if len(s) > 0 && s[0] == '0' {
		s = s[1:]
	} else if digits() == 0 {
		return false
	}
	if len(s) > 0 && s[0] == '.' {
		s = s[1:]
		if digits() == 0 {
			return false
		}
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		if digits() == 0 {
			return false
		}
	}
	return len(s) == 0
}

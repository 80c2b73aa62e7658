package ecs

import (
	"strconv"

	"github.com/valyala/fastjson"
)

// candidate is the value a field takes in the document so far, and how it was spelled.
// kind and raw are v's, as scalar tells them (raw lives in the walker's arena or, in a plain
// line, in the parser's copy of it).
type candidate struct {
	v     *fastjson.Value
	raw   []byte
	kind  kind
	spell spelling
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
	have  uint32 // the fields with a candidate, by bit
	// repeated is set when a key that leads to a field repeats within an object, where
	// only the careful walk (object) takes the last one as encoding/json does.
	repeated bool
	plain    bool   // the line has no backslash and nothing beyond ASCII (see scalar)
	kvs      []kv   // a stack of the members of the objects being walked
	arena    []byte // the raw text of the candidates' scalars, for one document
	num      []byte // scratch for a number's text
	bad      []byte // the first number encoding/json would refuse, nil if none
}

func (w *walker) reset() {
	w.have, w.repeated = 0, false
	w.kvs = w.kvs[:0]
	w.arena = w.arena[:0]
	w.bad = w.bad[:0]
}

// members pushes the members of o onto w.kvs and returns where they start.
func (w *walker) members(o *fastjson.Object) int {
	base := len(w.kvs)
	o.Visit(func(k []byte, v *fastjson.Value) { w.kvs = append(w.kvs, kv{k, v}) })
	return base
}

// fields walks an object reached at node n of the field tree with spelling sp, member by
// member, in one pass. A key that leads to a field and repeats in the object sets
// w.repeated: the document must then be walked again by object, which takes the last.
func (w *walker) fields(o *fastjson.Object, n int, sp spelling) {
	var seen uint64
	o.Visit(func(key []byte, v *fastjson.Value) {
		t := tree.resolve(n, key)
		if t < 0 {
			w.check(v)
			return
		}
		if seen&(1<<t) != 0 {
			w.repeated = true
			return
		}
		seen |= 1 << t
		nd := &tree.nodes[t]
		if nd.field >= 0 {
			w.offer(field(nd.field), sp, v)
		} else if sub := v.GetObject(); sub != nil {
			w.fields(sub, t, sp|1<<(nd.depth-1))
		} else {
			w.check(v)
		}
	})
}

// object walks the members w.kvs[base:] of an object reached at node n of the field tree
// with spelling sp, and pops them. Members are taken last first and a key seen again is
// skipped, so a repeated key's last value wins, as it does in encoding/json's maps (keys
// that resolve to the same node from one object are the same key: see fieldTree.resolve).
// Its nested objects are walked by fields unless careful is set.
func (w *walker) object(base, n int, sp spelling, careful bool) {
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
		switch {
		case o == nil:
			w.check(v)
		case careful:
			w.object(w.members(o), t, sp|1<<(nd.depth-1), true)
		default:
			w.fields(o, t, sp|1<<(nd.depth-1))
		}
	}
	w.kvs = w.kvs[:base]
}

// offer makes v the field's value unless it is null or a better spelling already gave one.
// It checks the numbers in v without unescaping its strings (see scalar).
func (w *walker) offer(f field, sp spelling, v *fastjson.Value) {
	c := &w.cands[f]
	if w.have&(1<<f) != 0 && !sp.precedes(c.spell) {
		w.check(v) // never read: only its numbers matter
		return
	}
	k, raw := scalar(v, &w.arena, w.plain)
	switch k {
	case kindNull:
		return
	case kindNumber:
		w.number(raw)
	case kindArray:
		for _, e := range v.GetArray() {
			w.num = w.num[:0]
			if k, raw := scalar(e, &w.num, w.plain); k == kindNumber {
				w.number(raw)
			} else if k == kindObject || k == kindArray {
				w.check(e)
			}
		}
	case kindObject:
		w.check(v)
	}
	*c = candidate{v: v, kind: k, raw: raw, spell: sp}
	w.have |= 1 << f
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
// holds exactly: the common case, taken without strconv. Negative zero is not one: it is a
// float64 of its own, which a keyword writes as "-0".
func plainNumber(raw []byte) bool {
	s := raw
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 15 || s[0] == '0' && (len(s) > 1 || len(raw) > 1) {
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

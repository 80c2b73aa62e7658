package datafeed

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"
)

// ErrUnsupportedQuery is returned for a datafeed query using a part of the Elasticsearch query
// DSL that rarenet does not evaluate.
var ErrUnsupportedQuery = errors.New("datafeed: unsupported query")

// Fields is what a query is evaluated against: every value of a field by its ECS name.
type Fields interface {
	FieldValues(name string) []string
}

// Query is the subset of the Elasticsearch query DSL that anomaly detection datafeeds use:
// bool (must, filter, should, must_not, minimum_should_match), term, terms, match,
// match_phrase, exists, wildcard and match_all. Leaves compare keyword values exactly, as
// term queries on keyword fields do; on ip fields a term may be a CIDR range, as in
// Elasticsearch.
type Query struct {
	Must      []Query  // must and filter: all match
	Should    []Query  // at least MinShould match (1 when there is no must or filter)
	MinShould int      //
	MustNot   []Query  // none match
	Field     string   // a leaf's field
	Values    []string // term/terms/match: any value matches
	Exists    bool     // exists: the field has a value
	Wildcard  string   // wildcard: a glob pattern
	All       bool     // match_all
	leaf      string   // the leaf's DSL name, for explanations
}

// ipFields hold IP addresses: a term on them may be a CIDR range.
var ipFields = map[string]bool{"destination.ip": true, "source.ip": true, "host.ip": true, "client.ip": true, "server.ip": true}

// Match reports whether the query matches.
func (q *Query) Match(f Fields) bool { return q.Explain(f) == "" }

// Explain returns "" when the query matches, else which clause failed, in the DSL's words.
func (q *Query) Explain(f Fields) string {
	switch {
	case q.All:
		return ""
	case q.leaf != "":
		if q.matchLeaf(f) {
			return ""
		}
		return "does not match " + q.String()
	}
	for i := range q.Must {
		c := &q.Must[i]
		if r := c.Explain(f); r != "" {
			if c.leaf != "" {
				return "does not match must " + c.String()
			}
			return r
		}
	}
	for i := range q.MustNot {
		if q.MustNot[i].Match(f) {
			return "matches must_not " + q.MustNot[i].matching(f)
		}
	}
	if len(q.Should) > 0 {
		need := q.MinShould
		if need == 0 && len(q.Must) == 0 {
			need = 1
		}
		n := 0
		for i := range q.Should {
			if q.Should[i].Match(f) {
				n++
			}
		}
		if n < need {
			return fmt.Sprintf("matches %d of should %s, needs %d", n, q.shouldString(), need)
		}
	}
	return ""
}

// matching names the part of a matching query that matched: the first should clause that
// did, for the "any of these" lists that datafeeds exclude.
func (q *Query) matching(f Fields) string {
	if q.leaf == "" && len(q.Must) == 0 && len(q.MustNot) == 0 {
		for i := range q.Should {
			if q.Should[i].Match(f) {
				return q.Should[i].matching(f)
			}
		}
	}
	return q.String()
}

func (q *Query) matchLeaf(f Fields) bool {
	vals := f.FieldValues(q.Field)
	switch {
	case q.Exists:
		return len(vals) > 0
	case q.Wildcard != "":
		return slices.ContainsFunc(vals, func(v string) bool { ok, _ := path.Match(q.Wildcard, v); return ok })
	}
	for _, want := range q.Values {
		for _, v := range vals {
			if v == want || (ipFields[q.Field] && ipMatches(want, v)) {
				return true
			}
		}
	}
	return false
}

// ipMatches compares an address with a term value that may be an address or a CIDR range,
// comparing addresses rather than strings ("::1" equals "0:0:0:0:0:0:0:1").
func ipMatches(term, value string) bool {
	a, err := netip.ParseAddr(value)
	if err != nil {
		return false
	}
	if p, err := netip.ParsePrefix(term); err == nil {
		return p.Contains(a) || (a.Is4In6() && p.Contains(a.Unmap()))
	}
	b, err := netip.ParseAddr(term)
	return err == nil && (a == b || a.Unmap() == b.Unmap())
}

// String writes the query back in a compact form for messages.
func (q *Query) String() string {
	switch {
	case q.All:
		return "match_all"
	case q.Exists:
		return "exists " + q.Field
	case q.Wildcard != "":
		return q.Field + ": " + q.Wildcard
	case q.leaf != "":
		if len(q.Values) == 1 {
			return q.Field + ": " + q.Values[0]
		}
		return q.Field + ": [" + strings.Join(q.Values, ", ") + "]"
	}
	var parts []string
	for _, c := range q.Must {
		parts = append(parts, c.String())
	}
	if len(q.Should) > 0 {
		parts = append(parts, q.shouldString())
	}
	for _, c := range q.MustNot {
		parts = append(parts, "not "+c.String())
	}
	return "(" + strings.Join(parts, " and ") + ")"
}

func (q *Query) shouldString() string {
	parts := make([]string, len(q.Should))
	for i, c := range q.Should {
		parts[i] = c.String()
	}
	return "(" + strings.Join(parts, " or ") + ")"
}

// ParseQuery reads a query in the Elasticsearch DSL. Errors name the path of the offending
// clause, e.g. query.bool.filter[2].range.
func ParseQuery(raw json.RawMessage) (Query, error) {
	return parseQuery(raw, "query")
}

func parseQuery(raw json.RawMessage, at string) (Query, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Query{}, fmt.Errorf("%s: expected a query object: %w", at, err)
	}
	if len(obj) != 1 {
		return Query{}, fmt.Errorf("%s: expected exactly one query type, got %d (%s)", at, len(obj), strings.Join(keys(obj), ", "))
	}
	for kind, body := range obj {
		at := at + "." + kind
		switch kind {
		case "bool":
			return parseBool(body, at)
		case "match_all":
			return Query{All: true}, nil
		case "term", "terms", "match", "match_phrase", "exists", "wildcard":
			return parseLeaf(kind, body, at)
		default:
			return Query{}, fmt.Errorf("%w: %s (rarenet evaluates bool, term, terms, match, match_phrase, exists, wildcard, match_all)", ErrUnsupportedQuery, at)
		}
	}
	panic("unreachable")
}

func parseBool(body json.RawMessage, at string) (Query, error) {
	var b map[string]json.RawMessage
	if err := json.Unmarshal(body, &b); err != nil {
		return Query{}, fmt.Errorf("%s: expected an object: %w", at, err)
	}
	var q Query
	for _, k := range keys(b) {
		var dst *[]Query
		switch k {
		case "must", "filter":
			dst = &q.Must
		case "should":
			dst = &q.Should
		case "must_not":
			dst = &q.MustNot
		case "minimum_should_match":
			if err := json.Unmarshal(b[k], &q.MinShould); err != nil {
				return Query{}, fmt.Errorf("%w: %s.minimum_should_match must be a number", ErrUnsupportedQuery, at)
			}
			continue
		case "boost", "_name":
			continue
		default:
			return Query{}, fmt.Errorf("%w: %s.%s", ErrUnsupportedQuery, at, k)
		}
		clauses, err := clauseList(b[k])
		if err != nil {
			return Query{}, fmt.Errorf("%s.%s: %w", at, k, err)
		}
		for i, c := range clauses {
			sub, err := parseQuery(c, fmt.Sprintf("%s.%s[%d]", at, k, i))
			if err != nil {
				return Query{}, err
			}
			*dst = append(*dst, sub)
		}
	}
	return q, nil
}

// clauseList accepts a clause or a list of clauses, as Elasticsearch does.
func clauseList(raw json.RawMessage) ([]json.RawMessage, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one map[string]json.RawMessage
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, fmt.Errorf("expected a clause or a list of clauses")
	}
	return []json.RawMessage{raw}, nil
}

func parseLeaf(kind string, body json.RawMessage, at string) (Query, error) {
	var b map[string]json.RawMessage
	if err := json.Unmarshal(body, &b); err != nil {
		return Query{}, fmt.Errorf("%s: expected an object: %w", at, err)
	}
	q := Query{leaf: kind}
	if kind == "exists" {
		if err := json.Unmarshal(b["field"], &q.Field); err != nil || q.Field == "" {
			return Query{}, fmt.Errorf("%s: expected {\"field\": NAME}", at)
		}
		q.Exists = true
		return q, nil
	}
	var fields []string
	for _, k := range keys(b) {
		if k != "boost" && k != "_name" {
			fields = append(fields, k)
		}
	}
	if len(fields) != 1 {
		return Query{}, fmt.Errorf("%s: expected exactly one field, got %d", at, len(fields))
	}
	q.Field = fields[0]
	raw := b[q.Field]
	switch kind {
	case "terms":
		var vals []any
		if err := json.Unmarshal(raw, &vals); err != nil {
			return Query{}, fmt.Errorf("%s.%s: expected a list of values", at, q.Field)
		}
		for _, v := range vals {
			q.Values = append(q.Values, scalar(v))
		}
	case "wildcard":
		v, err := leafValue(raw, "value", "wildcard")
		if err != nil {
			return Query{}, fmt.Errorf("%s.%s: %w", at, q.Field, err)
		}
		q.Wildcard = v
	default:
		key := "value"
		if kind == "match" || kind == "match_phrase" {
			key = "query"
			var opts map[string]any
			if json.Unmarshal(raw, &opts) == nil {
				if op, _ := opts["operator"].(string); op != "" && !strings.EqualFold(op, "or") {
					return Query{}, fmt.Errorf("%w: %s.%s.operator %q (single keyword values only)", ErrUnsupportedQuery, at, q.Field, op)
				}
			}
		}
		v, err := leafValue(raw, key)
		if err != nil {
			return Query{}, fmt.Errorf("%s.%s: %w", at, q.Field, err)
		}
		q.Values = []string{v}
	}
	return q, nil
}

// leafValue reads a scalar, or an object holding it under one of the keys.
func leafValue(raw json.RawMessage, keys ...string) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range keys {
			if x, ok := m[k]; ok {
				return scalar(x), nil
			}
		}
		return "", fmt.Errorf("expected a value or {%q: VALUE}", keys[0])
	}
	return scalar(v), nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64, bool:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

func keys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Term builds a terms query: the field holds one of the values.
func Term(field string, values ...string) Query {
	return Query{leaf: "terms", Field: field, Values: values}
}

// AnyOf builds a bool query whose should clauses need one match.
func AnyOf(qs ...Query) Query { return Query{Should: qs, MinShould: 1} }

// AllOf builds a bool query whose clauses all need to match.
func AllOf(qs ...Query) Query { return Query{Must: qs} }

// FieldReader is what a Matcher reads: a field's one value, or every value of a field that
// holds several. event.Event is one.
type FieldReader interface {
	Fields
	// Field returns the value of a single-valued field, "" when absent or multi-valued.
	Field(name string) string
}

// Matcher is a query compiled for the hot path: Match gives the same answer as
// Query.Match without allocating, with the IP terms parsed once. Explanations stay with the
// Query, for the documents it does not match. A Matcher is not safe for concurrent use.
type Matcher struct {
	q        *Query
	must     []Matcher
	should   []Matcher
	mustNot  []Matcher
	need     int
	terms    []ipTerm // for a leaf on an ip field, its values parsed
	ipLeaf   bool
	wildcard bool
	// last is the address parsed last, shared by every ip leaf of the compiled query: the
	// leaves of one field (a datafeed's list of addresses to leave out) read the same text,
	// and events of a batch share theirs, so most events parse it once or not at all.
	last *lastAddr
}

// lastAddr remembers the last text parsed as an address.
type lastAddr struct {
	text string
	addr netip.Addr
	ok   bool
}

// parse parses s as an address, at once when it is the text parsed last.
func (l *lastAddr) parse(s string) (netip.Addr, bool) {
	if s != l.text || l.text == "" {
		a, err := netip.ParseAddr(s)
		l.text, l.addr, l.ok = s, a, err == nil
	}
	return l.addr, l.ok
}

// ipTerm is a term value on an ip field: a CIDR range, an address, or neither (then only an
// equal string matches).
type ipTerm struct {
	prefix   netip.Prefix
	isPrefix bool
	addr     netip.Addr
	isAddr   bool
}

// Compile returns the query's Matcher. It reads q, which must not change afterwards.
func (q *Query) Compile() *Matcher { return q.compile(&lastAddr{}) }

func (q *Query) compile(last *lastAddr) *Matcher {
	m := &Matcher{q: q, need: q.MinShould, last: last}
	if m.need == 0 && len(q.Must) == 0 && len(q.Should) > 0 {
		m.need = 1
	}
	for i := range q.Must {
		m.must = append(m.must, *q.Must[i].compile(last))
	}
	for i := range q.Should {
		m.should = append(m.should, *q.Should[i].compile(last))
	}
	for i := range q.MustNot {
		m.mustNot = append(m.mustNot, *q.MustNot[i].compile(last))
	}
	if q.leaf != "" && ipFields[q.Field] && !q.Exists && q.Wildcard == "" {
		m.ipLeaf = true
		for _, v := range q.Values {
			var t ipTerm
			if p, err := netip.ParsePrefix(v); err == nil {
				t.prefix, t.isPrefix = p, true
			} else if a, err := netip.ParseAddr(v); err == nil {
				t.addr, t.isAddr = a, true
			}
			m.terms = append(m.terms, t)
		}
	}
	return m
}

// Match reports whether the query matches f.
func (m *Matcher) Match(f FieldReader) bool {
	q := m.q
	switch {
	case q.All:
		return true
	case q.leaf != "":
		return m.matchLeaf(f)
	}
	for i := range m.must {
		if !m.must[i].Match(f) {
			return false
		}
	}
	for i := range m.mustNot {
		if m.mustNot[i].Match(f) {
			return false
		}
	}
	if len(m.should) > 0 {
		n := 0
		for i := range m.should {
			if m.should[i].Match(f) {
				if n++; n >= m.need {
					break
				}
			}
		}
		if n < m.need {
			return false
		}
	}
	return true
}

func (m *Matcher) matchLeaf(f FieldReader) bool {
	q := m.q
	if v := f.Field(q.Field); v != "" {
		return m.matchValue(v)
	}
	vals := f.FieldValues(q.Field)
	if q.Exists {
		return len(vals) > 0
	}
	for _, v := range vals {
		if m.matchValue(v) {
			return true
		}
	}
	return false
}

// matchValue compares one value of the leaf's field as matchLeaf does.
func (m *Matcher) matchValue(v string) bool {
	q := m.q
	switch {
	case q.Exists:
		return true
	case q.Wildcard != "":
		ok, _ := path.Match(q.Wildcard, v)
		return ok
	}
	if slices.Contains(q.Values, v) {
		return true
	}
	if !m.ipLeaf {
		return false
	}
	a, ok := m.last.parse(v)
	if !ok {
		return false
	}
	for _, t := range m.terms {
		switch {
		case t.isPrefix:
			if t.prefix.Contains(a) || (a.Is4In6() && t.prefix.Contains(a.Unmap())) {
				return true
			}
		case t.isAddr:
			if a == t.addr || a.Unmap() == t.addr.Unmap() {
				return true
			}
		}
	}
	return false
}

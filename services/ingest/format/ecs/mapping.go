package ecs

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
	"github.com/valyala/fastjson"
)

// Ranges of the numeric fields; Linux's pid_t is a 32-bit int.
const (
	maxPort = 65535
	maxPID  = math.MaxInt32
)

// mapper fills an event from the values the walker chose, keeping the first type error,
// so the mapping reads as a list of fields. Its buffers and its event are reused.
type mapper struct {
	w        walker
	in       *interner
	err      error
	ev       event.Event
	category []string
	typ      []string
	args     []string
	scalar   []byte // scratch for a scalar's text
	num      []byte // scratch for a number formatted as a keyword
}

// toEvent maps the ECS fields the detection uses into m.ev; everything else is ignored.
// The fields are read in the order the first decoder read them, so a document with several
// bad fields is rejected for the same one.
func (m *mapper) toEvent() (*event.Event, error) {
	m.err = nil
	ts, err := m.timestamp()
	if err != nil {
		return nil, err
	}
	const port, pid = "a port number (0-65535)", "a non-negative integer"
	m.ev = event.Event{
		Timestamp: ts,
		Event: event.Meta{
			Kind:     m.str(fEventKind),
			Category: m.strs(fEventCategory, &m.category),
			Type:     m.strs(fEventType, &m.typ),
			Action:   m.str(fEventAction),
			Outcome:  m.str(fEventOutcome),
			Module:   m.str(fEventModule),
			Dataset:  m.str(fEventDataset),
		},
		Agent: event.Agent{Type: m.str(fAgentType)},
		Host: event.Host{
			Name: m.str(fHostName),
			ID:   m.str(fHostID),
			OS:   event.OS{Type: m.str(fHostOSType), Family: m.str(fHostOSFamily)},
		},
		Process: event.Process{
			Name:             m.str(fProcessName),
			PID:              m.integer(fProcessPID, pid, 0, maxPID),
			Executable:       m.str(fProcessExecutable),
			Args:             m.strs(fProcessArgs, &m.args),
			Title:            m.str(fProcessTitle),
			WorkingDirectory: m.str(fProcessWorkingDirectory),
			Parent:           event.Parent{PID: m.integer(fProcessParentPID, pid, 0, maxPID)},
		},
		User: event.User{Name: m.str(fUserName), ID: m.str(fUserID)},
		Source: event.Endpoint{
			IP:   m.str(fSourceIP),
			Port: int(m.integer(fSourcePort, port, 0, maxPort)),
		},
		Destination: event.Endpoint{
			IP:   m.str(fDestinationIP),
			Port: int(m.integer(fDestinationPort, port, 0, maxPort)),
		},
		Network: event.Network{
			Type:      m.str(fNetworkType),
			Transport: m.str(fNetworkTransport),
			Direction: m.str(fNetworkDirection),
		},
	}
	if m.ev.Process.Parent.PID == 0 {
		// Auditbeat 7.x wrote the parent's pid as process.ppid.
		m.ev.Process.Parent.PID = m.integer(fProcessPPID, pid, 0, maxPID)
	}
	if m.err != nil {
		return nil, m.err
	}
	return &m.ev, nil
}

// fail records the first type error.
func (m *mapper) fail(f field, expected string, got *fastjson.Value) {
	if m.err == nil {
		m.err = fieldError(fieldNames[f], expected, got)
	}
}

// value returns the field's value and its kind, a one-element array standing for its
// element when unwrap is set.
func (m *mapper) value(f field, unwrap bool) (*fastjson.Value, kind, []byte) {
	if m.w.have&(1<<f) == 0 {
		return nil, kindNull, nil
	}
	c := &m.w.cands[f]
	v, k, raw := c.v, c.kind, c.raw
	if unwrap && k == kindArray {
		if a := v.GetArray(); len(a) == 1 {
			v = a[0]
			m.scalar = m.scalar[:0]
			k, raw = scalar(v, &m.scalar, m.w.plain)
		}
	}
	return v, k, raw
}

// str reads a keyword field. Elasticsearch indexes numbers and booleans given for a keyword
// as their text, and a one-element array as its element, so those are accepted too.
func (m *mapper) str(f field) string {
	v, k, raw := m.value(f, true)
	if v == nil {
		return ""
	}
	if s, ok := m.keyword(f, k, raw); ok {
		return s
	}
	m.fail(f, "a string", v)
	return ""
}

// keyword returns the text of a JSON string, number or boolean, interned for field f.
func (m *mapper) keyword(f field, k kind, raw []byte) (string, bool) {
	switch k {
	case kindString:
		return m.in.intern(f, m.text(raw)), true
	case kindNumber:
		m.num = strconv.AppendFloat(m.num[:0], float(raw), 'f', -1, 64)
		return m.in.intern(f, m.num), true
	case kindBool:
		if raw[0] == 't' {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// strs reads a keyword field that may hold one value or an array of them, into *buf.
func (m *mapper) strs(f field, buf *[]string) []string {
	v, k, raw := m.value(f, false)
	if v == nil {
		return nil
	}
	out := (*buf)[:0]
	if k != kindArray {
		s, ok := m.keyword(f, k, raw)
		if !ok {
			m.fail(f, "a string or an array of strings", v)
			return nil
		}
		out = append(out, s)
	} else {
		for _, e := range v.GetArray() {
			m.scalar = m.scalar[:0]
			ek, eraw := scalar(e, &m.scalar, m.w.plain)
			if ek == kindNull {
				continue
			}
			s, ok := m.element(f, out, ek, eraw)
			if !ok {
				m.fail(f, "a string or an array of strings", v)
				return nil
			}
			out = append(out, s)
		}
	}
	*buf = out
	if len(out) == 0 {
		return nil
	}
	return out
}

// element returns the text of the array element to be appended to out, reusing the string
// the previous event had in that place (still in out's backing array) when it is the same.
func (m *mapper) element(f field, out []string, k kind, raw []byte) (string, bool) {
	if k != kindString {
		return m.keyword(f, k, raw)
	}
	b := m.text(raw)
	if i := len(out); i < cap(out) {
		if prev := out[:i+1][i]; prev == string(b) {
			return prev, true
		}
	}
	return m.in.get(b), true
}

// integer reads a whole-number field within [lo, hi]. A numeric string is accepted, as
// Elasticsearch coerces it for long fields.
func (m *mapper) integer(f field, expected string, lo, hi int64) int64 {
	v, k, raw := m.value(f, true)
	if v == nil {
		return 0
	}
	var n int64
	switch k {
	case kindNumber:
		x := float(raw)
		if x != math.Trunc(x) || x < float64(lo) || x > float64(hi) {
			m.fail(f, expected, v)
			return 0
		}
		n = int64(x)
	case kindString:
		var err error
		if n, err = strconv.ParseInt(string(m.text(raw)), 10, 64); err != nil || n < lo || n > hi {
			m.fail(f, expected, v)
			return 0
		}
	default:
		m.fail(f, expected, v)
		return 0
	}
	return n
}

const timestampExpected = "RFC 3339 time or epoch milliseconds"

// timestamp reads @timestamp the ways Elasticsearch's default date format accepts it: an
// RFC 3339 string (the zone may be left out, meaning UTC) or epoch milliseconds, as a
// number or a string of digits.
func (m *mapper) timestamp() (time.Time, error) {
	v, k, raw := m.value(fTimestamp, false)
	if v == nil {
		return time.Time{}, fmt.Errorf("%w: @timestamp: expected %s, got nothing", format.ErrMalformed, timestampExpected)
	}
	switch k {
	case kindNumber:
		if t, ok := epochMillis(float(raw)); ok {
			return t, nil
		}
	case kindString:
		if t, ok := parseTime(m.text(raw)); ok {
			return t, nil
		}
	}
	return time.Time{}, fieldError("@timestamp", timestampExpected, v)
}

// parseTime parses an @timestamp string. Time.UnmarshalText parses RFC 3339 from bytes
// without allocating, with the same code time.Parse(time.RFC3339Nano) tries first; what it
// refuses goes through the first decoder's parses, which may allocate.
func parseTime(b []byte) (time.Time, bool) {
	var t time.Time
	if t.UnmarshalText(b) == nil {
		return t.UTC(), true
	}
	s := string(b)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && isDigits(s) {
		return epochMillis(f)
	}
	return time.Time{}, false
}

// epochMillis converts milliseconds since the epoch, refusing values time cannot hold.
func epochMillis(ms float64) (time.Time, bool) {
	const limit = 1 << 53 // beyond this float64 milliseconds are no longer exact
	if math.IsNaN(ms) || ms < -limit || ms > limit {
		return time.Time{}, false
	}
	whole := math.Floor(ms)
	nanos := int64((ms - whole) * 1e6)
	return time.UnixMilli(int64(whole)).Add(time.Duration(nanos)).UTC(), true
}

func isDigits(s string) bool {
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

// text returns the bytes of a string scalar returned, as encoding/json decodes them: in a
// plain line, scalar gave them already.
func (m *mapper) text(raw []byte) []byte {
	if m.w.plain {
		return raw
	}
	return text(raw)
}

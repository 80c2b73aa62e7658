package field

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of a Value. Absent covers both a missing key and JSON null, as every sensor here
// writes null for "not available" (Falco's <NA>).
const (
	Absent Kind = iota
	String
	Number
	Bool
	Object
	Array
)

// Value is a JSON value kept as text. Senders disagree on the types of the same field
// (osquery writes every column as a string unless --logger_numerics is set, protojson writes
// 64-bit integers as strings, Falco writes null for missing fields), so decoders read a
// Value and convert it where the field is used, with the field's name in any error.
type Value struct {
	Text string // a string's contents or a number's or boolean's literal; empty otherwise
	Kind Kind
}

// Text returns a string Value, for sources that are text already (XML attributes).
func Text(s string) Value { return Value{Text: s, Kind: String} }

// UnmarshalJSON implements json.Unmarshaler. It never fails on a well-formed value: type
// checks happen when the value is read, where the field's name is known.
func (v *Value) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case 'n':
		*v = Value{}
	case 't', 'f':
		*v = Value{Text: string(b), Kind: Bool}
	case '{':
		*v = Value{Kind: Object}
	case '[':
		*v = Value{Kind: Array}
	case '"':
		// Most values hold no escapes; slicing them saves a second scan.
		if bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
			*v = Value{Text: string(b[1 : len(b)-1]), Kind: String}
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = Value{Text: s, Kind: String}
	default:
		*v = Value{Text: string(b), Kind: Number}
	}
	return nil
}

// describe names the value for an error message.
func (v Value) describe() string {
	switch v.Kind {
	case Absent:
		return "nothing"
	case String:
		return quote(v.Text)
	case Object:
		return "an object"
	case Array:
		return "an array"
	}
	return v.Text
}

// Quote names a text value for an error message: quoted, or "nothing" when empty.
func Quote(s string) string {
	if s == "" {
		return "nothing"
	}
	return quote(s)
}

// quote quotes s for an error message, shortened so a huge value does not flood the DLQ.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}

package ecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/valyala/fastjson"
)

// kind is a JSON value's type, told without unescaping it (see scalar).
type kind uint8

const (
	kindNull kind = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
)

// scalar tells v's kind and, for a scalar (or an empty array), returns its JSON text as
// the input spelled it, appended to *buf.
//
// fastjson keeps a string as its raw text until it is asked for its type or value, and
// then unescapes it in place on a best-effort basis that differs from encoding/json's for
// invalid surrogates. Asking GetObject, GetArray and MarshalTo instead keeps the raw text,
// which text() then decodes exactly as encoding/json does.
//
// In a plain line (no backslash, nothing beyond ASCII; see Decoder.decode) there is
// nothing to unescape, so scalar asks fastjson for the type, and a string's raw is its
// bytes, unquoted, in the parser's copy of the line: no copy.
func scalar(v *fastjson.Value, buf *[]byte, plain bool) (kind, []byte) {
	if plain {
		switch v.Type() {
		case fastjson.TypeObject:
			return kindObject, nil
		case fastjson.TypeArray:
			return kindArray, nil
		case fastjson.TypeString:
			b, _ := v.StringBytes()
			return kindString, b
		case fastjson.TypeNull:
			return kindNull, nil
		}
	} else {
		if v.GetObject() != nil {
			return kindObject, nil
		}
		if v.GetArray() != nil {
			return kindArray, nil
		}
	}
	start := len(*buf)
	*buf = v.MarshalTo(*buf)
	raw := (*buf)[start:len(*buf):len(*buf)]
	switch raw[0] {
	case '[': // an empty array, whose element slice fastjson may leave nil
		return kindArray, raw
	case '"':
		return kindString, raw
	case 'n': // null, or NaN, which fastjson takes for a number
		if len(raw) == len("null") {
			return kindNull, raw
		}
	case 't', 'f':
		return kindBool, raw
	}
	return kindNumber, raw
}

// text returns the bytes of the JSON string raw (quotes included) as encoding/json decodes
// them. The common case, no escape and valid UTF-8, is raw's own bytes; otherwise
// encoding/json itself decodes it, so escapes and invalid UTF-8 (each bad byte becomes
// U+FFFD) come out the same.
func text(raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s
	}
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		return s // not reached: the document was validated
	}
	return []byte(out)
}

// float returns the float64 of the JSON number raw, as encoding/json decodes it into any.
func float(raw []byte) float64 {
	if plainNumber(raw) {
		n, _ := strconv.ParseInt(string(raw), 10, 64)
		return float64(n)
	}
	f, _ := strconv.ParseFloat(string(raw), 64) // checked by walker.number
	return f
}

// describe names a JSON value for an error message, as the first decoder did.
func describe(v *fastjson.Value) string {
	var buf []byte
	switch k, raw := scalar(v, &buf, false); k {
	case kindNull:
		return "null"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		x := string(text(raw))
		const maxLen = 80
		if len(x) > maxLen {
			x = x[:maxLen] + "..."
		}
		return strconv.Quote(x)
	case kindNumber:
		return strconv.FormatFloat(float(raw), 'g', -1, 64)
	default:
		return string(raw)
	}
}

// fieldError is the reject of a field of the wrong type or out of range.
func fieldError(path, expected string, got *fastjson.Value) error {
	return fmt.Errorf("%w: %s: expected %s, got %s", format.ErrMalformed, path, expected, describe(got))
}

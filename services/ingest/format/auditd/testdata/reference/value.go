package reference

import "strings"

// decodeString returns the text of a string field. The kernel writes such a field quoted
// when it is plain text and as bare hex when it holds a space, quote, control character or
// non-ASCII byte; "(null)" stands for no value. Bare text that is not valid hex (possible
// in logs that were rewritten by other tools) is kept literally.
func decodeString(v string) string {
	if v == "(null)" {
		return ""
	}
	if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
		v = v[1:]
		if n := len(v); n > 0 && (v[n-1] == '"' || v[n-1] == '\'') {
			v = v[:n-1]
		}
		return v
	}
	if b, ok := decodeHex(v); ok {
		return string(b)
	}
	return v
}

// decodeHex decodes an even-length, non-empty hex string of either case.
func decodeHex(s string) ([]byte, bool) {
	if len(s) == 0 || len(s)%2 != 0 {
		return nil, false
	}
	b := make([]byte, len(s)/2)
	for i := range b {
		hi, ok1 := hexDigit(s[2*i])
		lo, ok2 := hexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		b[i] = hi<<4 | lo
	}
	return b, true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodeProctitle returns the process title and its arguments. The kernel writes the
// command line (truncated to 128 bytes) with NUL between arguments, hex-encoded; a quoted
// title is a single word without NULs.
func decodeProctitle(v string) (title string, args []string) {
	if v == "" || v == "(null)" {
		return "", nil
	}
	if v[0] == '"' || v[0] == '\'' {
		t := decodeString(v)
		if t == "" {
			return "", nil
		}
		return t, []string{t}
	}
	b, ok := decodeHex(v)
	if !ok {
		return v, []string{v}
	}
	args = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) == 1 && args[0] == "" {
		return "", nil
	}
	return strings.Join(args, " "), args
}

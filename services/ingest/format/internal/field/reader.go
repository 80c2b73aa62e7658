package field

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// Ranges of the numeric fields; Linux's pid_t is a 32-bit int.
const (
	MaxPort = 65535
	MaxPID  = math.MaxInt32
)

// Reader reads typed fields out of Values and keeps the first error, so a mapping reads as a
// list of fields and reports the first bad one.
type Reader struct {
	Err error
}

// Fail records that the field at path is not what was expected, unless an error is recorded
// already.
func (r *Reader) Fail(path, expected, got string) {
	if r.Err == nil {
		r.Err = Error(path, expected, got)
	}
}

// Error is the reject of a field that does not hold what was expected. It wraps
// format.ErrMalformed.
func Error(path, expected, got string) error {
	return fmt.Errorf("%w: %s: expected %s, got %s", format.ErrMalformed, path, expected, got)
}

// Str reads a keyword. Numbers and booleans are taken as their text, as Elasticsearch does
// for keyword fields.
func (r *Reader) Str(path string, v Value) string {
	switch v.Kind {
	case Object, Array:
		r.Fail(path, "a string", v.describe())
		return ""
	}
	return v.Text
}

// Int reads a whole number within [lo, hi], written as a number or as a string of digits.
// Absent gives 0.
func (r *Reader) Int(path string, v Value, lo, hi int64) int64 {
	switch v.Kind {
	case Absent:
		return 0
	case Number, String:
		s := strings.TrimSpace(v.Text)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil && v.Kind == Number {
			// 1.0 and 1e3 are whole numbers too.
			if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
				n, err = int64(f), nil
			}
		}
		if err == nil && n >= lo && n <= hi {
			return n
		}
	}
	r.Fail(path, fmt.Sprintf("an integer (%d-%d)", lo, hi), v.describe())
	return 0
}

// PID reads a process id.
func (r *Reader) PID(path string, v Value) int64 { return r.Int(path, v, 0, MaxPID) }

// Port reads a port number.
func (r *Reader) Port(path string, v Value) int { return int(r.Int(path, v, 0, MaxPort)) }

// IP reads an IP address and returns it in canonical form (see Canonical); empty or absent
// gives "".
func (r *Reader) IP(path string, v Value) string {
	s := r.Str(path, v)
	if s == "" {
		return ""
	}
	ip, ok := Canonical(s)
	if !ok {
		r.Fail(path, "an IP address", v.describe())
		return ""
	}
	return ip
}

// ID reads a numeric user or group id (0-4294967295) and returns its decimal text, as ECS
// keeps user.id as a keyword; absent gives "".
func (r *Reader) ID(path string, v Value) string {
	if v.Kind == Absent {
		return ""
	}
	n := r.Int(path, v, 0, math.MaxUint32)
	if r.Err != nil {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

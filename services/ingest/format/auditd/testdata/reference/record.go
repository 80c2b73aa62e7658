package reference

import (
	"fmt"
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// enrichedSep separates the kernel's record text from the names auditd adds in its
// ENRICHED log format (ARCH=x86_64 SYSCALL=connect UID="root" ...).
const enrichedSep = 0x1d

// record is one line of the audit log, split into its header and its still unparsed
// key=value text. Fields are parsed only for the record types an event needs, because most
// records of a busy log belong to events that are dropped.
type record struct {
	raw      string // the line as read, kept for the result's Raw
	num      int64  // line number
	node     string // from the node= prefix, "" when absent
	typ      string // SYSCALL, SOCKADDR, EOE, ...
	stamp    string // SECS.MILLIS:SERIAL
	body     string // the key=value text after the header
	enriched string // the text after the 0x1d separator, "" when absent
}

// parseRecord splits a line into its header and its key=value text.
func parseRecord(line string) (record, error) {
	r := record{raw: line}
	s := strings.TrimRight(line, "\r\n")
	if i := strings.IndexByte(s, enrichedSep); i >= 0 {
		r.enriched = s[i+1:]
		s = s[:i]
	}
	s = strings.TrimLeft(s, " \t")
	if rest, ok := strings.CutPrefix(s, "node="); ok {
		node, after, found := strings.Cut(rest, " ")
		if !found {
			return r, headerError(line)
		}
		r.node = node
		s = strings.TrimLeft(after, " ")
	}
	rest, ok := strings.CutPrefix(s, "type=")
	if !ok {
		return r, headerError(line)
	}
	typ, after, found := strings.Cut(rest, " ")
	if !found || typ == "" {
		return r, headerError(line)
	}
	r.typ = typ
	rest, ok = strings.CutPrefix(strings.TrimLeft(after, " "), "msg=audit(")
	if !ok {
		return r, headerError(line)
	}
	stamp, after, found := strings.Cut(rest, ")")
	if !found || !validStamp(stamp) {
		return r, headerError(line)
	}
	r.stamp = stamp
	// Old auditd versions wrote some daemon records without the colon after the stamp.
	r.body = strings.TrimPrefix(after, ":")
	return r, nil
}

// validStamp reports whether s has the form SECS.MILLIS:SERIAL, all decimal digits.
func validStamp(s string) bool {
	secs, rest, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	frac, serial, ok := strings.Cut(rest, ":")
	return ok && isDigits(secs) && isDigits(frac) && isDigits(serial)
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

func headerError(line string) error {
	return fmt.Errorf("%w: expected \"type=... msg=audit(SECS.MILLIS:SERIAL):\", got %q",
		format.ErrMalformed, excerpt(line))
}

// excerpt shortens s for an error message; the whole line is in the result's Raw.
func excerpt(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// field is one key=value pair with the value as written: quoted, hex or bare.
type field struct {
	key, val string
}

// parseFields splits key=value text. Values are bare, "double-quoted" or 'single-quoted'
// (user-space records nest a message that way); the kernel hex-encodes any string holding a
// quote or space, so quotes need no escaping. Words without '=' are skipped.
func parseFields(s string, dst []field) []field {
	if dst == nil {
		dst = make([]field, 0, strings.Count(s, "=")) // one allocation instead of growing
	}
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			continue
		}
		key := s[start:i]
		i++ // '='
		vstart := i
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			if j := strings.IndexByte(s[i+1:], q); j >= 0 {
				i += j + 2
			} else {
				i = len(s)
			}
		} else {
			for i < len(s) && s[i] != ' ' {
				i++
			}
		}
		if key != "" {
			dst = append(dst, field{key: key, val: s[vstart:i]})
		}
	}
	return dst
}

// lookup returns the value of key as written, and whether it was present.
func lookup(fs []field, key string) (string, bool) {
	for _, f := range fs {
		if f.key == key {
			return f.val, true
		}
	}
	return "", false
}

// get returns the value of key as written, "" when absent.
func get(fs []field, key string) string {
	v, _ := lookup(fs, key)
	return v
}

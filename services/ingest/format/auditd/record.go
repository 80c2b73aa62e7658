package auditd

import (
	"bytes"
	"fmt"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// enrichedSep separates the kernel's record text from the names auditd adds in its
// ENRICHED log format (ARCH=x86_64 SYSCALL=connect UID="root" ...).
const enrichedSep = 0x1d

// span is where a piece of text lies in a buffer. Offsets rather than slices, so that the
// pieces of a record stay right after its line is copied into a group's buffer, and so that
// no string is made of text that is never kept.
type span struct{ start, end int }

func (s span) in(b []byte) []byte { return b[s.start:s.end] }

// shift moves s by off, for a record copied to offset off of a buffer.
func (s span) shift(off int) span { return span{s.start + off, s.end + off} }

// recordKind is a record type the decoder reads; every other type is only carried in Raw.
// (A type is the text up to the first space, so "SYSCALL" is one exactly where the line has
// "SYSCALL " there: knownType needs no scan.)
type recordKind uint8

const (
	kindOther recordKind = iota
	kindSyscall
	kindSockaddr
	kindCwd
	kindProctitle
	kindExecve
	kindEOE
)

// recordLine is one line of the audit log split into its header and its still unparsed
// key=value text, as spans of the line. Fields are parsed only for the record types an
// event needs, because most records of a busy log belong to events that are dropped.
type recordLine struct {
	node     span // from the node= prefix, empty when absent
	typ      span // SYSCALL, SOCKADDR, EOE, ...
	stamp    span // SECS.MILLIS:SERIAL
	body     span // the key=value text after the header
	enriched span // the text after the 0x1d separator, empty when absent
	kind     recordKind
}

// splitRecord splits a line into its header and its key=value text, into h; it returns
// false when the line is not an audit record (headerError says why). node and stamp are
// those of the latest record, if any: most records carry the same, which a comparison then
// finds faster than a scan and needs no validation.
func splitRecord(line, node, stamp []byte, h *recordLine) bool {
	end := len(line)
	for end > 0 && (line[end-1] == '\r' || line[end-1] == '\n') {
		end--
	}
	h.enriched = span{end, end}
	if i := bytes.IndexByte(line[:end], enrichedSep); i >= 0 {
		h.enriched = span{i + 1, end}
		end = i
	}
	s := line[:end]
	i := 0
	for i < end && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	h.node = span{}
	if hasPrefixAt(s, i, "node=") {
		i += len("node=")
		j := i + len(node) // node holds no space: it was cut at the first
		if len(node) == 0 || j >= end || s[j] != ' ' || string(s[i:j]) != string(node) {
			if j = scanTo(s, i, ' '); j == end {
				return false
			}
		}
		h.node = span{i, j}
		i = skipSpaces(s, j+1)
	}
	if !hasPrefixAt(s, i, "type=") {
		return false
	}
	i += len("type=")
	kind, n := knownType(s, i)
	j := i + n
	if n == 0 {
		if j = scanTo(s, i, ' '); j == end || j == i { // no space, or an empty type
			return false
		}
	}
	h.typ, h.kind = span{i, j}, kind
	i = skipSpaces(s, j+1)
	if !hasPrefixAt(s, i, "msg=audit(") {
		return false
	}
	i += len("msg=audit(")
	j = i + len(stamp) // stamp is valid, so holds no ')'
	if len(stamp) == 0 || j >= end || s[j] != ')' || string(s[i:j]) != string(stamp) {
		if j = scanTo(s, i, ')'); j == end || !validStamp(s[i:j]) {
			return false
		}
	}
	h.stamp = span{i, j}
	i = j + 1
	// Old auditd versions wrote some daemon records without the colon after the stamp.
	if i < end && s[i] == ':' {
		i++
	}
	h.body = span{i, end}
	return true
}

// hasPrefixAt reports whether s[i:] starts with p. With p a constant, the comparison
// compiles to a few loads rather than a call.
func hasPrefixAt(s []byte, i int, p string) bool {
	return len(s)-i >= len(p) && string(s[i:i+len(p)]) == p
}

// knownType returns the kind and length of the record type at s[i:] when it is one an event
// reads, followed by a space; n is 0 for other types (kindOther), which the caller scans.
func knownType(s []byte, i int) (kind recordKind, n int) {
	if i >= len(s) {
		return kindOther, 0
	}
	switch s[i] {
	case 'S':
		if hasPrefixAt(s, i, "SYSCALL ") {
			return kindSyscall, len("SYSCALL")
		}
		if hasPrefixAt(s, i, "SOCKADDR ") {
			return kindSockaddr, len("SOCKADDR")
		}
	case 'C':
		if hasPrefixAt(s, i, "CWD ") {
			return kindCwd, len("CWD")
		}
	case 'P':
		if hasPrefixAt(s, i, "PROCTITLE ") {
			return kindProctitle, len("PROCTITLE")
		}
	case 'E':
		if hasPrefixAt(s, i, "EOE ") {
			return kindEOE, len("EOE")
		}
		if hasPrefixAt(s, i, "EXECVE ") {
			return kindExecve, len("EXECVE")
		}
	}
	return kindOther, 0
}

// scanTo returns the offset of the first c in s at or after i, or len(s). The pieces of a
// record are short, where a plain loop beats bytes.IndexByte.
func scanTo(s []byte, i int, c byte) int {
	for i < len(s) && s[i] != c {
		i++
	}
	return i
}

func skipSpaces(s []byte, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// validStamp reports whether s has the form SECS.MILLIS:SERIAL, all decimal digits.
func validStamp(s []byte) bool {
	i := 0
	for part, sep := range [...]byte{'.', ':', 0} {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
		if part == 2 {
			return i == len(s)
		}
		if i == len(s) || s[i] != sep {
			return false
		}
		i++
	}
	return false
}

func isDigits(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func headerError(line []byte) error {
	return fmt.Errorf("%w: expected \"type=... msg=audit(SECS.MILLIS:SERIAL):\", got %q",
		format.ErrMalformed, excerpt(line))
}

// excerpt shortens s for an error message; the whole line is in the result's Raw.
func excerpt(s []byte) string {
	const max = 80
	if len(s) <= max {
		return string(s)
	}
	return string(s[:max]) + "..."
}

// nextField finds the first key=value pair of s at or after offset i and returns the spans
// of its key and of its value as written (quoted, hex or bare), and the offset to go on
// from; ok is false when s holds no more pairs. Values are bare, "double-quoted" or
// 'single-quoted' (user-space records nest a message that way); the kernel hex-encodes any
// string holding a quote or space, so quotes need no escaping. Words without '=' and pairs
// with an empty key are skipped.
//
// It scans the text once and keeps nothing, so a record is read without building a list or
// a map of all its fields: callers look only at the keys they need.
func nextField(s []byte, i int) (key, val span, ok bool) {
	n := len(s)
	for i < n {
		for i < n && s[i] == ' ' {
			i++
		}
		start := i
		for i < n && s[i] != '=' && s[i] != ' ' {
			i++
		}
		if i >= n || s[i] != '=' {
			continue
		}
		kend := i
		i++ // '='
		vstart := i
		i = valueEnd(s, i)
		if kend > start {
			return span{start, kend}, span{vstart, i}, true
		}
	}
	return key, val, false
}

// valueEnd returns the end of the value that starts at i of s: past the closing quote of a
// quoted one, at the space after a bare one.
func valueEnd(s []byte, i int) int {
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		return min(scanTo(s, i+1, s[i])+1, len(s))
	}
	return scanTo(s, i, ' ')
}

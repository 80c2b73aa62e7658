package auditd

import (
	"github.com/rarenet/rarenet/shared/event"
)

// The unit tests of the record, value, sockaddr and syscall helpers were written against
// string-based helpers that built every field of a record. These adapters give them that
// shape on top of the byte-based functions the decoder runs, so the tests keep checking
// the code in use.

// record is a line split by splitRecord, as strings.
type record struct {
	raw, node, typ, stamp, body, enriched string
}

func parseRecord(line string) (record, error) {
	var h recordLine
	if !splitRecord([]byte(line), nil, nil, &h) {
		return record{raw: line}, headerError([]byte(line))
	}
	at := func(s span) string { return line[s.start:s.end] }
	return record{raw: line, node: at(h.node), typ: at(h.typ), stamp: at(h.stamp), body: at(h.body), enriched: at(h.enriched)}, nil
}

// field is a pair found by nextField, as strings.
type field struct {
	key, val string
}

// parseFields appends every pair nextField finds in s to dst.
func parseFields(s string, dst []field) []field {
	b := []byte(s)
	for i := 0; ; {
		k, v, ok := nextField(b, i)
		if !ok {
			return dst
		}
		dst = append(dst, field{s[k.start:k.end], s[v.start:v.end]})
		i = v.end
	}
}

func get(fs []field, key string) string {
	for _, f := range fs {
		if f.key == key {
			return f.val
		}
	}
	return ""
}

func decodeString(v string) string { return string(appendValue(nil, []byte(v))) }

func decodeProctitle(v string) (title string, args []string) {
	pt, _ := parseProctitle(nil, []byte(v))
	if !pt.ok {
		return "", nil
	}
	return string(pt.text), New().titleArgs(nil, pt)
}

// execveArgs runs the decoder's execve on fields laid out in a buffer of their own.
func execveArgs(fs []field) []string {
	var x execve
	var buf []byte
	for _, f := range fs {
		k := span{len(buf), len(buf) + len(f.key)}
		buf = append(buf, f.key...)
		v := span{len(buf), len(buf) + len(f.val)}
		buf = append(buf, f.val...)
		x.fields = append(x.fields, kv{k, v})
	}
	var strs interner
	args, _ := x.argv(buf, nil, nil, &strs)
	return args
}

func parseSockaddr(saddr string, arch uint32, archKnown bool) (event.Endpoint, event.Network, error) {
	return New().sockaddr([]byte(saddr), arch, archKnown)
}

func isConnect(sys []field, name string) bool {
	arch, archOK := parseArch([]byte(get(sys, "arch")))
	return connectCall([]byte(get(sys, "syscall")), []byte(get(sys, "a0")), arch, archOK, []byte(name))
}

package auditd

import "net/netip"

// Bounds on a decoder's tables (the strings of interner, the entries of each memo). A
// fleet's events repeat a few thousand values (the process names, executables, working
// directories, arguments, hosts, users and the addresses they connect to); when a log holds
// more, a table starts again, so its memory stays under about its bound in bytes plus the
// map's own cost, per decoder.
const (
	maxTableEntries = 8192
	maxTableBytes   = 512 << 10
	maxInternLen    = 512 // longer strings are rare enough to be allocated each time
)

// interner turns decoded bytes into strings, each distinct value allocated once while the
// table holds it. Events keep the strings beyond the Emit call that delivered them, so they
// must never alias a decoder's buffers; a table is what makes that free of allocations.
type interner struct {
	m     map[string]string
	bytes int
}

// str returns b as a string that is safe to keep.
func (t *interner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := t.m[string(b)]; ok { // the lookup does not allocate
		return s
	}
	s := string(b)
	if len(s) > maxInternLen {
		return s
	}
	if t.m == nil {
		t.m = make(map[string]string, 256)
	}
	if len(t.m) >= maxTableEntries || t.bytes+len(s) > maxTableBytes {
		clear(t.m)
		t.bytes = 0
	}
	t.m[s] = s
	t.bytes += len(s)
	return s
}

// memo remembers what a pure function made of its input, keyed by the input's bytes, so
// that a value seen again costs one lookup instead of decoding it again.
type memo[V any] struct {
	m     map[string]V
	bytes int
}

func (t *memo[V]) get(key []byte) (V, bool) {
	v, ok := t.m[string(key)]
	return v, ok
}

// put keeps v under key; size is what v holds besides the key, in bytes.
func (t *memo[V]) put(key []byte, v V, size int) {
	if len(key)+size > maxInternLen {
		return
	}
	if t.m == nil {
		t.m = make(map[string]V, 256)
	}
	if len(t.m) >= maxTableEntries || t.bytes+len(key)+size > maxTableBytes {
		clear(t.m)
		t.bytes = 0
	}
	t.m[string(key)] = v
	t.bytes += len(key) + size
}

// addresses turns addresses into their text as netip.Addr.String writes it, each distinct
// address formatted and allocated once while the table holds it. Keyed by the address
// rather than its text, a lookup needs neither formatting nor a comparison of strings.
type addresses struct {
	m4 map[[4]byte]string
	m6 map[[16]byte]string
}

func (t *addresses) v4(a netip.Addr) string {
	k := a.As4()
	if s, ok := t.m4[k]; ok {
		return s
	}
	if t.m4 == nil || len(t.m4) >= maxTableEntries {
		t.m4 = make(map[[4]byte]string, 256)
	}
	s := a.String()
	t.m4[k] = s
	return s
}

func (t *addresses) v6(a netip.Addr) string {
	k := a.As16()
	if s, ok := t.m6[k]; ok {
		return s
	}
	if t.m6 == nil || len(t.m6) >= maxTableEntries {
		t.m6 = make(map[[16]byte]string, 256)
	}
	s := a.String()
	t.m6[k] = s
	return s
}

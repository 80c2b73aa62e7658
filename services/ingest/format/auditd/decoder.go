// Package auditd decodes raw Linux audit logs (/var/log/audit/audit.log, optionally in
// auditd's ENRICHED log format or with node= prefixes from a central collector) into one
// normalized event per connect syscall.
//
// The kernel writes one event as several records (SYSCALL, SOCKADDR, CWD, PROCTITLE, ...)
// that share the stamp msg=audit(SECS.MILLIS:SERIAL), usually closed by an EOE record. The
// decoder groups records by host and stamp, and completes a group at its EOE, when too many
// groups are pending, when a group has been idle for long, or at Flush.
//
// # Speed
//
// Replaying a fleet's history needs the decoder at well over a million events a second on
// one core (about six lines and 730 bytes an event). Profiles of the first version
// (BenchmarkDecode on the generated history; go test -run '^$' -bench Decode -cpuprofile)
// showed 25 allocations and 4.4 kB an event and a third of the time in allocation and
// garbage collection: a string copy of every line, a slice of every field of every record,
// a map per group and per EXECVE record, a new event and Raw per result. Most of the rest
// went to splitting records into all their fields, though an event reads ten fields of the
// SYSCALL record and one of each other record, and to joining lines into Raw.
//
// So the decoder now reads each line in place (splitRecord; a record mostly shares the node
// and stamp of the one before, which a comparison then finds), copies a kept line once into
// its group's reused buffer (which is Raw), and finds only the fields an event reads:
// nextField scans a record once and keeps nothing, and a SYSCALL record in the kernel's
// order of fields is read by comparing each key as a word, the syscall decided after its
// first fields so that records of other syscalls cost little. Groups and the event are
// reused (format.Emit allows it), found by a word per pending group, and idle groups are
// looked for only when one may have aged out. What an event keeps goes through bounded
// per-decoder tables (intern.go): strings through an interner, addresses through tables
// keyed by the address, and the process part (name, executable, directory, title,
// arguments, user) through a memo keyed by the raw bytes it is decoded from, so a steady
// stream of events costs no allocation and most events decode no hex at all.
//
// Measured against the first version (kept in testdata/reference as the oracle of the
// differential tests and the baseline of the benchmarks) in the same run, in CPU time of
// the benchmark's thread, on a shared 2-core machine: 3.7 to 3.9 times the events a second
// on the generated history, 0 allocations an event against 25; Boundary, which the replay
// driver runs on every line, 1.9 times the lines a second and 0 allocations against 0.7 a
// line. The figures and commands are in BenchmarkDecode and BenchmarkBoundary.
package auditd

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// Bounds on pending groups. Logs without EOE records (older kernels, user-space records,
// lost records) would otherwise grow memory without limit; records of one event are written
// together, so an event still open after this many other groups or lines is over.
const (
	maxPending   = 32
	maxIdleLines = 1000
)

// ErrNoSockaddr is wrapped by the reject of a connect whose SOCKADDR record is missing or
// cannot be decoded; it also wraps format.ErrMalformed.
var ErrNoSockaddr = fmt.Errorf("%w: connect without a decodable SOCKADDR", format.ErrMalformed)

// Decoder groups audit records into events and emits one Result per connect syscall. It
// implements format.Decoder; keep one per source.
//
// A Result's Event and Raw are the decoder's own and are reused once Emit returns, as the
// format.Emit contract allows; the strings in an Event are safe to keep.
type Decoder struct {
	pending []*group // in order of arrival of each group's first record
	tags    []uint64 // the tag of each pending group
	free    []*group // groups to reuse
	lines   int64    // lines seen, to age groups independently of the caller's numbering
	idle    int64    // at most the least lastSeen of the pending groups

	ev       event.Event
	meta     event.Meta // the event.* group of every event, copied into category and types
	category []string
	types    []string
	args     []string
	exec     execve
	strs     interner
	procs    memo[*process]
	ips      addresses
	key      []byte     // a memo key being built
	rec      recordLine // the line being decoded
	scratch  []byte     // a value being decoded
	title    []byte     // a decoded process title
	saddr    []byte     // a decoded struct sockaddr
}

var _ format.Decoder = (*Decoder)(nil)

// New returns a Decoder with nothing pending.
func New() *Decoder {
	return &Decoder{meta: event.Connection("connected-to")}
}

// Decode takes the next line of the audit log. Results are emitted in the order their
// groups complete, which depends only on the input, so output is deterministic.
func (d *Decoder) Decode(l format.Line, emit format.Emit) {
	d.lines++
	if blank(l.Data) {
		d.expire(emit)
		return
	}
	var node, stamp []byte
	if n := len(d.pending); n > 0 {
		node, stamp = d.pending[n-1].node(), d.pending[n-1].stamp()
	}
	h := &d.rec
	if !splitRecord(l.Data, node, stamp, h) {
		emit(format.Result{Err: headerError(l.Data), Source: l.Source, Line: l.Num, Raw: l.Data})
		d.expire(emit)
		return
	}
	node, stamp = h.node.in(l.Data), h.stamp.in(l.Data)
	t := tag(node, stamp)
	g := d.find(t, node, stamp)
	if g == nil {
		g = d.newGroup()
		g.start(node, stamp, l.Source, l.Num)
		d.pending = append(d.pending, g)
		d.tags = append(d.tags, t)
	}
	g.lastSeen = d.lines
	g.add(l.Data, h)

	switch {
	case h.kind == kindEOE:
		d.complete(g, emit)
	case len(d.pending) > maxPending:
		d.complete(d.pending[0], emit)
	}
	d.expire(emit)
}

// blank reports whether a line holds only white space. Records start with a letter, so the
// first byte mostly decides.
func blank(line []byte) bool {
	if len(line) > 0 && line[0] > ' ' && line[0] < 0x80 {
		return false
	}
	return len(bytes.TrimSpace(line)) == 0
}

// Flush completes every pending group, oldest first.
func (d *Decoder) Flush(emit format.Emit) {
	for len(d.pending) > 0 {
		d.complete(d.pending[0], emit)
	}
}

// find returns the pending group of node and stamp, whose tag is t, or nil. Few groups are
// pending (at most maxPending+1, in logs without EOE records), and the latest is the
// likeliest, so a scan of their tags from the end beats a map.
func (d *Decoder) find(t uint64, node, stamp []byte) *group {
	for i := len(d.tags) - 1; i >= 0; i-- {
		if d.tags[i] == t && d.pending[i].is(node, stamp) {
			return d.pending[i]
		}
	}
	return nil
}

// tag sums up a group's key in a word, so that finding a group mostly compares words: the
// end of the stamp (the serial, which differs from one event to the next) and the lengths.
func tag(node, stamp []byte) uint64 {
	var t uint64
	if n := len(stamp); n >= 8 {
		t = binary.LittleEndian.Uint64(stamp[n-8:])
	} else {
		for _, c := range stamp {
			t = t<<8 | uint64(c)
		}
	}
	return t ^ uint64(len(stamp))<<56 ^ uint64(len(node))<<48
}

func (d *Decoder) newGroup() *group {
	if n := len(d.free); n > 0 {
		g := d.free[n-1]
		d.free = d.free[:n-1]
		return g
	}
	return &group{}
}

// expire completes groups that have seen no record for maxIdleLines lines. It looks at them
// only when the oldest may be that old: idle is at most the least lastSeen of the pending
// groups, which only grows as groups get records or complete.
func (d *Decoder) expire(emit format.Emit) {
	if d.lines-d.idle <= maxIdleLines {
		return
	}
	for i := 0; i < len(d.pending); {
		g := d.pending[i]
		if d.lines-g.lastSeen <= maxIdleLines {
			i++
			continue
		}
		d.complete(g, emit) // removes pending[i], so i stays
	}
	d.idle = d.lines
	for _, g := range d.pending {
		d.idle = min(d.idle, g.lastSeen)
	}
}

// complete removes g from the pending set and emits its result, if it has one.
func (d *Decoder) complete(g *group, emit format.Emit) {
	for i, p := range d.pending {
		if p == g {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			d.tags = append(d.tags[:i], d.tags[i+1:]...)
			break
		}
	}
	if g.state == stateConnect {
		emit(d.result(g))
	}
	d.free = append(d.free, g)
}

// Package reference is the auditd decoder as it was before it was rewritten for speed
// (rarenet commit b67658a, services/ingest/format/auditd), kept unchanged but for this
// comment and the package name. The package's differential test decodes the same input
// with both and requires the same events and rejects, and its benchmark reports the new
// decoder's speed as a ratio against this one. It lives under testdata so that only tests
// build it.
//
// The original package comment:
//
// Package auditd decodes raw Linux audit logs (/var/log/audit/audit.log, optionally in
// auditd's ENRICHED log format or with node= prefixes from a central collector) into one
// normalized event per connect syscall.
//
// The kernel writes one event as several records (SYSCALL, SOCKADDR, CWD, PROCTITLE, ...)
// that share the stamp msg=audit(SECS.MILLIS:SERIAL), usually closed by an EOE record. The
// decoder groups records by host and stamp, and completes a group at its EOE, when too many
// groups are pending, when a group has been idle for long, or at Flush.
package reference

import (
	"bytes"
	"fmt"

	"github.com/rarenet/rarenet/services/ingest/format"
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
type Decoder struct {
	pending []*group // in order of arrival of each group's first record
	index   map[groupKey]*group
	lines   int64 // lines seen, to age groups independently of the caller's numbering
}

var _ format.Decoder = (*Decoder)(nil)

// New returns a Decoder with nothing pending.
func New() *Decoder {
	return &Decoder{index: make(map[groupKey]*group)}
}

// Decode takes the next line of the audit log. Results are emitted in the order their
// groups complete, which depends only on the input, so output is deterministic.
func (d *Decoder) Decode(l format.Line, emit format.Emit) {
	d.lines++
	if len(bytes.TrimSpace(l.Data)) == 0 {
		d.expire(emit)
		return
	}
	rec, err := parseRecord(string(l.Data))
	if err != nil {
		emit(format.Result{Err: err, Source: l.Source, Line: l.Num, Raw: bytes.Clone(l.Data)})
		d.expire(emit)
		return
	}
	rec.num = l.Num
	k := groupKey{node: rec.node, stamp: rec.stamp}
	g := d.index[k]
	if g == nil {
		g = &group{key: k, source: l.Source, first: l.Num}
		d.index[k] = g
		d.pending = append(d.pending, g)
	}
	g.lastSeen = d.lines
	g.add(rec)

	switch {
	case rec.typ == "EOE":
		d.complete(g, emit)
	case len(d.pending) > maxPending:
		d.complete(d.pending[0], emit)
	}
	d.expire(emit)
}

// Flush completes every pending group, oldest first.
func (d *Decoder) Flush(emit format.Emit) {
	for len(d.pending) > 0 {
		d.complete(d.pending[0], emit)
	}
}

// expire completes groups that have seen no record for maxIdleLines lines.
func (d *Decoder) expire(emit format.Emit) {
	for i := 0; i < len(d.pending); {
		g := d.pending[i]
		if d.lines-g.lastSeen <= maxIdleLines {
			i++
			continue
		}
		d.complete(g, emit) // removes pending[i], so i stays
	}
}

// complete removes g from the pending set and emits its result, if it has one.
func (d *Decoder) complete(g *group, emit format.Emit) {
	delete(d.index, g.key)
	for i, p := range d.pending {
		if p == g {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			break
		}
	}
	if res, ok := g.result(); ok {
		emit(res)
	}
}

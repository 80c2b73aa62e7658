package reference

import "github.com/rarenet/rarenet/services/ingest/format"

// groupKey identifies the records of one event. The serial alone repeats after a reboot and
// across hosts of a central log, so the whole stamp and the node are part of it.
type groupKey struct {
	node, stamp string
}

// groupState says whether a group's SYSCALL record has been seen and what it was.
type groupState uint8

const (
	stateUnknown groupState = iota // no SYSCALL yet: keep every record
	stateConnect                   // a connect: keep every record for the event and its Raw
	stateIgnored                   // another syscall: records are dropped as they come
)

// group collects the records of one event until it completes.
type group struct {
	key      groupKey
	source   string
	first    int64 // line number of the first record
	lastSeen int64 // the decoder's line count at the latest record, for ageing
	state    groupState
	records  []record
	sys      []field // the SYSCALL record's fields once seen
	sysEnr   []field // its ENRICHED names
	arch     uint32
	archOK   bool
}

// add files a record into the group, deciding at the SYSCALL record whether the group is
// worth keeping.
func (g *group) add(r record) {
	if g.state == stateIgnored {
		return
	}
	if r.typ == "SYSCALL" && g.sys == nil {
		g.sys = parseFields(r.body, nil)
		if r.enriched != "" {
			g.sysEnr = parseFields(r.enriched, nil)
		}
		if !isConnect(g.sys, get(g.sysEnr, "SYSCALL")) {
			g.state = stateIgnored
			g.records = nil
			return
		}
		g.arch, g.archOK = parseArch(get(g.sys, "arch"))
		g.state = stateConnect
	}
	if g.records == nil {
		g.records = make([]record, 0, 8) // a connect event has about five records
	}
	g.records = append(g.records, r)
}

// result returns the event or reject of a completed group; ok is false for groups that are
// not connects.
func (g *group) result() (res format.Result, ok bool) {
	if g.state != stateConnect {
		return res, false
	}
	res = format.Result{Source: g.source, Line: g.first, Raw: g.raw()}
	ev, err := g.event()
	if err != nil {
		res.Err = err
	} else {
		res.Event = ev
	}
	return res, true
}

// raw joins the group's lines, so a dead letter carries the whole event.
func (g *group) raw() []byte {
	n := 0
	for _, r := range g.records {
		n += len(r.raw) + 1
	}
	b := make([]byte, 0, n)
	for i, r := range g.records {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, r.raw...)
	}
	return b
}

package reference

import "bytes"

// Boundary tells, line by line, where an audit log may be cut into raw messages without
// splitting an event. Ingest decodes each raw message on its own (its replicas share the
// input), so the sources that publish audit logs (`rarenet replay`, `rarenet tail`) cut only
// where Boundary allows, and fall back to cutting anywhere only when a log gives no such place
// within a message's limits.
//
// A cut is safe before a record that starts a new event (another stamp than its host's
// previous record) when no event of any host may still get records:
//
//   - an event closed by its EOE record is over;
//   - in a log that writes EOE records, an event without a SYSCALL record is a single-record
//     one (user space, daemon) and is over; one with a SYSCALL record is over at its EOE, as
//     the kernel may interleave the records of two events of one host;
//   - in a log without EOE records, a host's event is over when the host moves on to another
//     stamp; another host's event may still continue (central logs interleave hosts), so such
//     logs of several hosts are cut only at the limits;
//   - an event that got no record for maxIdleLines lines, or while maxPending newer events
//     started, is over (the decoder completes it then too).
//
// Lines that are not audit records never start an event. Other formats have none: every line
// is a safe place, and Open is always false.
type Boundary struct {
	nodes  map[string][]*eventState // the events of each host not known over, by node
	eoe    bool                     // the log writes EOE records
	lines  int64
	events int64       // events started
	last   *eventState // the event of the latest record
}

// eventState is an event of one host.
type eventState struct {
	stamp   string
	syscall bool  // it has its SYSCALL record
	closed  bool  // its EOE record came
	seen    int64 // the line count at its latest record
	after   int64 // the events started before its latest record
}

// Add takes the next line and reports whether the log may be cut right before it.
func (b *Boundary) Add(line []byte) bool {
	b.lines++
	node, typ, stamp, ok := header(line)
	if !ok {
		return b.over(nil)
	}
	if b.nodes == nil {
		b.nodes = map[string][]*eventState{}
	}
	events := b.nodes[string(node)]
	var e *eventState
	for _, x := range events {
		if x.stamp == string(stamp) {
			e = x
		}
	}
	cut := false
	if e == nil {
		cut = b.over(events)
		events = b.nodes[string(node)] // over forgets what is over
		if !b.eoe {
			events = events[:0] // the host moved on: its earlier event is over
		}
		e = &eventState{stamp: string(stamp)}
		b.events++
		events = append(events, e)
		b.nodes[string(node)] = events
	}
	e.seen, e.after = b.lines, b.events
	switch string(typ) {
	case "SYSCALL":
		e.syscall = true
	case "EOE":
		e.closed, b.eoe = true, true
	}
	b.last = e
	return cut
}

// Open reports whether an event may continue after the lines given so far: a cut there might
// split it. The event of the latest record counts as open unless it is closed.
func (b *Boundary) Open() bool {
	if b.last != nil && !b.last.closed && b.lines-b.last.seen <= maxIdleLines {
		return true
	}
	return !b.over(nil)
}

// Reset forgets the events seen, as at the start of a log; it keeps whether the log writes
// EOE records. A tailer calls it where it starts reading again at a safe place.
func (b *Boundary) Reset() {
	clear(b.nodes)
	b.last = nil
}

// over reports whether every event is over, but those of moving, the host whose next record
// starts a new event, in a log without EOE records. It forgets the events that are over.
func (b *Boundary) over(moving []*eventState) bool {
	all := true
	for node, events := range b.nodes {
		kept := events[:0]
		for _, e := range events {
			if !b.done(e) {
				kept = append(kept, e)
			}
		}
		clear(events[len(kept):])
		if len(kept) == 0 {
			delete(b.nodes, node) // forgetting idle hosts bounds what is kept
			continue
		}
		b.nodes[node] = kept
		if !b.eoe && len(moving) > 0 && &moving[0] == &events[0] {
			continue
		}
		all = false
	}
	return all
}

// done reports whether e can get no more records, on what is known of the log. Like the
// decoder, it gives up on an event after maxIdleLines lines or maxPending newer events
// without a record of it (lost EOE records).
func (b *Boundary) done(e *eventState) bool {
	return e.closed || b.eoe && !e.syscall || b.lines-e.seen > maxIdleLines || b.events-e.after > maxPending
}

// header finds the node, type and stamp of an audit record without allocating; ok is false
// for lines that are not audit records.
func header(line []byte) (node, typ, stamp []byte, ok bool) {
	s := bytes.TrimLeft(line, " \t")
	if rest, found := bytes.CutPrefix(s, []byte("node=")); found {
		var after []byte
		if node, after, found = bytes.Cut(rest, []byte(" ")); !found {
			return nil, nil, nil, false
		}
		s = bytes.TrimLeft(after, " ")
	}
	rest, found := bytes.CutPrefix(s, []byte("type="))
	if !found {
		return nil, nil, nil, false
	}
	typ, rest, found = bytes.Cut(rest, []byte(" "))
	if !found || len(typ) == 0 {
		return nil, nil, nil, false
	}
	rest, found = bytes.CutPrefix(bytes.TrimLeft(rest, " "), []byte("msg=audit("))
	if !found {
		return nil, nil, nil, false
	}
	stamp, _, found = bytes.Cut(rest, []byte(")"))
	if !found || len(stamp) == 0 {
		return nil, nil, nil, false
	}
	return node, typ, stamp, true
}

package auditd

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
	hosts  map[string]*hostEvents // every host seen lately, by node
	active []*hostEvents          // the hosts with events not known over
	eoe    bool                   // the log writes EOE records
	lines  int64
	events int64       // events started
	last   *eventState // the event of the latest record
	free   []*eventState
	// lastHost is the host of the latest record, which the next most often shares.
	lastHost *hostEvents
}

// hostEvents holds the events of one host not known over.
type hostEvents struct {
	node   []byte
	events []*eventState
	active bool // in Boundary.active: it has events
}

// eventState is an event of one host.
type eventState struct {
	stamp   []byte
	syscall bool  // it has its SYSCALL record
	closed  bool  // its EOE record came
	seen    int64 // the line count at its latest record
	after   int64 // the events started before its latest record
}

// maxHosts bounds the hosts a Boundary remembers; past it, the hosts without events not
// known over are forgotten.
const maxHosts = 4096

// Add takes the next line and reports whether the log may be cut right before it.
func (b *Boundary) Add(line []byte) bool {
	b.lines++
	var lastNode, lastStamp []byte
	if b.lastHost != nil && b.last != nil {
		lastNode, lastStamp = b.lastHost.node, b.last.stamp
	}
	node, typ, stamp, ok := header(line, lastNode, lastStamp)
	if !ok {
		return b.over(nil)
	}
	h := b.lastHost
	if h == nil || string(h.node) != string(node) {
		h = b.host(node)
		b.lastHost = h
	}
	var e *eventState
	for _, x := range h.events {
		if string(x.stamp) == string(stamp) {
			e = x
		}
	}
	cut := false
	if e == nil {
		cut = b.over(h) // over forgets what is over
		if !b.eoe {
			// The host moved on: its earlier event is over.
			b.free = append(b.free, h.events...)
			clear(h.events)
			h.events = h.events[:0]
		}
		e = b.newEvent(stamp)
		b.events++
		h.events = append(h.events, e)
		if !h.active {
			h.active = true
			b.active = append(b.active, h)
		}
	}
	e.seen, e.after = b.lines, b.events
	switch typ {
	case kindSyscall:
		e.syscall = true
	case kindEOE:
		e.closed, b.eoe = true, true
	}
	b.last = e
	return cut
}

// host returns the events of node, remembering the host if new.
func (b *Boundary) host(node []byte) *hostEvents {
	if h, ok := b.hosts[string(node)]; ok {
		return h
	}
	if b.hosts == nil {
		b.hosts = map[string]*hostEvents{}
	}
	if len(b.hosts) >= maxHosts {
		for k, h := range b.hosts {
			if !h.active && h != b.lastHost {
				delete(b.hosts, k)
			}
		}
	}
	h := &hostEvents{node: bytes.Clone(node)}
	b.hosts[string(node)] = h
	return h
}

// newEvent returns an event of stamp, reusing one that is over.
func (b *Boundary) newEvent(stamp []byte) *eventState {
	var e *eventState
	if n := len(b.free); n > 0 {
		e = b.free[n-1]
		b.free = b.free[:n-1]
	} else {
		e = &eventState{}
	}
	*e = eventState{stamp: append(e.stamp[:0], stamp...)}
	return e
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
	for _, h := range b.active {
		b.free = append(b.free, h.events...)
		clear(h.events)
		h.events, h.active = h.events[:0], false
	}
	clear(b.active)
	b.active = b.active[:0]
	b.last, b.lastHost = nil, nil
}

// over reports whether every event is over, but those of moving, the host whose next record
// starts a new event, in a log without EOE records. It forgets the events that are over.
// (An event it forgets may still be b.last: Open reads it until the next Add replaces it,
// and only Add reuses forgotten events.)
func (b *Boundary) over(moving *hostEvents) bool {
	all := true
	for i := 0; i < len(b.active); {
		h := b.active[i]
		kept := h.events[:0]
		for _, e := range h.events {
			if b.done(e) {
				b.free = append(b.free, e)
			} else {
				kept = append(kept, e)
			}
		}
		clear(h.events[len(kept):])
		h.events = kept
		if len(kept) == 0 {
			// Forgetting idle hosts bounds what is kept.
			h.active = false
			last := len(b.active) - 1
			b.active[i], b.active[last] = b.active[last], nil
			b.active = b.active[:last]
			continue
		}
		i++
		if !b.eoe && h == moving {
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
// for lines that are not audit records. Unlike splitRecord it validates nothing more than
// the shape: a cut needs no more. lastNode and lastStamp are those of the latest record:
// compared, they spare most scans.
func header(line, lastNode, lastStamp []byte) (node []byte, typ recordKind, stamp []byte, ok bool) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if hasPrefixAt(line, i, "node=") {
		i += len("node=")
		j := i + len(lastNode) // it holds no space: it was cut at the first
		if j >= len(line) || line[j] != ' ' || string(line[i:j]) != string(lastNode) {
			if j = scanTo(line, i, ' '); j == len(line) {
				return nil, 0, nil, false
			}
		}
		node, i = line[i:j], skipSpaces(line, j+1)
	}
	if !hasPrefixAt(line, i, "type=") {
		return nil, 0, nil, false
	}
	i += len("type=")
	typ, n := knownType(line, i)
	j := i + n
	if n == 0 {
		if j = scanTo(line, i, ' '); j == len(line) || j == i {
			return nil, 0, nil, false
		}
	}
	i = skipSpaces(line, j+1)
	if !hasPrefixAt(line, i, "msg=audit(") {
		return nil, 0, nil, false
	}
	i += len("msg=audit(")
	j = i + len(lastStamp) // it holds no ')': it was cut at the first
	if len(lastStamp) == 0 || j >= len(line) || line[j] != ')' || string(line[i:j]) != string(lastStamp) {
		if j = scanTo(line, i, ')'); j == len(line) || j == i {
			return nil, 0, nil, false
		}
	}
	return node, typ, line[i:j], true
}

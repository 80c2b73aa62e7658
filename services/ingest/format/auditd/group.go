package auditd

// groupState says whether a group's SYSCALL record has been seen and what it was.
type groupState uint8

const (
	stateUnknown groupState = iota // no SYSCALL yet: keep every record
	stateConnect                   // a connect: keep every record for the event and its Raw
	stateIgnored                   // another syscall: records are dropped as they come
)

// maxKeptBuffer bounds the buffer a group keeps for the next event it serves, so one huge
// event (a long EXECVE) does not hold its memory for the life of the decoder.
const maxKeptBuffer = 64 << 10

// group collects the records of one event until it completes. The records' lines are
// copied into buf, the result's Raw; the decoder reuses groups, so a group's slices outlive
// the event that filled them.
type group struct {
	// key identifies the records of one event: the node, then the stamp. The serial alone
	// repeats after a reboot and across hosts of a central log, so the whole stamp and the
	// node are part of it.
	key      []byte
	nodeLen  int
	source   string
	first    int64 // line number of the first record
	lastSeen int64 // the decoder's line count at the latest record, for ageing
	state    groupState
	haveSys  bool
	lines    int         // lines in buf
	buf      []byte      // the lines kept, joined by '\n'
	records  []recordRef // the records kept that an event reads, in order
	sys      syscallRecord
	arch     uint32
	archOK   bool
}

// recordRef is a record of a group that an event reads: its kind and where its body lies in
// the group's buffer.
type recordRef struct {
	kind recordKind
	body span
}

func (g *group) node() []byte  { return g.key[:g.nodeLen] }
func (g *group) stamp() []byte { return g.key[g.nodeLen:] }

// is reports whether g holds the records of node and stamp.
func (g *group) is(node, stamp []byte) bool {
	return len(g.key) == len(node)+len(stamp) && g.nodeLen == len(node) &&
		string(g.stamp()) == string(stamp) && string(g.node()) == string(node)
}

// start readies a new or reused group for the event of node and stamp.
func (g *group) start(node, stamp []byte, source string, first int64) {
	if cap(g.buf) > maxKeptBuffer {
		g.buf = nil
	}
	g.key = append(append(g.key[:0], node...), stamp...)
	g.nodeLen = len(node)
	g.source, g.first = source, first
	g.state, g.haveSys = stateUnknown, false
	g.lines, g.buf, g.records = 0, g.buf[:0], g.records[:0]
}

// add files the record of header h in line into the group, deciding at the SYSCALL record
// whether the group is worth keeping.
func (g *group) add(line []byte, h *recordLine) {
	if g.state == stateIgnored {
		return
	}
	if g.lines > 0 {
		g.buf = append(g.buf, '\n')
	}
	off := len(g.buf)
	g.buf = append(g.buf, line...)
	g.lines++
	body, enriched := h.body.shift(off), h.enriched.shift(off)
	if h.kind == kindSyscall && !g.haveSys {
		g.haveSys = true
		var connect bool
		if g.sys, connect = parseSyscall(g.buf, body, enriched); !connect {
			g.state = stateIgnored
			g.lines, g.buf, g.records = 0, g.buf[:0], g.records[:0]
			return
		}
		g.arch, g.archOK = parseArch(g.sys.arch.in(g.buf))
		g.state = stateConnect
	}
	switch h.kind {
	case kindSockaddr, kindCwd, kindProctitle, kindExecve:
		g.records = append(g.records, recordRef{kind: h.kind, body: body})
	}
}

package auditd

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// einprogress is the exit of a non-blocking connect that was started but not finished: an
// attempt whose outcome the syscall cannot tell.
const einprogress = -115

// result returns the event or reject of a completed connect group. The event is the
// decoder's own and Raw is the group's buffer: both are reused once Emit returns.
func (d *Decoder) result(g *group) format.Result {
	res := format.Result{Source: g.source, Line: g.first, Raw: g.buf}
	if err := d.event(g); err != nil {
		res.Err = err
	} else {
		res.Event = &d.ev
	}
	return res
}

// event fills the decoder's event from a connect group.
func (d *Decoder) event(g *group) error {
	ts, err := stampTime(g.stamp())
	if err != nil {
		return err
	}
	buf := g.buf
	var saddr, cwd, title span // the bodies of the last CWD and PROCTITLE records
	haveSaddr := false
	execs := 0
	for _, r := range g.records {
		switch r.kind {
		case kindSockaddr:
			if !haveSaddr {
				saddr, haveSaddr = findField(buf, r.body, "saddr")
			}
		case kindCwd:
			cwd = r.body
		case kindProctitle:
			title = r.body
		case kindExecve:
			execs++
		}
	}
	if !haveSaddr {
		return fmt.Errorf("%w: expected a SOCKADDR record with saddr for stamp %s", ErrNoSockaddr, g.stamp())
	}
	dst, nw, err := d.sockaddr(saddr.in(buf), g.arch, g.archOK)
	if err != nil {
		return err
	}
	nw.Direction = "egress"

	sys := &g.sys
	d.ev = event.Event{
		Timestamp:   ts,
		Event:       d.connection(),
		Host:        event.Host{Name: d.strs.str(g.node()), OS: event.OS{Type: "linux"}},
		Destination: dst,
		Network:     nw,
		Origin:      event.Origin{Source: g.source, Line: g.first, Format: format.Auditd},
	}
	ev := &d.ev
	ev.Event.Outcome, ev.Event.Module, ev.Event.Dataset = outcome(sys.exit.in(buf), sys.success.in(buf)), "auditd", "auditd.log"
	p := &ev.Process
	p.PID, _ = parseDecimal(sys.pid.in(buf))
	p.Parent.PID, _ = parseDecimal(sys.ppid.in(buf))
	proc := d.process(g, cwd, title, execs)
	p.Name, p.Executable, p.WorkingDirectory, p.Title = proc.name, proc.exe, proc.cwd, proc.title
	ev.User.ID, ev.User.Name = proc.uid, proc.user
	d.args = append(d.args[:0], proc.args...)
	if len(d.args) > 0 {
		p.Args = d.args
	}
	return nil
}

// process is what an event says of its process and user, besides the pids.
type process struct {
	name, exe, cwd, title string
	args                  []string
	uid, user             string
}

// process returns the process of a connect group, whose last CWD and PROCTITLE records have
// the bodies cwd and title and which has execs EXECVE records. The same process connects
// many times, so the result is remembered, keyed by every byte it depends on.
func (d *Decoder) process(g *group, cwd, title span, execs int) *process {
	buf, sys := g.buf, &g.sys
	key := d.key[:0]
	for _, s := range [...]span{sys.comm, sys.exe, sys.uid, sys.uidName, cwd, title} {
		key = appendPart(key, s.in(buf))
	}
	key = binary.AppendUvarint(key, uint64(execs))
	for _, r := range g.records {
		if r.kind == kindExecve {
			key = appendPart(key, r.body.in(buf))
		}
	}
	d.key = key
	if p, ok := d.procs.get(key); ok {
		return p
	}

	p := &process{}
	p.name = d.text(sys.comm.in(buf))
	p.exe = d.text(sys.exe.in(buf))
	v, _ := findField(buf, cwd, "cwd")
	p.cwd = d.text(v.in(buf))
	v, _ = findField(buf, title, "proctitle")
	var pt proctitle
	pt, d.title = parseProctitle(d.title, v.in(buf))
	p.title = d.strs.str(pt.text)
	d.exec.reset()
	for _, r := range g.records {
		if r.kind == kindExecve {
			// Long argument lists span several EXECVE records of one event.
			d.exec.add(buf, r.body)
		}
	}
	d.args, d.scratch = d.exec.argv(buf, d.args[:0], d.scratch, &d.strs)
	if len(d.args) == 0 && pt.ok {
		d.args = d.titleArgs(d.args, pt)
	}
	size := 16 * len(d.args)
	if len(d.args) > 0 {
		p.args = slices.Clone(d.args)
	}
	p.uid, p.user = d.user(sys.uid.in(buf), sys.uidName.in(buf))
	for _, s := range [...]string{p.name, p.exe, p.cwd, p.title, p.uid, p.user} {
		size += len(s)
	}
	d.procs.put(key, p, size)
	return p
}

// appendPart appends b to a memo key, length first, so that parts cannot run into each other.
func appendPart(key, b []byte) []byte {
	return append(binary.AppendUvarint(key, uint64(len(b))), b...)
}

// connection returns the event.* group of a connect, in slices the decoder reuses.
func (d *Decoder) connection() event.Meta {
	m := d.meta
	d.category = append(d.category[:0], m.Category...)
	d.types = append(d.types[:0], m.Type...)
	m.Category, m.Type = d.category, d.types
	return m
}

// titleArgs appends the arguments of a process title to args.
func (d *Decoder) titleArgs(args []string, pt proctitle) []string {
	if !pt.split {
		return append(args, d.strs.str(pt.args))
	}
	for rest := pt.args; ; {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return append(args, d.strs.str(rest))
		}
		args = append(args, d.strs.str(rest[:i]))
		rest = rest[i+1:]
	}
}

// text returns the text of a string field (see appendValue) as a string safe to keep.
func (d *Decoder) text(v []byte) string {
	d.scratch = appendValue(d.scratch[:0], v)
	return d.strs.str(d.scratch)
}

// findField returns the value of the first field key in the record body at body of buf.
func findField(buf []byte, body span, key string) (span, bool) {
	s := buf[:body.end]
	// Records an event reads have one field, or the wanted one first.
	if j := skipSpaces(s, body.start) + len(key); hasPrefixAt(s, j-len(key), key) && j < len(s) && s[j] == '=' {
		return span{j + 1, valueEnd(s, j+1)}, true
	}
	for i := body.start; ; {
		k, v, ok := nextField(s, i)
		if !ok {
			return span{}, false
		}
		if string(k.in(s)) == key {
			return v, true
		}
		i = v.end
	}
}

// stampTime converts SECS.MILLIS of a stamp to UTC time. The fraction is milliseconds in
// practice but read as a decimal fraction of any length.
func stampTime(stamp []byte) (time.Time, error) {
	ts := stamp
	if i := bytes.IndexByte(ts, ':'); i >= 0 {
		ts = ts[:i]
	}
	secsText, frac := ts, []byte(nil)
	if i := bytes.IndexByte(ts, '.'); i >= 0 {
		secsText, frac = ts[:i], ts[i+1:]
	}
	secs, ok := parseDecimal(secsText)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: msg=audit(%s): expected SECS.MILLIS:SERIAL with SECS in range", format.ErrMalformed, stamp)
	}
	var nanos int64
	for i := 0; i < 9; i++ {
		nanos *= 10
		if i < len(frac) {
			nanos += int64(frac[i] - '0')
		}
	}
	return time.Unix(secs, nanos).UTC(), nil
}

// outcome maps the syscall's exit to event.outcome. Interpreted logs write the errno name,
// so names are accepted too.
func outcome(exit, success []byte) string {
	if n, ok := parseDecimal(exit); ok {
		switch {
		case n == einprogress:
			return "unknown"
		case n < 0:
			return "failure"
		default:
			return "success"
		}
	}
	switch {
	case bytes.HasPrefix(exit, []byte("EINPROGRESS")):
		return "unknown"
	case bytes.HasPrefix(exit, []byte("E")):
		return "failure"
	}
	switch string(success) {
	case "yes":
		return "success"
	case "no":
		return "failure"
	}
	return "unknown"
}

// user returns user.id and user.name. The kernel writes the numeric uid; ENRICHED logs add
// the name as the recording host resolved it, and interpreted logs replace the number.
func (d *Decoder) user(uid, enrichedName []byte) (id, name string) {
	if isDigits(uid) {
		id = d.strs.str(uid)
	} else if len(uid) > 0 {
		name = d.text(uid)
	}
	if n := d.text(enrichedName); n != "" {
		name = n
	}
	return id, name
}

// parseDecimal parses a signed decimal integer as strconv.ParseInt(s, 10, 64) does, value
// included where that fails (0, or the nearest bound when out of range); ok is false where
// it returns an error. Bad input costs no allocation.
func parseDecimal(s []byte) (n int64, ok bool) {
	if len(s) > 18 { // may be out of range: rare enough to let strconv decide
		n, err := strconv.ParseInt(string(s), 10, 64)
		return n, err == nil
	}
	digits := s
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if s[0] == '-' {
		n = -n
	}
	return n, true
}

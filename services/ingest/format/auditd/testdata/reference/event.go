package reference

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// einprogress is the exit of a non-blocking connect that was started but not finished: an
// attempt whose outcome the syscall cannot tell.
const einprogress = -115

// event builds the normalized event of a connect group.
func (g *group) event() (*event.Event, error) {
	ts, err := stampTime(g.key.stamp)
	if err != nil {
		return nil, err
	}
	var saddr string
	var haveSaddr bool
	var cwd, proctitle string
	var execve []field
	for _, r := range g.records {
		switch r.typ {
		case "SOCKADDR":
			if !haveSaddr {
				saddr, haveSaddr = lookup(parseFields(r.body, nil), "saddr")
			}
		case "CWD":
			cwd = get(parseFields(r.body, nil), "cwd")
		case "PROCTITLE":
			proctitle = get(parseFields(r.body, nil), "proctitle")
		case "EXECVE":
			// Long argument lists span several EXECVE records of one event.
			execve = parseFields(r.body, execve)
		}
	}
	if !haveSaddr {
		return nil, fmt.Errorf("%w: expected a SOCKADDR record with saddr for stamp %s", ErrNoSockaddr, g.key.stamp)
	}
	dst, nw, err := parseSockaddr(saddr, g.arch, g.archOK)
	if err != nil {
		return nil, err
	}
	nw.Direction = "egress"

	ev := &event.Event{
		Timestamp:   ts,
		Event:       event.Connection("connected-to"),
		Host:        event.Host{Name: g.key.node, OS: event.OS{Type: "linux"}},
		Destination: dst,
		Network:     nw,
		Origin:      event.Origin{Source: g.source, Line: g.first, Format: format.Auditd},
	}
	ev.Event.Outcome, ev.Event.Module, ev.Event.Dataset = outcome(g.sys), "auditd", "auditd.log"
	p := &ev.Process
	p.Name = decodeString(get(g.sys, "comm"))
	p.Executable = decodeString(get(g.sys, "exe"))
	p.PID = parseInt(get(g.sys, "pid"))
	p.Parent.PID = parseInt(get(g.sys, "ppid"))
	p.WorkingDirectory = decodeString(cwd)
	var titleArgs []string
	p.Title, titleArgs = decodeProctitle(proctitle)
	p.Args = execveArgs(execve)
	if p.Args == nil {
		p.Args = titleArgs
	}
	ev.User.ID, ev.User.Name = user(g.sys, g.sysEnr)
	return ev, nil
}

// stampTime converts SECS.MILLIS of a stamp to UTC time. The fraction is milliseconds in
// practice but read as a decimal fraction of any length.
func stampTime(stamp string) (time.Time, error) {
	ts, _, _ := strings.Cut(stamp, ":")
	secsText, frac, _ := strings.Cut(ts, ".")
	secs, err := strconv.ParseInt(secsText, 10, 64)
	if err != nil {
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
func outcome(sys []field) string {
	exit := get(sys, "exit")
	if n, err := strconv.ParseInt(exit, 10, 64); err == nil {
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
	case strings.HasPrefix(exit, "EINPROGRESS"):
		return "unknown"
	case strings.HasPrefix(exit, "E"):
		return "failure"
	}
	switch get(sys, "success") {
	case "yes":
		return "success"
	case "no":
		return "failure"
	}
	return "unknown"
}

// user returns user.id and user.name. The kernel writes the numeric uid; ENRICHED logs add
// the name as the recording host resolved it, and interpreted logs replace the number.
func user(sys, enr []field) (id, name string) {
	uid := get(sys, "uid")
	if isDigits(uid) {
		id = uid
	} else if uid != "" {
		name = decodeString(uid)
	}
	if n := decodeString(get(enr, "UID")); n != "" {
		name = n
	}
	return id, name
}

func parseInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

package falco

import (
	"fmt"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/field"
	"github.com/rarenet/rarenet/shared/event"
)

// isConnect tells whether the alert carries a connect.
func (a *alert) isConnect() bool {
	of := a.OutputFields
	if t, ok := of["evt.type"]; ok && t.Kind != field.Absent {
		return t.Text == "connect"
	}
	for _, k := range []string{"fd.sip", "fd.rip", "fd.sport"} {
		if of[k].Kind != field.Absent {
			return true
		}
	}
	return false
}

// event maps the alert; nil without error means it is not a connect.
func (a *alert) event() (*event.Event, error) {
	if a.OutputFields == nil && a.Rule == "" {
		return nil, fmt.Errorf("%w: expected a Falco alert with rule and output_fields, found neither", format.ErrMalformed)
	}
	if !a.isConnect() {
		return nil, nil
	}
	ts, err := a.time()
	if err != nil {
		return nil, err
	}
	var r field.Reader
	of := a.OutputFields
	str := func(name string) string { return r.Str("output_fields."+name, of[name]) }
	ev := &event.Event{
		Timestamp: ts,
		Event:     event.Connection("connect"),
		Host:      event.Host{Name: a.Hostname, OS: event.OS{Type: "linux"}},
		Process: event.Process{
			Name:             str("proc.name"),
			PID:              r.PID("output_fields.proc.pid", of["proc.pid"]),
			Executable:       str("proc.exepath"),
			WorkingDirectory: str("proc.cwd"),
			Parent:           event.Parent{PID: r.PID("output_fields.proc.ppid", of["proc.ppid"])},
		},
		User:    event.User{Name: str("user.name"), ID: r.ID("output_fields.user.uid", of["user.uid"])},
		Network: event.Network{Transport: str("fd.l4proto"), Direction: "egress"},
	}
	ev.Event.Outcome = outcome(str("evt.res"))
	p := &ev.Process
	if p.Executable == "" {
		// proc.exe is argv[0]: a path when the process was started by one.
		p.Executable = str("proc.exe")
	}
	if p.Name == "" {
		p.Name = field.Basename(p.Executable)
	}
	if cmdline := str("proc.cmdline"); cmdline != "" {
		p.Title, p.Args = cmdline, strings.Fields(cmdline)
	}
	if path, ok := a.unixPath(&r); ok {
		// Connects to AF_UNIX sockets are kept so the datafeed filter can say why it drops
		// them.
		ev.Destination.Path, ev.Network.Family, ev.Network.Direction = path, "unix", ""
	} else {
		ev.Source, ev.Destination = a.endpoints(&r)
		ev.Network.Type, ev.Network.Family = field.NetworkType(ev.Destination.IP)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return ev, nil
}

// unixPath returns the socket path of a connect to an AF_UNIX socket. Falco names such a
// socket "<kernel addr>-><peer kernel addr> <path>" (fd.type unix); an inet tuple never holds
// a space, so a space or a leading "/" or "@" (abstract socket) tells it without fd.type.
func (a *alert) unixPath(r *field.Reader) (string, bool) {
	name := r.Str("output_fields.fd.name", a.OutputFields["fd.name"])
	unix := r.Str("output_fields.fd.type", a.OutputFields["fd.type"]) == "unix" ||
		strings.ContainsRune(name, ' ') || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "@")
	if !unix {
		return "", false
	}
	if i := strings.LastIndexByte(name, ' '); i >= 0 {
		name = name[i+1:]
	}
	return name, true
}

// endpoints returns the client and server ends. On a connect the process is the client, so
// the destination is the server: fd.sip:fd.sport, else the remote end fd.rip:fd.rport, else
// the server half of fd.name ("cip:cport->sip:sport").
func (a *alert) endpoints(r *field.Reader) (src, dst event.Endpoint) {
	of := a.OutputFields
	pick := func(ipKeys, portKeys [2]string) event.Endpoint {
		for i := range ipKeys {
			if of[ipKeys[i]].Kind != field.Absent {
				return event.Endpoint{
					IP:   r.IP("output_fields."+ipKeys[i], of[ipKeys[i]]),
					Port: r.Port("output_fields."+portKeys[i], of[portKeys[i]]),
				}
			}
		}
		return event.Endpoint{}
	}
	src = pick([2]string{"fd.cip", "fd.lip"}, [2]string{"fd.cport", "fd.lport"})
	dst = pick([2]string{"fd.sip", "fd.rip"}, [2]string{"fd.sport", "fd.rport"})
	if dst.IP != "" && src.IP != "" {
		return src, dst
	}
	name := r.Str("output_fields.fd.name", of["fd.name"])
	if name == "" {
		return src, dst
	}
	client, server, ok := splitTuple(name)
	if !ok {
		r.Fail("output_fields.fd.name", "a connection tuple like 10.0.0.1:4242->93.184.216.34:443", field.Quote(name))
		return src, dst
	}
	if src.IP == "" {
		src = hostPort(r, client)
	}
	if dst.IP == "" {
		dst = hostPort(r, server)
	}
	return src, dst
}

// splitTuple splits Falco's fd.name of a connected socket into its client and server ends.
func splitTuple(name string) (client, server string, ok bool) {
	client, server, ok = strings.Cut(name, "->")
	return client, server, ok && client != "" && server != ""
}

// hostPort parses one end of fd.name: the port follows the last colon, so IPv6 addresses
// (written bare or in brackets) split right.
func hostPort(r *field.Reader, s string) event.Endpoint {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		r.Fail("output_fields.fd.name", "ip:port at each end", field.Quote(s))
		return event.Endpoint{}
	}
	return event.Endpoint{
		IP:   r.IP("output_fields.fd.name", field.Text(s[:i])),
		Port: r.Port("output_fields.fd.name", field.Text(s[i+1:])),
	}
}

// time reads the alert's time, or evt.time (epoch nanoseconds) when the sender dropped it.
func (a *alert) time() (time.Time, error) {
	if a.Time != "" {
		return field.RFC3339("time", a.Time)
	}
	var r field.Reader
	if v := a.OutputFields["evt.time"]; v.Kind != field.Absent {
		ns := r.Int("output_fields.evt.time", v, 1, 1<<62)
		return time.Unix(0, ns).UTC(), r.Err
	}
	return time.Time{}, field.Error("time", "an RFC 3339 time", "nothing")
}

// outcome maps evt.res: SUCCESS, an errno name such as ECONNREFUSED, or EINPROGRESS for a
// non-blocking connect that has only started.
func outcome(res string) string {
	switch {
	case res == "":
		return ""
	case res == "SUCCESS":
		return "success"
	case res == "EINPROGRESS":
		return "unknown"
	case strings.HasPrefix(res, "E"):
		return "failure"
	}
	return ""
}

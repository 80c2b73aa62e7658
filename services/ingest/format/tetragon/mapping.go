package tetragon

import (
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format/internal/field"
	"github.com/rarenet/rarenet/shared/event"
)

// tcpConnect is the kernel function whose kprobe carries an outbound TCP connect: at its
// entry the socket already holds both addresses, unlike tcp_v4_connect's.
const tcpConnect = "tcp_connect"

// event maps the envelope; nil without error means it is not a connect.
func (env *envelope) event() (*event.Event, error) {
	var r field.Reader
	var ev *event.Event
	switch {
	case env.ProcessConnect != nil:
		c := env.ProcessConnect
		ev = newEvent(&r, "process_connect", &c.Process, &c.Parent)
		ev.Source = event.Endpoint{
			IP:   r.IP("process_connect.source_ip", c.SourceIP),
			Port: r.Port("process_connect.source_port", c.SourcePort),
		}
		ev.Destination = event.Endpoint{
			IP:   r.IP("process_connect.destination_ip", c.DestinationIP),
			Port: r.Port("process_connect.destination_port", c.DestinationPort),
		}
		ev.Network.Transport = strings.ToLower(c.Protocol)
		ev.Network.Type, ev.Network.Family = field.NetworkType(ev.Destination.IP)
	case env.ProcessKprobe != nil && env.ProcessKprobe.FunctionName == tcpConnect:
		k := env.ProcessKprobe
		sock := k.sock()
		if sock == nil {
			return nil, field.Error("process_kprobe.args", "a sock_arg (tcp_connect's struct sock)", "none")
		}
		ev = newEvent(&r, "process_kprobe", &k.Process, &k.Parent)
		ev.Source = event.Endpoint{
			IP:   r.IP("process_kprobe.args.sock_arg.saddr", sock.Saddr),
			Port: r.Port("process_kprobe.args.sock_arg.sport", sock.Sport),
		}
		ev.Destination = event.Endpoint{
			IP:   r.IP("process_kprobe.args.sock_arg.daddr", sock.Daddr),
			Port: r.Port("process_kprobe.args.sock_arg.dport", sock.Dport),
		}
		ev.Network.Transport = strings.ToLower(strings.TrimPrefix(sock.Protocol, "IPPROTO_"))
		ev.Network.Family = strings.ToLower(strings.TrimPrefix(sock.Family, "AF_"))
		ev.Network.Type, _ = field.NetworkType(ev.Destination.IP)
	default:
		return nil, nil
	}
	ts, err := field.RFC3339("time", env.Time)
	if err != nil {
		return nil, err
	}
	if r.Err != nil {
		return nil, r.Err
	}
	ev.Timestamp = ts
	ev.Host.Name = env.NodeName
	return ev, nil
}

// sock returns the first sock_arg of the call: tcp_connect's only argument.
func (k *kprobe) sock() *sockArg {
	for _, a := range k.Args {
		if a.SockArg != nil {
			return a.SockArg
		}
	}
	return nil
}

// newEvent fills what both event kinds share: the classification and the process.
func newEvent(r *field.Reader, kind string, p, parent *process) *event.Event {
	ev := &event.Event{
		Event: event.Connection("connect"),
		Host:  event.Host{OS: event.OS{Type: "linux"}},
		Process: event.Process{
			Name:             field.Basename(p.Binary),
			PID:              r.PID(kind+".process.pid", p.PID),
			Executable:       p.Binary,
			WorkingDirectory: p.CWD,
			Parent:           event.Parent{PID: r.PID(kind+".parent.pid", parent.PID)},
		},
		User:    event.User{ID: r.ID(kind+".process.uid", p.UID)},
		Network: event.Network{Direction: "egress"},
	}
	if p.Binary != "" {
		// ECS process.args starts with the executable, like argv.
		ev.Process.Args = append([]string{p.Binary}, field.SplitArgs(p.Arguments)...)
		ev.Process.Title = strings.TrimSpace(p.Binary + " " + p.Arguments)
	}
	return ev
}

// Package collect is rarenet's own sensor, for hosts without auditd rules or an agent: it
// needs no kernel module, only /proc. Every interval it reads the socket tables of each
// network namespace (/proc/<pid>/net/{tcp,tcp6,udp,udp6}), keeps the outbound connections
// (TCP ESTABLISHED or SYN_SENT, connected UDP, whose local port is not one this namespace
// listens on), finds the process holding each new one through the socket:[inode] links in
// /proc/<pid>/fd, and emits one ECS network event per connection (event.module
// rarenet_collect, event.dataset rarenet_collect.proc) as NDJSON on rarenet.raw.ecs.
//
// A connection is keyed by socket inode and remote address and reported once: when it is
// first seen, with the time of that poll (up to one interval after the connect). The
// connections already open when the collector starts are reported at its first poll.
//
// What polling cannot see:
//
//   - connections that open and close between two polls (a quick curl, a DNS query):
//     lower --interval narrows the gap, only a kernel hook (auditd, eBPF) closes it;
//   - processes that exit, or close the socket, between the table read and the fd scan: the
//     connection is counted as unattributed and not reported;
//   - unconnected UDP (sendto without connect) has no remote address in the tables;
//   - other network namespaces are read through their processes, so the collector sees
//     containers only when it runs in the host's PID namespace with the right to read
//     /proc/<pid>/fd (root, or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH); addresses are those
//     inside each namespace, before any NAT, and host.name is the collector's host;
//   - the process is the one holding the socket when it is seen, the lowest pid when it is
//     shared, which may not be the one that connected (a socket passed over a Unix socket).
package collect

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/sources/sink"
	"github.com/rarenet/rarenet/shared/event"
)

// ECS values of the collector's events.
const (
	Module  = "rarenet_collect"
	Dataset = "rarenet_collect.proc"
)

// Config configures a Collector.
type Config struct {
	// ProcRoot is the proc filesystem (default /proc); tests point it at a fake tree.
	ProcRoot string
	// Passwd maps uids to user.name (default /etc/passwd).
	Passwd string
	// Host is host.name (default os.Hostname).
	Host string
	// Interval is the polling interval (default 1s).
	Interval time.Duration
	// SourceName, when set, names the source in the raw subject (rawpub.Subject).
	SourceName string
	// SkipPID is a process whose sockets are not reported: the collector's own, whose NATS
	// connection would otherwise be its first event. Default os.Getpid(); -1 skips none.
	SkipPID int
}

// Validate fills in the defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.Passwd == "" {
		c.Passwd = "/etc/passwd"
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.SkipPID == 0 {
		c.SkipPID = os.Getpid()
	}
	if _, err := os.Stat(c.ProcRoot); err != nil {
		return fmt.Errorf("collect: proc root: %w", err)
	}
	return nil
}

// Stats counts what the collector has done.
type Stats struct {
	Polls, Events, Unattributed, Published, Dropped atomic.Int64
}

// Collector finds new outbound connections in /proc. Poll and Run are not safe for
// concurrent use.
type Collector struct {
	cfg   Config
	users userNames
	seen  map[connKey]struct{}
	socks []Socket
	buf   bytes.Buffer
	stats Stats
	warn  string // the last problem logged, so a lasting one is logged once
}

// connKey identifies a connection across polls: the inode names the socket, the remote
// address tells a reconnected UDP socket from its former self.
type connKey struct {
	inode  uint64
	remote netip.AddrPort
}

// New returns a Collector.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, users: userNames{path: cfg.Passwd}, seen: map[connKey]struct{}{}}, nil
}

// Stats returns the collector's counters.
func (c *Collector) Stats() *Stats { return &c.stats }

// candidate is a new outbound connection waiting for its process.
type candidate struct {
	sock Socket
	key  connKey
}

// Poll reads /proc once and returns an event for every outbound connection not seen at the
// previous poll, stamped now.
func (c *Collector) Poll(now time.Time) ([]event.Event, error) {
	c.stats.Polls.Add(1)
	root := c.cfg.ProcRoot
	all, err := pids(root)
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	// One table read per network namespace, through any of its processes; the collector's
	// own view when no namespace can be read.
	var dirs [][]string
	for _, members := range netNamespaces(root, all) {
		var d []string
		for _, pid := range members {
			d = append(d, filepath.Join(root, fmt.Sprint(pid), "net"))
		}
		dirs = append(dirs, d)
	}
	if len(dirs) == 0 {
		dirs = [][]string{{filepath.Join(root, "net")}}
	}
	current := make(map[connKey]struct{}, len(c.seen))
	var fresh []candidate
	var problems []error
	for _, candidates := range dirs {
		var socks []Socket
		var readErr error
		for _, dir := range candidates { // the first process that is still there
			var bad int
			if socks, bad, readErr = readTables(c.socks[:0], dir, &c.buf); readErr == nil {
				if bad > 0 {
					problems = append(problems, fmt.Errorf("%s: %w", dir, ErrMalformedTable))
				}
				break
			}
		}
		if readErr != nil {
			problems = append(problems, readErr)
			continue
		}
		c.socks = socks
		for _, s := range outbound(socks) {
			k := connKey{s.Inode, s.Remote}
			current[k] = struct{}{}
			if _, ok := c.seen[k]; !ok {
				fresh = append(fresh, candidate{s, k})
			}
		}
	}
	c.seen = current
	if len(fresh) == 0 {
		return nil, errors.Join(problems...)
	}
	want := make(map[uint64]bool, len(fresh))
	for _, f := range fresh {
		want[f.sock.Inode] = true
	}
	owners := socketOwners(root, all, want)
	events := make([]event.Event, 0, len(fresh))
	for _, f := range fresh {
		pid, ok := owners[f.sock.Inode]
		if !ok {
			c.stats.Unattributed.Add(1)
			continue
		}
		if pid == c.cfg.SkipPID {
			continue
		}
		proc, uid, ok := readProcess(root, pid)
		if !ok {
			c.stats.Unattributed.Add(1)
			continue
		}
		events = append(events, c.event(now, f.sock, proc, uid))
	}
	slices.SortFunc(events, func(a, b event.Event) int {
		return cmp.Or(cmp.Compare(a.Process.PID, b.Process.PID), cmp.Compare(a.Destination.IP, b.Destination.IP),
			cmp.Compare(a.Source.Port, b.Source.Port))
	})
	c.stats.Events.Add(int64(len(events)))
	return events, errors.Join(problems...)
}

// outbound keeps the connections this host opened: TCP established or being established,
// UDP connected, from a local port that no socket of the namespace listens on (an accepted
// connection keeps its listener's port).
func outbound(socks []Socket) []Socket {
	type portKey struct {
		t    Transport
		port uint16
	}
	listening := map[portKey]bool{}
	for _, s := range socks {
		switch {
		case s.Transport == TCP && s.State == StateListen,
			s.Transport == UDP && s.Remote.Port() == 0:
			listening[portKey{s.Transport, s.Local.Port()}] = true
		}
	}
	var out []Socket
	for _, s := range socks {
		switch s.Transport {
		case TCP:
			if s.State != StateEstablished && s.State != StateSynSent {
				continue
			}
		case UDP:
			if s.Remote.Port() == 0 {
				continue
			}
		}
		if s.Remote.Addr().Unmap().IsUnspecified() || s.Inode == 0 || listening[portKey{s.Transport, s.Local.Port()}] {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (c *Collector) event(now time.Time, s Socket, proc event.Process, uid string) event.Event {
	local, remote := s.Local.Addr().Unmap(), s.Remote.Addr().Unmap()
	netType, family := "ipv4", "inet"
	if remote.Is6() {
		netType, family = "ipv6", "inet6"
	}
	outcome := "success"
	if s.State == StateSynSent {
		outcome = "unknown" // still connecting: an attempt, as auditd's EINPROGRESS
	}
	return event.Event{
		Timestamp: now.UTC(),
		Event: event.Meta{
			Kind:     "event",
			Category: []string{"network"},
			Type:     []string{"connection", "start"},
			Action:   "connected-to",
			Outcome:  outcome,
			Module:   Module,
			Dataset:  Dataset,
		},
		Agent:       event.Agent{Type: "rarenet-collect"},
		Host:        event.Host{Name: c.cfg.Host, OS: event.OS{Type: "linux"}},
		Process:     proc,
		User:        event.User{ID: uid, Name: c.users.lookup(uid)},
		Source:      event.Endpoint{IP: local.String(), Port: int(s.Local.Port())},
		Destination: event.Endpoint{IP: remote.String(), Port: int(s.Remote.Port())},
		Network:     event.Network{Type: netType, Transport: s.Transport.String(), Direction: "egress", Family: family},
	}
}

// Run polls every interval and publishes the new connections until ctx is done. Events not
// acknowledged are kept (up to 100,000) and sent again with the next poll's.
func (c *Collector) Run(ctx context.Context, js jetstream.JetStream, log *slog.Logger) error {
	log = log.With("source", "collect")
	p, err := sink.New(js, format.ECS, "collect:"+c.cfg.Host, sink.DefaultMaxBacklog)
	if err != nil {
		return err
	}
	p.BindSource(c.cfg.SourceName)
	log.Info("collecting", "proc", c.cfg.ProcRoot, "interval", c.cfg.Interval, "host", c.cfg.Host)
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		events, err := c.Poll(time.Now())
		c.logOnce(log, "cannot read all of /proc", err)
		err = c.send(ctx, p, events)
		c.stats.Published.Store(p.Stats().Published.Load())
		c.stats.Dropped.Store(p.Stats().Dropped.Load())
		if err != nil && ctx.Err() == nil {
			log.Warn("publish failed; the events are kept for the next poll", "err", err, "backlog", p.Backlog())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *Collector) logOnce(log *slog.Logger, msg string, err error) {
	s := ""
	if err != nil {
		s = err.Error()
	}
	if s != c.warn && s != "" {
		log.Warn(msg, "err", err)
	}
	c.warn = s
}

// send publishes events as ECS NDJSON lines through p, after any backlog of earlier ones,
// and waits for the acks (sink.Sink: what is not acknowledged is kept for the next poll).
func (c *Collector) send(ctx context.Context, p *sink.Sink, events []event.Event) error {
	lines := make([][]byte, 0, len(events))
	for i := range events {
		b, err := json.Marshal(&events[i])
		if err != nil {
			return err
		}
		lines = append(lines, b)
	}
	return p.Send(ctx, lines)
}

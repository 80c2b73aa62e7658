package osquery

import (
	"fmt"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/field"
	"github.com/rarenet/rarenet/shared/event"
)

// Tables whose rows are connects.
const (
	socketEvents       = "socket_events"
	processOpenSockets = "process_open_sockets"
)

// calendarLayout is calendarTime's format, asctime with a zone ("Tue Sep 30 17:37:30 2014
// UTC").
const calendarLayout = "Mon Jan _2 15:04:05 2006 MST"

// events maps the result's added rows, appending to dst.
func (res *result) events(dst []*event.Event) ([]*event.Event, error) {
	var rows []row
	var where string // the path of the rows, for errors
	switch {
	case res.Columns != nil:
		switch res.Action {
		case "added":
		case "removed":
			return dst, nil
		default:
			return dst, field.Error("action", `"added" or "removed" with columns`, field.Quote(res.Action))
		}
		rows, where = []row{res.Columns}, "columns"
	case res.Snapshot != nil:
		rows, where = res.Snapshot, "snapshot"
	case res.DiffResults != nil:
		rows, where = res.DiffResults.Added, "diffResults.added"
	default:
		return dst, fmt.Errorf("%w: expected an osquery result with columns, snapshot or diffResults, found none of them", format.ErrMalformed)
	}
	host := res.host()
	for i, rw := range rows {
		path := where
		if where != "columns" {
			path = fmt.Sprintf("%s[%d]", where, i)
		}
		ev, err := res.rowEvent(path, rw)
		if err != nil {
			return dst, err
		}
		if ev != nil {
			ev.Host.Name = host
			dst = append(dst, ev)
		}
	}
	return dst, nil
}

// host is the decorations' hostname when the operator added it, else hostIdentifier (the
// hostname by default, a UUID with --host_identifier=uuid).
func (res *result) host() string {
	if h := res.Decorations["hostname"]; h.Kind == field.String && h.Text != "" {
		return h.Text
	}
	return res.HostIdentifier
}

// table tells which socket table a row comes from, "" for rows of other queries.
func table(rw row) string {
	if !rw.has("remote_address") || !rw.has("remote_port") || !rw.has("pid") {
		return ""
	}
	if rw.has("action") {
		return socketEvents
	}
	return processOpenSockets
}

// rowTime is the time of a row: socket_events' own time column (when the connect happened),
// else when the query ran.
func (res *result) rowTime(path string, rw row, tbl string) (time.Time, error) {
	var r field.Reader
	if tbl == socketEvents {
		if v := rw["time"]; v.Kind != field.Absent && v.Text != "0" {
			sec := r.Int(path+".time", v, 1, 1<<40)
			return time.Unix(sec, 0).UTC(), r.Err
		}
	}
	if res.UnixTime.Kind != field.Absent {
		sec := r.Int("unixTime", res.UnixTime, 1, 1<<40)
		return time.Unix(sec, 0).UTC(), r.Err
	}
	t, err := time.Parse(calendarLayout, res.CalendarTime)
	if err != nil {
		return time.Time{}, field.Error("unixTime", "seconds since the epoch (or a calendarTime)", "nothing")
	}
	return t.UTC(), nil
}

// familyNames are the address families osquery reports as numbers.
var familyNames = map[string]string{"1": "unix", "2": "inet", "10": "inet6", "16": "netlink"}

// transports are the IP protocol numbers of the protocol column.
var transports = map[string]string{"6": "tcp", "17": "udp", "132": "sctp", "33": "dccp"}

// rowEvent maps one row; nil without error means the row is not a connect.
func (res *result) rowEvent(path string, rw row) (*event.Event, error) {
	tbl := table(rw)
	switch {
	case tbl == "":
		return nil, nil
	case tbl == socketEvents && rw["action"].Text != "connect":
		return nil, nil
	case tbl == processOpenSockets && strings.EqualFold(rw["state"].Text, "LISTEN"):
		return nil, nil
	}
	ts, err := res.rowTime(path, rw, tbl)
	if err != nil {
		return nil, err
	}
	var r field.Reader
	col := func(name string) string { return r.Str(path+"."+name, rw[name]) }
	family := familyNames[col("family")]
	ev := &event.Event{
		Timestamp: ts,
		Event:     event.Connection(""),
		Host:      event.Host{OS: event.OS{Type: "linux"}},
		Process: event.Process{
			Name:             col("name"),
			PID:              r.PID(path+".pid", rw["pid"]),
			WorkingDirectory: col("cwd"),
			Parent:           event.Parent{PID: r.PID(path+".parent", rw["parent"])},
		},
		User:    event.User{ID: r.ID(path+".uid", rw["uid"]), Name: col("username")},
		Network: event.Network{Transport: transports[col("protocol")], Family: family},
	}
	ev.Event.Dataset = "osquery." + tbl
	// socket_events' path is always the process's executable; process_open_sockets' path is
	// the socket's path for AF_UNIX (kept so the datafeed filter can say why it drops the
	// row) and the executable only when the processes table is joined in.
	if tbl == socketEvents || family != "unix" {
		ev.Process.Executable = col("path")
	}
	switch {
	case family == "unix" && tbl == socketEvents:
		ev.Destination.Path = col("socket")
	case family == "unix":
		ev.Destination.Path = col("path")
	default:
		ev.Source = event.Endpoint{IP: r.IP(path+".local_address", rw["local_address"]), Port: r.Port(path+".local_port", rw["local_port"])}
		ev.Destination = event.Endpoint{IP: r.IP(path+".remote_address", rw["remote_address"]), Port: r.Port(path+".remote_port", rw["remote_port"])}
	}
	if ev.Process.Name == "" {
		ev.Process.Name = field.Basename(ev.Process.Executable)
	}
	if cmdline := col("cmdline"); cmdline != "" {
		ev.Process.Title, ev.Process.Args = cmdline, strings.Fields(cmdline)
	}
	if tbl == socketEvents {
		ev.Event.Action = "connect"
		ev.Event.Outcome = outcome(rw)
		ev.Network.Direction = "egress"
	} else {
		// An open socket may be either end of a connection; only its table says so.
		ev.Event.Action = "socket-open"
	}
	if r.Err != nil {
		return nil, r.Err
	}
	ev.Network.Type, _ = field.NetworkType(ev.Destination.IP)
	return ev, nil
}

// outcome reads socket_events' status (osquery 5.x) or the older success column.
func outcome(rw row) string {
	switch rw["status"].Text {
	case "succeeded":
		return "success"
	case "failed":
		return "failure"
	case "in_progress":
		return "unknown"
	}
	if rw["success"].Text == "1" {
		return "success"
	}
	return ""
}

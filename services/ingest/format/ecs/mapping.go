package ecs

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/event"
)

// Ranges of the numeric fields; Linux's pid_t is a 32-bit int.
const (
	maxPort = 65535
	maxPID  = math.MaxInt32
)

// toEvent maps the ECS fields the detection uses; everything else is ignored.
func toEvent(d doc) (*event.Event, error) {
	ts, err := timestamp(d.m)
	if err != nil {
		return nil, err
	}
	const port, pid = "a port number (0-65535)", "a non-negative integer"
	ev := &event.Event{
		Timestamp: ts,
		Event: event.Meta{
			Kind:     d.str("event.kind"),
			Category: d.strs("event.category"),
			Type:     d.strs("event.type"),
			Action:   d.str("event.action"),
			Outcome:  d.str("event.outcome"),
			Module:   d.str("event.module"),
			Dataset:  d.str("event.dataset"),
		},
		Agent: event.Agent{Type: d.str("agent.type")},
		Host: event.Host{
			Name: d.str("host.name"),
			ID:   d.str("host.id"),
			OS:   event.OS{Type: d.str("host.os.type"), Family: d.str("host.os.family")},
		},
		Process: event.Process{
			Name:             d.str("process.name"),
			PID:              d.integer("process.pid", pid, 0, maxPID),
			Executable:       d.str("process.executable"),
			Args:             d.strs("process.args"),
			Title:            d.str("process.title"),
			WorkingDirectory: d.str("process.working_directory"),
			Parent:           event.Parent{PID: d.integer("process.parent.pid", pid, 0, maxPID)},
		},
		User: event.User{Name: d.str("user.name"), ID: d.str("user.id")},
		Source: event.Endpoint{
			IP:   d.str("source.ip"),
			Port: int(d.integer("source.port", port, 0, maxPort)),
		},
		Destination: event.Endpoint{
			IP:   d.str("destination.ip"),
			Port: int(d.integer("destination.port", port, 0, maxPort)),
		},
		Network: event.Network{
			Type:      d.str("network.type"),
			Transport: d.str("network.transport"),
			Direction: d.str("network.direction"),
		},
	}
	if ev.Process.Parent.PID == 0 {
		// Auditbeat 7.x wrote the parent's pid as process.ppid.
		ev.Process.Parent.PID = d.integer("process.ppid", pid, 0, maxPID)
	}
	if d.err != nil {
		return nil, d.err
	}
	return ev, nil
}

const timestampExpected = "RFC 3339 time or epoch milliseconds"

// timestamp reads @timestamp the ways Elasticsearch's default date format accepts it: an
// RFC 3339 string (the zone may be left out, meaning UTC) or epoch milliseconds, as a
// number or a string of digits.
func timestamp(m map[string]any) (time.Time, error) {
	v, ok := m["@timestamp"]
	if !ok || v == nil {
		return time.Time{}, fmt.Errorf("%w: @timestamp: expected %s, got nothing", format.ErrMalformed, timestampExpected)
	}
	switch x := v.(type) {
	case float64:
		if t, ok := epochMillis(x); ok {
			return t, nil
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t.UTC(), nil
		}
		if t, err := time.Parse("2006-01-02T15:04:05.999999999", x); err == nil {
			return t, nil
		}
		if f, err := strconv.ParseFloat(x, 64); err == nil && isDigits(x) {
			if t, ok := epochMillis(f); ok {
				return t, nil
			}
		}
	}
	return time.Time{}, fieldError("@timestamp", timestampExpected, v)
}

// epochMillis converts milliseconds since the epoch, refusing values time cannot hold.
func epochMillis(ms float64) (time.Time, bool) {
	const limit = 1 << 53 // beyond this float64 milliseconds are no longer exact
	if math.IsNaN(ms) || ms < -limit || ms > limit {
		return time.Time{}, false
	}
	whole := math.Floor(ms)
	nanos := int64((ms - whole) * 1e6)
	return time.UnixMilli(int64(whole)).Add(time.Duration(nanos)).UTC(), true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

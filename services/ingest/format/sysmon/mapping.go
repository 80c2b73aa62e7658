package sysmon

import (
	"errors"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format/internal/field"
	"github.com/rarenet/rarenet/shared/event"
)

// networkConnect is the EventID of Sysmon's network connection event on Linux and Windows.
const networkConnect = "3"

// utcTimeLayout is how Sysmon writes UtcTime: UTC, milliseconds, a space before the time.
const utcTimeLayout = "2006-01-02 15:04:05.999999999"

// decodeEvent maps one <Event> element; nil without error means it is not an outbound
// connect and is skipped.
func decodeEvent(data []byte) (*event.Event, error) {
	x, err := readEvent(data)
	if errors.Is(err, errNotConnect) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if x.EventID == "" {
		return nil, field.Error("System.EventID", "an event id", "nothing")
	}
	switch initiated := x.data("Initiated"); initiated {
	case "true":
	case "false":
		// An inbound connection: the process accepted it, it did not reach out.
		return nil, nil
	default:
		return nil, field.Error("EventData.Initiated", `"true" or "false"`, field.Quote(initiated))
	}
	ts, err := utcTime(x.data("UtcTime"))
	if err != nil {
		return nil, err
	}
	var r field.Reader
	image := x.data("Image")
	ev := &event.Event{
		Timestamp: ts,
		Event:     event.Connection("network-connection"),
		Host:      event.Host{Name: strings.TrimSpace(x.Computer), OS: event.OS{Type: "linux"}},
		Process: event.Process{
			Name:       field.Basename(image),
			Executable: image,
			PID:        r.PID("EventData.ProcessId", dataValue(x, "ProcessId")),
		},
		User: event.User{Name: x.data("User")},
		Source: event.Endpoint{
			IP:   r.IP("EventData.SourceIp", dataValue(x, "SourceIp")),
			Port: r.Port("EventData.SourcePort", dataValue(x, "SourcePort")),
		},
		Destination: event.Endpoint{
			IP:   r.IP("EventData.DestinationIp", dataValue(x, "DestinationIp")),
			Port: r.Port("EventData.DestinationPort", dataValue(x, "DestinationPort")),
		},
		Network: event.Network{
			Transport: strings.ToLower(x.data("Protocol")),
			Direction: "egress",
		},
	}
	if r.Err != nil {
		return nil, r.Err
	}
	ev.Network.Type, ev.Network.Family = field.NetworkType(ev.Destination.IP)
	// DestinationHostname (Sysmon's reverse lookup, "-" when off) has no place in the
	// normalized event yet: it lacks destination.domain.
	return ev, nil
}

// dataValue returns an EventData field as a Value, absent when missing or "-".
func dataValue(x *xmlEvent, name string) field.Value {
	if v := x.data(name); v != "" {
		return field.Text(v)
	}
	return field.Value{}
}

// utcTime parses Sysmon's UtcTime, the time of the event (TimeCreated is when it was
// logged).
func utcTime(s string) (time.Time, error) {
	t, err := time.Parse(utcTimeLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, field.Error("EventData.UtcTime", "a time like 2022-05-11 18:10:20.472", field.Quote(s))
	}
	return t, nil
}

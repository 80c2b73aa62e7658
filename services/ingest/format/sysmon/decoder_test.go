package sysmon

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
	"github.com/rarenet/rarenet/shared/event"
)

// TestSyslogFixture decodes a hand-written /var/log/syslog excerpt: a process create, an
// outbound TCP connect, an inbound SSH connection, an outbound IPv6 UDP connect with a
// resolved hostname, and a process terminate. Only the two outbound connects are events.
func TestSyslogFixture(t *testing.T) {
	lines := formattest.Lines(t, "testdata/syslog.log")
	rs := formattest.Decode(t, New(), "syslog", lines)
	want := []event.Event{
		{
			Timestamp:   time.Date(2026, 3, 2, 9, 14, 7, 229e6, time.UTC),
			Event:       connectMeta,
			Host:        event.Host{Name: "web-01", OS: event.OS{Type: "linux"}},
			Process:     event.Process{Name: "curl", PID: 24117, Executable: "/usr/bin/curl"},
			User:        event.User{Name: "alice"},
			Source:      event.Endpoint{IP: "10.0.3.15", Port: 51234},
			Destination: event.Endpoint{IP: "93.184.215.14", Port: 443},
			Network:     event.Network{Type: "ipv4", Transport: "tcp", Direction: "egress", Family: "inet"},
			Origin:      event.Origin{Source: "syslog", Line: 2, Format: "sysmon"},
		},
		{
			Timestamp:   time.Date(2026, 3, 2, 9, 14, 11, 448e6, time.UTC),
			Event:       connectMeta,
			Host:        event.Host{Name: "web-01", OS: event.OS{Type: "linux"}},
			Process:     event.Process{Name: "python3.11", PID: 24190, Executable: "/usr/bin/python3.11"},
			User:        event.User{Name: "www-data"},
			Source:      event.Endpoint{IP: "2001:db8:3::15", Port: 40111},
			Destination: event.Endpoint{IP: "2001:db8:ffff::53", Port: 53},
			Network:     event.Network{Type: "ipv6", Transport: "udp", Direction: "egress", Family: "inet6"},
			Origin:      event.Origin{Source: "syslog", Line: 4, Format: "sysmon"},
		},
	}
	if len(rs) != len(want) {
		t.Fatalf("got %d results, want %d", len(rs), len(want))
	}
	for i := range want {
		if rs[i].Err != nil {
			t.Fatalf("result %d: %v", i, rs[i].Err)
		}
		if !reflect.DeepEqual(*rs[i].Event, want[i]) {
			t.Errorf("event %d:\n got  %+v\n want %+v", i, *rs[i].Event, want[i])
		}
	}
}

var connectMeta = event.Meta{
	Kind: "event", Category: []string{"network"}, Type: []string{"connection", "start"},
	Action: "network-connection", Module: "sysmon", Dataset: "sysmon.network",
}

// TestWrappings checks that the same XML is found alone on a line, after a syslog header and
// inside each supported NDJSON field.
func TestWrappings(t *testing.T) {
	xml := connectXML("3", "true", "2026-03-02 09:14:07.229", "93.184.215.14", "443")
	row := func(key string) string {
		b, _ := json.Marshal(map[string]string{key: "sysmon: " + xml, "other": "x"})
		return string(b)
	}
	tests := []struct{ name, line string }{
		{"bare XML", xml},
		{"syslog line", "Mar  2 09:14:07 web-01 sysmon: " + xml},
		{"RFC 5424 syslog with trailer", "<14>1 2026-03-02T09:14:07Z web-01 sysmon 1021 - - " + xml + " trailing"},
		{"Azure SyslogMessage", row("SyslogMessage")},
		{"Filebeat message", row("message")},
		{"journald MESSAGE", row("MESSAGE")},
		{"Fluent Bit log", row("log")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := formattest.Decode(t, New(), "t", []string{tt.line})
			if len(rs) != 1 || rs[0].Err != nil {
				t.Fatalf("results %+v", rs)
			}
			e := rs[0].Event
			if e.Process.Name != "curl" || e.Destination.IP != "93.184.215.14" || e.Destination.Port != 443 {
				t.Errorf("event %+v", e)
			}
		})
	}
}

// TestSkipped checks the records that are neither events nor rejects.
func TestSkipped(t *testing.T) {
	tests := []struct{ name, line string }{
		{"inbound connection", connectXML("3", "false", "2026-03-02 09:14:07.229", "10.0.0.1", "22")},
		{"process create", connectXML("1", "", "2026-03-02 09:14:07.229", "", "")},
		{"sysmon state change", connectXML("4", "", "", "", "")},
		// Syslog cuts long records; a cut process create is still not a connect.
		{"truncated process create", connectXML("1", "", "2026-03-02 09:14:07.229", "", "")[:200]},
		{"blank", "  \t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if rs := formattest.Decode(t, New(), "t", []string{tt.line}); len(rs) != 0 {
				t.Errorf("got %+v, want nothing", rs[0])
			}
		})
	}
}

func TestRejects(t *testing.T) {
	good := connectXML("3", "true", "2026-03-02 09:14:07.229", "93.184.215.14", "443")
	tests := []struct{ name, line, msg string }{
		{"not sysmon", "Mar  2 09:14:07 web-01 cron[811]: (root) CMD (true)", "expected a Sysmon <Event> XML element, found none"},
		{"truncated by syslog", good[:len(good)/2], "expected a well-formed Sysmon <Event> XML element"},
		{"no EventID", "<Event><System></System></Event>", "System.EventID: expected an event id, got nothing"},
		{"bad Initiated", connectXML("3", "yes", "2026-03-02 09:14:07.229", "1.2.3.4", "1"), `EventData.Initiated: expected "true" or "false", got "yes"`},
		{"bad time", connectXML("3", "true", "yesterday", "1.2.3.4", "1"), `EventData.UtcTime: expected a time like 2022-05-11 18:10:20.472, got "yesterday"`},
		{"no time", connectXML("3", "true", "", "1.2.3.4", "1"), `EventData.UtcTime: expected a time like 2022-05-11 18:10:20.472, got nothing`},
		{"bad IP", connectXML("3", "true", "2026-03-02 09:14:07.229", "example.org", "1"), `EventData.DestinationIp: expected an IP address, got "example.org"`},
		{"bad port", connectXML("3", "true", "2026-03-02 09:14:07.229", "1.2.3.4", "70000"), `EventData.DestinationPort: expected an integer (0-65535), got "70000"`},
		{"invalid JSON row", `{"SyslogMessage":`, "expected a JSON object, got invalid JSON"},
		{"JSON row without XML", `{"SyslogMessage":"hello","message":"world"}`, "expected a Sysmon <Event> XML element in one of the fields SyslogMessage, message"},
		{"JSON row with a number", `{"SyslogMessage":3}`, "SyslogMessage: expected a string holding a Sysmon <Event> XML element, got a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := formattest.Decode(t, New(), "t", []string{tt.line})
			if len(rs) != 1 {
				t.Fatalf("got %d results, want 1 reject", len(rs))
			}
			if !errors.Is(rs[0].Err, format.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", rs[0].Err)
			}
			if !strings.Contains(rs[0].Err.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", rs[0].Err, tt.msg)
			}
		})
	}
}

// TestRawIsACopy checks that a result does not alias the caller's buffer, which is reused.
func TestRawIsACopy(t *testing.T) {
	line := []byte(connectXML("3", "true", "2026-03-02 09:14:07.229", "93.184.215.14", "443"))
	orig := string(line)
	var got []format.Result
	New().Decode(format.Line{Source: "s", Num: 7, Data: line}, func(r format.Result) { got = append(got, r.Clone()) })
	copy(line, strings.Repeat("X", len(line)))
	if len(got) != 1 || string(got[0].Raw) != orig || got[0].Line != 7 || got[0].Source != "s" {
		t.Fatalf("results %+v", got)
	}
}

// connectXML builds a Sysmon <Event>; empty values leave their Data element out.
func connectXML(id, initiated, utc, dstIP, dstPort string) string {
	var b strings.Builder
	b.WriteString(`<Event><System><Provider Name="Linux-Sysmon" Guid="{ff032593-a8d3-4f13-b0d6-01fc615a0f97}"/><EventID>`)
	b.WriteString(id)
	b.WriteString(`</EventID><Computer>web-01</Computer></System><EventData>`)
	for _, d := range [][2]string{
		{"UtcTime", utc}, {"ProcessId", "24117"}, {"Image", "/usr/bin/curl"}, {"User", "alice"}, {"Protocol", "tcp"},
		{"Initiated", initiated}, {"SourceIp", "10.0.3.15"}, {"SourcePort", "51234"},
		{"DestinationIp", dstIP}, {"DestinationHostname", "-"}, {"DestinationPort", dstPort},
	} {
		if d[1] != "" {
			b.WriteString(`<Data Name="` + d[0] + `">` + d[1] + `</Data>`)
		}
	}
	b.WriteString(`</EventData></Event>`)
	return b.String()
}

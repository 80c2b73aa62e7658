package console

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSummary(t *testing.T) {
	doc8 := `{"@timestamp":"2026-03-04T02:15:01Z","kibana.alert.uuid":"u-1","kibana.alert.original_time":"2026-03-04T02:00:00Z",
	 "kibana.alert.reason":"Unusual network activity: nc.","kibana.alert.workflow_status":"open",
	 "kibana.alert.rule.rule_id":"r-1","kibana.alert.rule.name":"Unusual Linux Network Activity",
	 "record_score":63.5,"by_field_value":"nc","host.name":["h1","h2"],"user.name":["bob"],"destination.ip":["203.0.113.7"],
	 "rarenet.explanation":{"detector":"rare-on-host"},
	 "rarenet.context":{"destinations":[
	   {"ip":"203.0.113.7","port":4444,"ip_class":"public","service":"metasploit","as":{"number":64500,"organization":"Example Net"},"geo":{"country_iso_code":"NL"}},
	   {"ip":"198.51.100.9","port":443,"ip_class":"public","as":{"number":64501,"organization":{"name":"ECS Org"}},"geo.country_iso_code":"DE"},
	   {"ip":"2001:db8::1","port":53,"ip_class":"documentation","as.number":64502,"as.organization.name":"Dotted Org"}]}}`
	s, err := ParseSummary(7, []byte(doc8))
	if err != nil {
		t.Fatal(err)
	}
	if s.Seq != 7 || s.ID != "u-1" || s.RuleID != "r-1" || s.Process != "nc" || s.Score != 63.5 || !s.Time.Equal(time.Date(2026, 3, 4, 2, 0, 0, 0, time.UTC)) ||
		strings.Join(s.Hosts, ",") != "h1,h2" || s.Users[0] != "bob" || s.Status != StatusOpen || s.Detector != "rare-on-host" {
		t.Errorf("8.x summary %+v", s)
	}
	want := []Destination{
		{IP: "203.0.113.7", Port: 4444, Class: "public", Service: "metasploit", Country: "NL", ASNumber: 64500, ASOrg: "Example Net"},
		{IP: "198.51.100.9", Port: 443, Class: "public", Country: "DE", ASNumber: 64501, ASOrg: "ECS Org"},
		{IP: "2001:db8::1", Port: 53, Class: "documentation", ASNumber: 64502, ASOrg: "Dotted Org"},
	}
	for i, w := range want {
		if i >= len(s.Destinations) || s.Destinations[i] != w {
			t.Errorf("destination %d: %+v, want %+v", i, s.Destinations, w)
		}
	}
	if a := s.Destinations[2].Addr(); a != "[2001:db8::1]:53" {
		t.Errorf("IPv6 address %q", a)
	}
	if !s.matchesText("example net") || !s.matchesText("[2001:db8::1]:53") || !s.matchesText("metasploit") {
		t.Error("free text misses the destinations")
	}

	// 7.x, GeoIP as ECS arrays beside destination.ip, no context.
	doc7 := `{"@timestamp":"2026-03-04T02:15:01Z","signal":{"id":"u-7","original_time":"2026-03-04T03:00:00Z","reason":"r","status":"closed",
	 "rule":{"rule_id":"r-7","name":"old"}},"record_score":91,"by_field_value":"perl","host.name":"h3","rarenet.late":true,
	 "destination.ip":["192.0.2.1","192.0.2.2"],"destination.geo.country_iso_code":["FR","US"],"destination.as.number":[64510,64511],
	 "destination.as.organization.name":["A","B"]}`
	s, err = ParseSummary(8, []byte(doc7))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "u-7" || s.RuleID != "r-7" || s.Status != StatusClosed || !s.Late || s.Hosts[0] != "h3" || len(s.Destinations) != 2 ||
		s.Destinations[1] != (Destination{IP: "192.0.2.2", Country: "US", ASNumber: 64511, ASOrg: "B"}) {
		t.Errorf("7.x summary %+v", s)
	}

	for _, bad := range []string{`not json`, `{}`, `{"kibana.alert.uuid":"x"}`, `{"kibana.alert.uuid":"x","kibana.alert.original_time":"yesterday"}`} {
		if _, err := ParseSummary(1, []byte(bad)); !errors.Is(err, ErrNotSignal) {
			t.Errorf("%s: %v, want ErrNotSignal", bad, err)
		}
	}
}

func TestWithStatus(t *testing.T) {
	doc := []byte(`{"kibana.alert.uuid":"u","kibana.alert.workflow_status":"open","record_score":63.5}`)
	if got := WithStatus(doc, StatusOpen); string(got) != string(doc) {
		t.Errorf("unchanged status rewrote the document: %s", got)
	}
	var d map[string]any
	if err := json.Unmarshal(WithStatus(doc, StatusClosed), &d); err != nil || d["kibana.alert.workflow_status"] != "closed" || d["record_score"] != 63.5 {
		t.Errorf("8.x: %v %v", d, err)
	}
	doc7 := []byte(`{"signal":{"id":"u","status":"open"}}`)
	if err := json.Unmarshal(WithStatus(doc7, StatusAcknowledged), &d); err != nil || d["signal"].(map[string]any)["status"] != "acknowledged" {
		t.Errorf("7.x: %v %v", d, err)
	}
	if SignalID(doc) != "u" || SignalID(doc7) != "u" || SignalID([]byte("x")) != "" {
		t.Error("SignalID")
	}
}

func TestBand(t *testing.T) {
	for score, want := range map[float64]string{100: "critical", 75: "critical", 74.9: "major", 50: "major", 25: "minor", 24: "warning", 0: "warning"} {
		if got := Band(score); got != want {
			t.Errorf("Band(%v) = %s, want %s", score, got, want)
		}
	}
}

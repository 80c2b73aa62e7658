package datafeed

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/shared/event"
)

func v1Event(ip string) *event.Event {
	return &event.Event{
		Event:       event.Meta{Action: "connected-to"},
		Agent:       event.Agent{Type: "auditbeat"},
		Host:        event.Host{OS: event.OS{Family: "debian"}}, // Auditbeat 7.x: family, no type
		Process:     event.Process{Name: "curl"},
		Destination: event.Endpoint{IP: ip, Port: 443},
	}
}

func v3Event(ip string) *event.Event {
	return &event.Event{
		Event:       event.Meta{Category: []string{"network"}, Type: []string{"connection", "start"}},
		Host:        event.Host{OS: event.OS{Type: "linux"}},
		Process:     event.Process{Name: "curl"},
		User:        event.User{Name: "alice"},
		Destination: event.Endpoint{IP: ip, Port: 443},
	}
}

func TestFilters(t *testing.T) {
	unix := v3Event("")
	unix.Network.Family = "unix"
	unix.Destination.Path = "public/pickup"
	jenkins := v3Event("203.0.113.7")
	jenkins.User.Name = "jenkins"
	beat := v3Event("203.0.113.7")
	beat.Process.Name = "filebeat"
	noName := v3Event("203.0.113.7")
	noName.Process.Name = ""
	family := v3Event("203.0.113.7")
	family.Host.OS = event.OS{Family: "debian"}
	noOS := v3Event("203.0.113.7")
	noOS.Host.OS = event.OS{}
	ea, err := ByName("v3_linux_anomalous_network_activity_ea")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter Filter
		ev     *event.Event
		want   string // substring of the reason; "" passes
	}{
		{"v1 public", V1(), v1Event("203.0.113.7"), ""},
		{"v1 listed loopback", V1(), v1Event("127.0.0.53"), "must_not destination.ip"},
		// The reference lists addresses, not ranges: 127.0.0.2 passes v1 as shipped.
		{"v1 other loopback passes as shipped", V1(), v1Event("127.0.0.2"), ""},
		{"v1 needs auditbeat", V1(), v3Event("203.0.113.7"), "must event.action: connected-to"},
		{"v3 public", V3(), v3Event("203.0.113.7"), ""},
		{"v3 os family", V3(), family, ""},
		{"v3 unspecified", V3(), v3Event("::"), "must_not destination.ip"},
		{"v3 jenkins", V3(), jenkins, "must_not user.name: jenkins"},
		{"v3 elastic agents", V3(), beat, "must_not process.name"},
		{"v3 rejects v1 vocabulary", V3(), v1Event("203.0.113.7"), "must event.category: network"},
		{"default takes v1 vocabulary", Default(), v1Event("203.0.113.7"), ""},
		{"default takes v3 vocabulary", Default(), v3Event("203.0.113.7"), ""},
		{"default drops any loopback", Default(), v3Event("127.0.0.2"), "loopback destination"},
		// Addresses compare as addresses, as on an Elasticsearch ip field: the v3 exclusion
		// of 127.0.0.1 covers its IPv4-mapped form.
		{"default drops mapped loopback", Default(), v3Event("::ffff:127.0.0.1"), "must_not destination.ip: 127.0.0.1"},
		{"default drops other mapped loopback", Default(), v3Event("::ffff:127.0.0.9"), "loopback destination"},
		{"default drops 0.0.0.0", Default(), v3Event("0.0.0.0"), "unspecified destination"},
		{"default drops unix sockets", Default(), unix, "unix socket"},
		{"default drops jenkins", Default(), jenkins, "jenkins"},
		{"no by-field", Default(), noName, "no process.name"},
		// Elastic Defend's Windows connects (connection_attempted, host.os.type windows) must not
		// train the Linux model: the default keeps v3's host clause.
		{"default drops Windows hosts", Default(), defend("windows", "eclipse.exe"), "host.os.type: linux"},
		{"default drops macOS hosts", Default(), defend("macos", "Safari"), "host.os.type: linux"},
		{"default takes Defend on Linux", Default(), defend("linux", "curl"), ""},
		{"default drops hosts without os", Default(), noOS, "host.os.type: linux"},
		{"default drops the agents' .exe", Default(), defend("linux", "filebeat.exe"), "must_not process.name"},
		{"ea job's datafeed drops Windows", ea, defend("windows", "eclipse.exe"), "host.os.type: linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.filter.Reason(tt.ev)
			if drops := tt.filter.Drops(tt.ev); drops != (got != "") {
				t.Fatalf("Drops = %v, but Reason = %q", drops, got)
			}
			if tt.want == "" && got != "" {
				t.Fatalf("dropped: %s", got)
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("reason %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// defend is an Elastic Defend network event: its connects are connection_attempted, and
// Defend runs on Windows and macOS as well as Linux.
func defend(os, process string) *event.Event {
	return &event.Event{
		Event:       event.Meta{Action: "connection_attempted", Category: []string{"network"}, Type: []string{"start"}},
		Host:        event.Host{Name: "ws-1", OS: event.OS{Type: os}},
		Process:     event.Process{Name: process},
		Destination: event.Endpoint{IP: "203.0.113.7", Port: 443},
	}
}

// TestDefaultHostsAsV3 checks that the default keeps exactly the hosts v3 keeps.
func TestDefaultHostsAsV3(t *testing.T) {
	def, v3 := Default(), V3()
	for _, os := range []event.OS{{Type: "linux"}, {Type: "windows"}, {Type: "macos"}, {Family: "debian"}, {Family: "redhat"},
		{Family: "suse"}, {Family: "ubuntu"}, {Family: "arch"}, {Family: "windows"}, {Type: "Linux"}, {}} {
		ev := v3Event("203.0.113.7")
		ev.Host.OS = os
		if (def.Reason(ev) == "") != (v3.Reason(ev) == "") {
			t.Errorf("host.os %+v: default %q, v3 %q", os, def.Reason(ev), v3.Reason(ev))
		}
	}
}

func TestByName(t *testing.T) {
	for _, n := range []string{"", "rarenet", "v1", "v3", "linux_anomalous_network_activity_ecs", "v3_linux_anomalous_network_activity",
		"v3_linux_anomalous_network_activity_ea"} {
		if _, err := ByName(n); err != nil {
			t.Errorf("ByName(%q): %v", n, err)
		}
	}
	if _, err := ByName("v2"); err == nil {
		t.Error("ByName(v2) succeeded, want an error")
	}
}

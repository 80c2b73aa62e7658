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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.filter.Reason(tt.ev)
			if tt.want == "" && got != "" {
				t.Fatalf("dropped: %s", got)
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Fatalf("reason %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestByName(t *testing.T) {
	for _, n := range []string{"", "rarenet", "v1", "v3"} {
		if _, err := ByName(n); err != nil {
			t.Errorf("ByName(%q): %v", n, err)
		}
	}
	if _, err := ByName("v2"); err == nil {
		t.Error("ByName(v2) succeeded, want an error")
	}
}

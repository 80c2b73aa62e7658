package formats

import (
	"bytes"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

func TestDetectFormats(t *testing.T) {
	tests := []struct{ name, line, want string }{
		// Existing formats keep their detection.
		{"ecs", `{"@timestamp":"2020-04-01T12:00:00Z"}`, format.ECS},
		{"ecs search hit", `{"_index":"auditbeat","_source":{"@timestamp":1}}`, format.ECS},
		{"ecs bulk action", `{"create":{"_index":"auditbeat-8.17.0"}}`, format.ECS},
		{"json of no known sensor", `{"a":1}`, format.ECS},
		{"invalid json", `{"a":`, format.ECS},
		{"auditd", "type=SYSCALL msg=audit(1492037289.295:58): arch=c000003e", format.Auditd},

		// The new sensors.
		{"sysmon syslog", `Mar  2 09:14:07 web-01 sysmon: <Event><System><Provider Name="Linux-Sysmon" Guid="{ff}"/><EventID>3</EventID></System></Event>`, format.Sysmon},
		{"sysmon bare XML", `<Event><System><Provider Name="Linux-Sysmon"/><EventID>1</EventID></System></Event>`, format.Sysmon},
		{"sysmon row with literal XML", `{"message":"<Event><System><Provider Name=\"Linux-Sysmon\"/></System></Event>"}`, format.Sysmon},
		{"tetragon exec", `{"process_exec":{"process":{"binary":"/bin/sh"}},"node_name":"n","time":"2026-02-10T08:15:30Z"}`, format.Tetragon},
		{"osquery event format", `{"name":"q","hostIdentifier":"h","calendarTime":"x","unixTime":1,"columns":{"pid":"1"},"action":"added"}`, format.Osquery},
		{"osquery snapshot", `{"snapshot":[],"action":"snapshot","name":"q","hostIdentifier":"h"}`, format.Osquery},
		{"osquery batch", `{"diffResults":{"added":[]},"name":"q","hostIdentifier":"h"}`, format.Osquery},
		{"falco", `{"hostname":"h","output":"o","priority":"Notice","rule":"r","time":"2026-02-10T08:20:05Z","output_fields":{}}`, format.Falco},
		{"falco without output_fields", `{"output":"o","priority":"Notice","rule":"r","time":"2026-02-10T08:20:05Z"}`, format.Falco},

		// Precedence: an ECS document carrying another sensor's fields stays ECS.
		{"ecs wrapping tetragon", `{"@timestamp":"2026-02-10T08:15:30Z","time":"x","process_kprobe":{}}`, format.ECS},
		{"ecs wrapping osquery", `{"@timestamp":"2026-02-10T08:15:30Z","hostIdentifier":"h","columns":{}}`, format.ECS},
		{"ecs wrapping falco", `{"@timestamp":"2026-02-10T08:15:30Z","rule":"r","priority":"p","output":"o","output_fields":{}}`, format.ECS},
		{"ecs holding sysmon XML", `{"@timestamp":"2026-02-10T08:15:30Z","event":{"original":"<Event><System><Provider Name=\"Linux-Sysmon\"/></System></Event>"}}`, format.ECS},
		{"ecs with process.* dotted keys", `{"@timestamp":"2026-02-10T08:15:30Z","process_name":"x","time":"y"}`, format.ECS},
		// Near misses.
		{"osquery-like without rows", `{"name":"q","hostIdentifier":"h"}`, format.ECS},
		{"process_ key without time", `{"process_exec":{}}`, format.ECS},
		{"xml that is not sysmon", `<Event><System><Provider Name="Microsoft-Windows-Security-Auditing"/></System></Event>`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect([]byte(tt.line)); got != tt.want {
				t.Errorf("Detect(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

// TestDetectRealFiles checks detection on the first line of each real sample and fixture.
func TestDetectRealFiles(t *testing.T) {
	first := func(b []byte) []byte {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[:i]
		}
		return b
	}
	for _, tt := range []struct{ rel, want string }{
		{"auditd/go-libaudit-normal.log", format.Auditd},
		{"auditd/go-libaudit-rhel7.log", format.Auditd},
		{"sysmon-linux/otrf-log4shell-sysmon-eid3.jsonl", format.Sysmon},
		{"sysmon-linux/otrf-log4shell-sysmon-eid1.jsonl", format.Sysmon},
	} {
		if got := Detect(first(formattest.ReadReal(t, tt.rel))); got != tt.want {
			t.Errorf("%s: Detect = %q, want %q", tt.rel, got, tt.want)
		}
	}
	for _, name := range []string{"process_connect.json", "nc_process_connect.json", "merlin-agent-go-connect.json"} {
		line := formattest.Compact(t, formattest.ReadReal(t, "tetragon/"+name))
		if got := Detect([]byte(line)); got != format.Tetragon {
			t.Errorf("tetragon/%s: Detect = %q, want tetragon", name, got)
		}
	}
	for _, tt := range []struct{ path, want string }{
		{"../sysmon/testdata/syslog.log", format.Sysmon},
		{"../tetragon/testdata/kprobe.jsonl", format.Tetragon},
		{"../osquery/testdata/results.log", format.Osquery},
		{"../falco/testdata/alerts.jsonl", format.Falco},
	} {
		for i, l := range formattest.Lines(t, tt.path) {
			if got := Detect([]byte(l)); got != tt.want {
				t.Errorf("%s line %d: Detect = %q, want %q", tt.path, i+1, got, tt.want)
			}
		}
	}
}

package sysmon

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// FuzzDecode feeds arbitrary text, split into lines, and checks that the decoder never
// panics and that every result is an event or a reject wrapping ErrMalformed.
func FuzzDecode(f *testing.F) {
	for _, rel := range []string{"sysmon-linux/otrf-log4shell-sysmon-eid3.jsonl", "sysmon-linux/otrf-log4shell-sysmon-eid1.jsonl"} {
		for _, l := range realLines(f, rel) {
			f.Add(l)
		}
	}
	fixture := formattest.Lines(f, "testdata/syslog.log")
	for _, l := range fixture {
		f.Add(l)
	}
	f.Add(strings.Join(fixture, "\n"))
	f.Add(connectXML("3", "true", "2026-03-02 09:14:07.229", "0:0:0:0:0:0:0:0", "0"))
	f.Add(`{"message":"<Event><System><EventID>3</EventID></System></Event>"}`)
	f.Fuzz(func(t *testing.T, data string) {
		formattest.Fuzz(t, New(), data)
	})
}

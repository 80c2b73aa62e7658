package auditd

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// FuzzDecode feeds arbitrary text, split into lines, and checks that the decoder never
// panics and that every result is either an event or a reject.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"auditd/go-libaudit-normal.log", "auditd/go-libaudit-rhel7.log"} {
		lines := readLines(f, name)
		for _, l := range lines {
			f.Add(l)
		}
		f.Add(strings.Join(lines, "\n"))
	}
	yaml := yamlAuditLines(f)
	for _, l := range yaml {
		f.Add(l)
	}
	f.Add(strings.Join(yaml, "\n"))
	f.Add(strings.Join(connectLines("node=h ", "1.000:1", -115, "0A0001BB00000000"+"20010DB8000000000000000000000001"), "\n"))
	f.Add("type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0\x1dSYSCALL=connect UID=\"root\"\n" +
		"type=EXECVE msg=audit(1.000:1): argc=2 a0=\"a\" a1_len=4 a1[0]=6162 a1[1]=\"cd\"\n" +
		"type=SOCKADDR msg=audit(1.000:1): saddr=0100006162")

	f.Fuzz(func(t *testing.T, data string) {
		d := New()
		emit := func(r format.Result) {
			if (r.Event == nil) == (r.Err == nil) {
				t.Fatalf("result with Event=%v Err=%v: want exactly one", r.Event, r.Err)
			}
		}
		for i, l := range strings.Split(data, "\n") {
			d.Decode(format.Line{Source: "fuzz", Num: int64(i + 1), Data: []byte(l)}, emit)
		}
		d.Flush(emit)
	})
}

package auditd

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// cuts returns the 0-based indexes of the lines a Boundary allows a cut before, and whether an
// event is open after the last line.
func cuts(lines []string) ([]int, bool) {
	var b Boundary
	var at []int
	for i, l := range lines {
		if b.Add([]byte(l)) {
			at = append(at, i)
		}
	}
	return at, b.Open()
}

func TestBoundary(t *testing.T) {
	noEOE := func(prefix, stamp string) []string {
		l := connectLines(prefix, stamp, 0, saddrV4)
		return l[:len(l)-1]
	}
	interleave := func(a, b []string) []string {
		var out []string
		for i := range a {
			out = append(out, b[i], a[i])
		}
		return out
	}
	execve := []string{
		`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 pid=2 comm="sh" exe="/bin/sh"`,
		`type=EXECVE msg=audit(1.000:1): argc=3 a0="sh" a1_len=10 a1[0]=68656C6C6F a1[1]=20776F726C64`,
		`type=EXECVE msg=audit(1.000:1): a2="-x"`,
		`type=SOCKADDR msg=audit(1.000:1): saddr=` + saddrV4,
		`type=EOE msg=audit(1.000:1):`,
	}
	tests := []struct {
		name  string
		lines []string
		cuts  []int
		open  bool
	}{
		{"events with EOE", slices.Concat(connectLines("", "1.000:1", 0, saddrV4), connectLines("", "1.000:2", 0, saddrV4)), []int{0, 5}, false},
		{"in the middle of an event", connectLines("", "1.000:1", 0, saddrV4)[:3], []int{0}, true},
		{"split EXECVE", slices.Concat(execve, connectLines("", "1.000:2", 0, saddrV4)), []int{0, 5}, false},
		{"single-record events between", slices.Concat(connectLines("", "1.000:1", 0, saddrV4),
			[]string{`type=USER_ACCT msg=audit(1.000:2): pid=1 uid=0 msg='op=PAM:accounting'`, `type=CRED_ACQ msg=audit(1.000:3): pid=1 uid=0`},
			connectLines("", "1.000:4", 0, saddrV4)), []int{0, 5, 6, 7}, false},
		{"interleaved hosts with EOE", slices.Concat(interleave(connectLines("node=a ", "1.000:7", 0, saddrV4), connectLines("node=b ", "1.000:7", 0, saddrV4)),
			connectLines("node=a ", "1.000:8", 0, saddrV4)), []int{0, 10}, false},
		// Once the log showed it writes EOE records, a host's event is open until its EOE
		// even when the host starts another one meanwhile.
		{"interleaved events of one host", slices.Concat(connectLines("", "1.000:0", 0, saddrV4), connectLines("", "1.000:1", 0, saddrV4)[:2],
			connectLines("", "1.000:2", 0, saddrV4)[:2], connectLines("", "1.000:1", 0, saddrV4)[2:]), []int{0, 5}, true},
		{"without EOE", slices.Concat(noEOE("", "1.000:1"), noEOE("", "1.000:2")), []int{0, 4}, true},
		{"interleaved hosts without EOE", interleave(noEOE("node=a ", "1.000:7"), noEOE("node=b ", "1.000:7")), []int{0}, true},
		{"not audit records", []string{`{"a":1}`, `{"a":2}`}, []int{0, 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, open := cuts(tt.lines)
			if !slices.Equal(got, tt.cuts) || open != tt.open {
				t.Errorf("cuts before %v, open %v; want %v, %v", got, open, tt.cuts, tt.open)
			}
		})
	}
}

// TestBoundaryKeepsEvents cuts real and generated logs at every place Boundary allows and
// decodes each piece on its own, as ingest decodes raw messages: the results must be those of
// the whole log.
func TestBoundaryKeepsEvents(t *testing.T) {
	var generated []string
	for i := range 50 {
		lines := connectLines(fmt.Sprintf("node=h%d ", i%3), fmt.Sprintf("%d.000:%d", 1700000000+i, i), 0, saddrV4)
		if i == 10 {
			lines = lines[:len(lines)-1] // its EOE record lost
		}
		generated = append(generated, lines...)
		generated = append(generated, fmt.Sprintf(`type=USER_ACCT msg=audit(%d.500:%d): pid=1 uid=0`, 1700000000+i, 1000+i))
	}
	logs := map[string][]string{
		"normal":    readLines(t, "auditd/go-libaudit-normal.log"),
		"rhel7":     readLines(t, "auditd/go-libaudit-rhel7.log"),
		"yaml":      yamlAuditLines(t),
		"generated": generated,
	}
	for name, lines := range logs {
		t.Run(name, func(t *testing.T) {
			want := describe(decodeLines(t, name, lines))
			var b Boundary
			d := New()
			var got []format.Result
			emit := func(r format.Result) { got = append(got, r.Clone()) }
			pieces := 1
			for i, l := range lines {
				if b.Add([]byte(l)) && i > 0 {
					d.Flush(emit)
					pieces++
				}
				d.Decode(format.Line{Source: name, Num: int64(i + 1), Data: []byte(l)}, emit)
			}
			d.Flush(emit)
			if pieces < 3 {
				t.Errorf("only %d pieces: the log was hardly cut", pieces)
			}
			if g := describe(got); !slices.Equal(g, want) {
				t.Errorf("cut into %d pieces:\n got %q\nwant %q", pieces, g, want)
			}
		})
	}
}

func describe(rs []format.Result) []string {
	var out []string
	for _, r := range rs {
		s := fmt.Sprintf("%s:%d %q", r.Source, r.Line, r.Raw)
		if r.Event != nil {
			s += fmt.Sprintf(" %s %s:%d %v", r.Event.Process.Name, r.Event.Destination.IP, r.Event.Destination.Port, r.Event.Process.Args)
		} else {
			s += " " + r.Err.Error()
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

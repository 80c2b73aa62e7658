package auditd

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		node     string
		typ      string
		stamp    string
		body     string
		enriched string
	}{
		{name: "plain", line: "type=EOE msg=audit(1.5:7): ", typ: "EOE", stamp: "1.5:7", body: " "},
		{name: "node prefix", line: "node=web-1 type=SYSCALL msg=audit(1490137971.011:50406): arch=c000003e",
			node: "web-1", typ: "SYSCALL", stamp: "1490137971.011:50406", body: " arch=c000003e"},
		{name: "no colon after stamp", line: "type=DAEMON_CONFIG msg=audit(1490239800.477:34) config changed",
			typ: "DAEMON_CONFIG", stamp: "1490239800.477:34", body: " config changed"},
		{name: "enriched", line: "type=SYSCALL msg=audit(1.000:2): syscall=42\x1dARCH=x86_64 SYSCALL=connect",
			typ: "SYSCALL", stamp: "1.000:2", body: " syscall=42", enriched: "ARCH=x86_64 SYSCALL=connect"},
		{name: "crlf", line: "type=EOE msg=audit(1.000:2):\r", typ: "EOE", stamp: "1.000:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRecord(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if r.node != tt.node || r.typ != tt.typ || r.stamp != tt.stamp || r.body != tt.body || r.enriched != tt.enriched {
				t.Errorf("got %+v", r)
			}
			if r.raw != tt.line {
				t.Errorf("raw %q", r.raw)
			}
		})
	}
}

func TestParseRecordMalformed(t *testing.T) {
	tests := []struct{ name, line string }{
		{"unknown record", "type=UNKNOWN[1329] msg=?"},
		{"no type", "msg=audit(1.000:2): a=b"},
		{"no msg", "type=SYSCALL"},
		{"bad stamp", "type=SYSCALL msg=audit(1x.000:2): a=b"},
		{"no serial", "type=SYSCALL msg=audit(1.000): a=b"},
		{"unclosed stamp", "type=SYSCALL msg=audit(1.000:2"},
		{"node only", "node=host"},
		{"interpreted time", "type=SYSCALL msg=audit(04/12/2017 22:48:09.295:58) : arch=x86_64"},
		{"garbage", "\x00\xff hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseRecord(tt.line)
			if !errors.Is(err, format.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), `expected "type=... msg=audit(SECS.MILLIS:SERIAL):"`) {
				t.Errorf("message %q does not say what was expected", err)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []field
	}{
		{"bare and quoted", ` a=1 comm="a b" key=(null)`, []field{{"a", "1"}, {"comm", `"a b"`}, {"key", "(null)"}}},
		{"single quoted message", `pid=1 msg='op=x exe="/bin/a" res=success' z=2`,
			[]field{{"pid", "1"}, {"msg", `'op=x exe="/bin/a" res=success'`}, {"z", "2"}}},
		{"words without =", `tty pid=3 config changed, auid=0`, []field{{"pid", "3"}, {"auid", "0"}}},
		{"unterminated quote", `a="xyz b=1`, []field{{"a", `"xyz b=1`}}},
		{"empty value and key", `a= =b c=d`, []field{{"a", ""}, {"c", "d"}}},
		{"split args", `a1_len=6 a1[0]=616263 a1[1]="def"`, []field{{"a1_len", "6"}, {"a1[0]", "616263"}, {"a1[1]", `"def"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseFields(tt.in, nil); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

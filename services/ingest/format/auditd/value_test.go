package auditd

import (
	"slices"
	"testing"
)

func TestDecodeString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"/usr/bin/grep"`, "/usr/bin/grep"},
		{"2F746D702F6120622063", "/tmp/a b c"},
		{"2f746d70", "/tmp"},
		{"(null)", ""},
		{"abc", "abc"}, // odd length: not hex
		{"zz", "zz"},   // not hex digits
		{`"unterminated`, "unterminated"},
		{`"/usr/bin/python2.7 (deleted)"`, "/usr/bin/python2.7 (deleted)"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := decodeString(tt.in); got != tt.want {
				t.Errorf("decodeString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeProctitle(t *testing.T) {
	tests := []struct {
		name, in, title string
		args            []string
	}{
		{"hex with NULs", "6966636F6E66696700656E7334002D70726F6D697363", "ifconfig ens4 -promisc", []string{"ifconfig", "ens4", "-promisc"}},
		{"trailing NUL", "6375726C00", "curl", []string{"curl"}},
		{"quoted", `"(sshd)"`, "(sshd)", []string{"(sshd)"}},
		{"null", "(null)", "", nil},
		{"empty", "", "", nil},
		{"not hex", "abc", "abc", []string{"abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			title, args := decodeProctitle(tt.in)
			if title != tt.title || !slices.Equal(args, tt.args) {
				t.Errorf("got %q %q, want %q %q", title, args, tt.title, tt.args)
			}
		})
	}
}

func TestExecveArgs(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"quoted", `argc=3 a0="grep" a1="--color=auto" a2="mapping"`, []string{"grep", "--color=auto", "mapping"}},
		{"hex arg", `argc=2 a0="echo" a1=6120622063`, []string{"echo", "a b c"}},
		{"split arg", `argc=3 a0="sh" a1_len=9 a1[0]=61626364 a1[1]=6566676869 a2="-x"`, []string{"sh", "abcdefghi", "-x"}},
		{"split across records", `argc=2 a0="sh" a1_len=4 a1[0]="ab"` + " " + `a1[1]="cd"`, []string{"sh", "abcd"}},
		{"missing argc", `a0="a" a1="b"`, []string{"a", "b"}},
		{"lost record", `argc=4 a0="a" a1="b"`, []string{"a", "b"}},
		{"huge argc", `argc=2147483647 a0="a"`, []string{"a"}},
		{"none", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := execveArgs(parseFields(tt.body, nil)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

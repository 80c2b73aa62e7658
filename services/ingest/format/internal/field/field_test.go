package field

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

func TestValueUnmarshal(t *testing.T) {
	var v struct {
		A, B, C, D, E, F, G, H Value
	}
	err := Unmarshal([]byte(`{"A":"x","B":12,"C":true,"D":null,"E":{"k":1},"F":[1],"G":"a\"\u00e9",`+"\"H\":\"\xff\"}"), &v)
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{{"x", String}, {"12", Number}, {"true", Bool}, {}, {"", Object}, {"", Array}, {`a"é`, String}, {"\ufffd", String}}
	got := []Value{v.A, v.B, v.C, v.D, v.E, v.F, v.G, v.H}
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		read func(*Reader) string
		want string
		err  string
	}{
		{"int string", func(r *Reader) string { return itoa(r.PID("p", Text(" 42 "))) }, "42", ""},
		{"int number", func(r *Reader) string { return itoa(r.PID("p", Value{"1e3", Number})) }, "1000", ""},
		{"int absent", func(r *Reader) string { return itoa(r.PID("p", Value{})) }, "0", ""},
		{"int fraction", func(r *Reader) string { return itoa(r.PID("p", Value{"1.5", Number})) }, "0", "p: expected an integer (0-2147483647), got 1.5"},
		{"int string fraction", func(r *Reader) string { return itoa(r.PID("p", Text("1.0"))) }, "0", `p: expected an integer (0-2147483647), got "1.0"`},
		{"int bool", func(r *Reader) string { return itoa(r.PID("p", Value{"true", Bool})) }, "0", "got true"},
		{"port range", func(r *Reader) string { return itoa(int64(r.Port("p", Value{"65536", Number}))) }, "0", "expected an integer (0-65535), got 65536"},
		{"id", func(r *Reader) string { return r.ID("u", Value{"4294967295", Number}) }, "4294967295", ""},
		{"id absent", func(r *Reader) string { return r.ID("u", Value{}) }, "", ""},
		{"str number", func(r *Reader) string { return r.Str("s", Value{"7", Number}) }, "7", ""},
		{"str object", func(r *Reader) string { return r.Str("s", Value{Kind: Object}) }, "", "s: expected a string, got an object"},
		{"ip mapped", func(r *Reader) string { return r.IP("i", Text("::ffff:192.0.2.1")) }, "192.0.2.1", ""},
		{"ip long v6", func(r *Reader) string { return r.IP("i", Text("0:0:0:0:0:0:0:0")) }, "::", ""},
		{"ip brackets", func(r *Reader) string { return r.IP("i", Text("[2001:db8::1]")) }, "2001:db8::1", ""},
		{"ip empty", func(r *Reader) string { return r.IP("i", Text("")) }, "", ""},
		{"ip bad", func(r *Reader) string { return r.IP("i", Text(strings.Repeat("x", 100))) }, "", `i: expected an IP address, got "xxxxxxxx`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Reader
			if got := tt.read(&r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			switch {
			case tt.err == "" && r.Err != nil:
				t.Errorf("unexpected error %v", r.Err)
			case tt.err != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tt.err) || !errors.Is(r.Err, format.ErrMalformed)):
				t.Errorf("error %v, want one wrapping ErrMalformed with %q", r.Err, tt.err)
			}
		})
	}
}

// TestReaderKeepsFirstError checks that a later bad field does not hide the first.
func TestReaderKeepsFirstError(t *testing.T) {
	var r Reader
	r.PID("first", Text("x"))
	r.PID("second", Text("y"))
	if r.Err == nil || !strings.Contains(r.Err.Error(), "first:") {
		t.Errorf("err = %v", r.Err)
	}
}

func TestBasename(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/curl": "curl", "java": "java", "": "", "/": "", "/opt/x/": "x", "a/b": "b",
	} {
		if got := Basename(in); got != want {
			t.Errorf("Basename(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  a  b ", []string{"a", "b"}},
		{`-- 34.116.205.187 "scp -t ~"`, []string{"--", "34.116.205.187", "scp -t ~"}},
		{`-c "say \"hi\""`, []string{"-c", `say "hi"`}},
		{`""`, []string{""}},
		{`"unterminated arg`, []string{"unterminated arg"}},
		{`a\b`, []string{`a\b`}},
	}
	for _, tt := range tests {
		if got := SplitArgs(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNetworkType(t *testing.T) {
	for _, tt := range []struct{ ip, typ, fam string }{
		{"192.0.2.1", "ipv4", "inet"}, {"2001:db8::1", "ipv6", "inet6"}, {"", "", ""}, {"x", "", ""},
	} {
		if typ, fam := NetworkType(tt.ip); typ != tt.typ || fam != tt.fam {
			t.Errorf("NetworkType(%q) = %q %q", tt.ip, typ, fam)
		}
	}
}

func TestUnmarshalErrors(t *testing.T) {
	var v struct {
		A struct {
			B []string `json:"b"`
		} `json:"a"`
	}
	tests := []struct{ in, msg string }{
		{`{"a":{"b":"x"}}`, "a.b: expected an array, got a string"},
		{`{"a":[]}`, "a: expected an object, got an array"},
		{`[]`, "expected a JSON object, got an array"},
		{`{"a":`, "expected a JSON object, got invalid JSON"},
		{`{} x`, "invalid JSON"},
	}
	for _, tt := range tests {
		err := Unmarshal([]byte(tt.in), &v)
		if !errors.Is(err, format.ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Unmarshal(%s) = %v, want %q", tt.in, err, tt.msg)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

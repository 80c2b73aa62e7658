package sense

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// The hand-written JSON is what encoding/json writes for the document, for full and sparse
// documents and for strings that need escaping or are not UTF-8.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	full := &process{exe: "/usr/bin/perl", cwd: "/var/www/\"html\"", args: []string{"perl", "-e", "a\tb\nc\\d\x01\xff<&>é"},
		container: "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"}
	records := []Record{
		{PID: 4243, TGID: 4242, PPID: 1, UID: 33, GID: 33, CgroupID: 9, NetNS: 4026531840, Family: afInet, SockType: sockStream,
			Hook: hookSyscall, Dest: netip.MustParseAddrPort("198.51.100.23:4444"), Source: netip.MustParseAddrPort("10.0.0.5:50123"), Comm: "perl"},
		{PID: 1, TGID: 1, Ret: -111, Family: afInet6, SockType: sockDgram, Hook: hookIOURing,
			Dest: netip.MustParseAddrPort("[2001:db8::7]:443"), Comm: "x\"y"},
		{PID: 7, TGID: 7, Ret: -115, Family: afInet, Hook: hookKernel, Dest: netip.MustParseAddrPort("192.0.2.1:0"),
			Source: netip.AddrPortFrom(netip.IPv4Unspecified(), 40000), Comm: ""},
	}
	for i, r := range records {
		for _, p := range []*process{full, {}} {
			for _, host := range []string{"web-01", ""} {
				d := newDocument(&r, at, host, ProbeRawTracepoint, "www-data", p)
				want, err := json.Marshal(&d)
				if err != nil {
					t.Fatal(err)
				}
				got := d.appendJSON(nil)
				var a, b any
				if err := json.Unmarshal(got, &a); err != nil {
					t.Fatalf("record %d: not JSON: %v\n%s", i, err, got)
				}
				if err := json.Unmarshal(want, &b); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a, b) {
					t.Errorf("record %d:\n got %s\nwant %s", i, got, want)
				}
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "\x00\x1f\x7f", "é\xff\xfe€", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		b, _ := json.Marshal(s)
		_ = json.Unmarshal(b, &want)
		if got != want {
			t.Errorf("%q: got %q, want %q", s, got, want)
		}
	})
}

package auditd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
)

const saddrV4 = "0200005DC0A8010A0000000000000000" // 192.168.1.10:93

// connectLines returns the records of a connect on x86_64 with the given stamp, exit and
// saddr, closed by EOE; prefix ("node=h ") goes before each line.
func connectLines(prefix, stamp string, exit int, saddr string) []string {
	return []string{
		prefix + "type=SYSCALL msg=audit(" + stamp + "): arch=c000003e syscall=42 success=yes exit=" + fmt.Sprint(exit) +
			` a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=4242 auid=1000 uid=1000 gid=1000 euid=1000 comm="curl" exe="/usr/bin/curl" key=(null)`,
		prefix + "type=SOCKADDR msg=audit(" + stamp + "): saddr=" + saddr,
		prefix + "type=CWD msg=audit(" + stamp + `): cwd="/home/u"`,
		prefix + "type=PROCTITLE msg=audit(" + stamp + "): proctitle=6375726C006578616D706C652E636F6D",
		prefix + "type=EOE msg=audit(" + stamp + "):",
	}
}

func TestDecodeConnect(t *testing.T) {
	ipv6 := "0A0001BB00000000" + "20010DB8000000000000000000000001" + "00000000"
	tests := []struct {
		name  string
		lines []string
		check func(t *testing.T, r format.Result)
	}{
		{
			name:  "ipv6",
			lines: connectLines("", "1700000000.123:9", 0, ipv6),
			check: func(t *testing.T, r format.Result) {
				e := r.Event
				if e.Destination.IP != "2001:db8::1" || e.Destination.Port != 443 || e.Network.Type != "ipv6" || e.Network.Family != "inet6" {
					t.Errorf("destination %+v network %+v", e.Destination, e.Network)
				}
				if e.Event.Outcome != "success" || e.Process.Title != "curl example.com" ||
					!slices.Equal(e.Process.Args, []string{"curl", "example.com"}) || e.Process.WorkingDirectory != "/home/u" {
					t.Errorf("event %+v", e)
				}
				if e.Timestamp.UnixMilli() != 1700000000123 || e.Timestamp.Location().String() != "UTC" {
					t.Errorf("timestamp %v", e.Timestamp)
				}
				if e.User.ID != "1000" || e.User.Name != "" || e.Process.PID != 4242 || e.Process.Parent.PID != 1 {
					t.Errorf("user %+v process %+v", e.User, e.Process)
				}
			},
		},
		{
			name: "hex values",
			lines: []string{
				`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=-111 ppid=1 pid=2 uid=0 comm=6D7920636F6D6D exe=2F746D702F6120622063 key=(null)`,
				`type=SOCKADDR msg=audit(1.000:1): saddr=` + saddrV4,
				`type=CWD msg=audit(1.000:1): cwd=2F746D702F6120622063`,
				`type=EOE msg=audit(1.000:1):`,
			},
			check: func(t *testing.T, r format.Result) {
				p := r.Event.Process
				if p.Name != "my comm" || p.Executable != "/tmp/a b c" || p.WorkingDirectory != "/tmp/a b c" || p.Args != nil {
					t.Errorf("process %+v", p)
				}
				if r.Event.Event.Outcome != "failure" {
					t.Errorf("outcome %q, want failure", r.Event.Event.Outcome)
				}
			},
		},
		{
			name: "execve split args win over proctitle",
			lines: []string{
				`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 pid=2 comm="sh" exe="/bin/sh"`,
				`type=EXECVE msg=audit(1.000:1): argc=3 a0="sh" a1_len=10 a1[0]=68656C6C6F a1[1]=20776F726C64`,
				`type=EXECVE msg=audit(1.000:1): a2="-x"`,
				`type=PROCTITLE msg=audit(1.000:1): proctitle=736800`,
				`type=SOCKADDR msg=audit(1.000:1): saddr=` + saddrV4,
				`type=EOE msg=audit(1.000:1):`,
			},
			check: func(t *testing.T, r format.Result) {
				if got := r.Event.Process.Args; !slices.Equal(got, []string{"sh", "hello world", "-x"}) {
					t.Errorf("args %q", got)
				}
				if r.Event.Process.Title != "sh" {
					t.Errorf("title %q", r.Event.Process.Title)
				}
			},
		},
		{
			name: "enriched",
			lines: []string{
				"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=-115 pid=2 uid=0 comm=\"wget\" exe=\"/usr/bin/wget\"" +
					"\x1dARCH=x86_64 SYSCALL=connect AUID=\"alice\" UID=\"root\" GID=\"root\"",
				"type=SOCKADDR msg=audit(1.000:1): saddr=" + saddrV4 + "\x1dSADDR={ saddr_fam=inet laddr=192.168.1.10 lport=93 }",
				"type=EOE msg=audit(1.000:1):",
			},
			check: func(t *testing.T, r format.Result) {
				e := r.Event
				if e.User.Name != "root" || e.User.ID != "0" || e.Event.Outcome != "unknown" || e.Destination.IP != "192.168.1.10" {
					t.Errorf("user %+v outcome %q destination %+v", e.User, e.Event.Outcome, e.Destination)
				}
			},
		},
		{
			name: "out of order records",
			lines: []string{
				`type=SOCKADDR msg=audit(1.000:1): saddr=` + saddrV4,
				`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 pid=2 comm="nc" exe="/bin/nc"`,
			},
			check: func(t *testing.T, r format.Result) {
				if r.Event.Destination.Port != 93 || r.Line != 1 || len(splitRaw(r.Raw)) != 2 {
					t.Errorf("event %+v line %d raw %q", r.Event.Destination, r.Line, r.Raw)
				}
			},
		},
		{
			name: "deleted exe quoted",
			lines: []string{
				`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 pid=2 comm="python" exe="/usr/bin/python2.7 (deleted)"`,
				`type=SOCKADDR msg=audit(1.000:1): saddr=` + saddrV4,
			},
			check: func(t *testing.T, r format.Result) {
				if r.Event.Process.Executable != "/usr/bin/python2.7 (deleted)" {
					t.Errorf("exe %q", r.Event.Process.Executable)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := decodeLines(t, "test", tt.lines)
			if len(rs) != 1 || rs[0].Event == nil {
				t.Fatalf("got %d results (%+v), want one event", len(rs), rs)
			}
			if want := strings.Join(tt.lines, "\n"); string(rs[0].Raw) != want {
				t.Errorf("raw = %q, want %q", rs[0].Raw, want)
			}
			tt.check(t, rs[0])
		})
	}
}

func TestDecodeInterleavedHosts(t *testing.T) {
	a := connectLines("node=a ", "100.000:7", 0, saddrV4)
	b := connectLines("node=b ", "100.000:7", -111, saddrV4) // same stamp, other host
	var lines []string
	for i := range a {
		lines = append(lines, b[i], a[i])
	}
	rs := decodeLines(t, "central", lines)
	if len(rs) != 2 {
		t.Fatalf("got %d results, want 2", len(rs))
	}
	// b's EOE comes first, so b completes first.
	if rs[0].Event.Host.Name != "b" || rs[1].Event.Host.Name != "a" {
		t.Errorf("hosts %q %q, want b a", rs[0].Event.Host.Name, rs[1].Event.Host.Name)
	}
	if rs[0].Event.Event.Outcome != "failure" || rs[1].Event.Event.Outcome != "success" {
		t.Errorf("outcomes %q %q", rs[0].Event.Event.Outcome, rs[1].Event.Event.Outcome)
	}
	if rs[0].Line != 1 || rs[1].Line != 2 {
		t.Errorf("lines %d %d, want 1 2", rs[0].Line, rs[1].Line)
	}
	for _, r := range rs {
		if n := len(splitRaw(r.Raw)); n != 5 {
			t.Errorf("host %s raw has %d lines, want 5", r.Event.Host.Name, n)
		}
	}
}

// TestDecodeWithoutEOE checks that groups complete without EOE: when too many are pending,
// when one has been idle for long, and at Flush.
func TestDecodeWithoutEOE(t *testing.T) {
	noEOE := func(stamp string) []string {
		l := connectLines("", stamp, 0, saddrV4)
		return l[:len(l)-1]
	}
	t.Run("too many pending", func(t *testing.T) {
		d := New()
		var got []string
		emit := func(r format.Result) { got = append(got, r.Event.Process.Name+"@"+fmt.Sprint(r.Line)) }
		n := int64(0)
		for i := range maxPending + 1 {
			for _, l := range noEOE(fmt.Sprintf("1.000:%d", i)) {
				n++
				d.Decode(format.Line{Num: n, Data: []byte(l)}, emit)
			}
		}
		if len(got) != 1 || got[0] != "curl@1" {
			t.Fatalf("before flush: %v, want the oldest group only", got)
		}
		d.Flush(emit)
		if len(got) != maxPending+1 {
			t.Fatalf("after flush: %d results, want %d", len(got), maxPending+1)
		}
		if got[1] != "curl@5" || got[maxPending] != fmt.Sprintf("curl@%d", 4*maxPending+1) {
			t.Errorf("flush order %v", got)
		}
	})
	t.Run("idle", func(t *testing.T) {
		d := New()
		var got int
		emit := func(format.Result) { got++ }
		n := int64(0)
		feed := func(l string) {
			n++
			d.Decode(format.Line{Num: n, Data: []byte(l)}, emit)
		}
		for _, l := range noEOE("1.000:1") {
			feed(l)
		}
		for range maxIdleLines {
			feed("")
		}
		if got != 0 {
			t.Fatalf("completed after %d idle lines", maxIdleLines)
		}
		feed("")
		if got != 1 {
			t.Errorf("not completed after %d idle lines", maxIdleLines+1)
		}
	})
	t.Run("flush", func(t *testing.T) {
		rs := decodeLines(t, "x", append(noEOE("1.000:1"), noEOE("2.000:2")...))
		if len(rs) != 2 || rs[0].Line != 1 || rs[1].Line != 5 {
			t.Errorf("results %+v", rs)
		}
	})
}

func TestDecodeIgnored(t *testing.T) {
	lines := []string{
		`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 exit=0 comm="ls" exe="/bin/ls"`,
		`type=EXECVE msg=audit(1.000:1): argc=1 a0="ls"`,
		`type=EOE msg=audit(1.000:1):`,
		`type=USER_LOGIN msg=audit(2.000:2): pid=1 uid=0 msg='op=login res=success'`,
		`type=SOCKADDR msg=audit(3.000:3): saddr=` + saddrV4, // no SYSCALL: not a connect
		``,
		`   `,
	}
	if rs := decodeLines(t, "x", lines); len(rs) != 0 {
		t.Errorf("got %d results, want none: %+v", len(rs), rs)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string
		wantErr  error
		wantLine int64
		wantRaw  string
		wantMsg  string
	}{
		{
			name:     "malformed line",
			lines:    []string{"garbage here"},
			wantErr:  format.ErrMalformed,
			wantLine: 1,
			wantRaw:  "garbage here",
			wantMsg:  `expected "type=... msg=audit(SECS.MILLIS:SERIAL):", got "garbage here"`,
		},
		{
			name: "missing sockaddr",
			lines: []string{
				`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 comm="nc" exe="/bin/nc"`,
				`type=EOE msg=audit(1.000:1):`,
			},
			wantErr:  ErrNoSockaddr,
			wantLine: 1,
			wantRaw: `type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 comm="nc" exe="/bin/nc"` + "\n" +
				`type=EOE msg=audit(1.000:1):`,
			wantMsg: "expected a SOCKADDR record",
		},
		{
			name: "undecodable sockaddr",
			lines: []string{
				`type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 comm="nc" exe="/bin/nc"`,
				`type=SOCKADDR msg=audit(1.000:1): saddr=0200`,
			},
			wantErr:  ErrNoSockaddr,
			wantLine: 1,
			wantRaw: `type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 comm="nc" exe="/bin/nc"` + "\n" +
				`type=SOCKADDR msg=audit(1.000:1): saddr=0200`,
			wantMsg: "expected at least 8 bytes for AF_INET",
		},
		{
			name:     "seconds out of range",
			lines:    connectLines("", "99999999999999999999.000:1", 0, saddrV4)[:2],
			wantErr:  format.ErrMalformed,
			wantLine: 1,
			wantRaw:  strings.Join(connectLines("", "99999999999999999999.000:1", 0, saddrV4)[:2], "\n"),
			wantMsg:  "expected SECS.MILLIS:SERIAL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := decodeLines(t, "src", tt.lines)
			if len(rs) != 1 {
				t.Fatalf("got %d results, want 1", len(rs))
			}
			r := rs[0]
			if !errors.Is(r.Err, tt.wantErr) || !errors.Is(r.Err, format.ErrMalformed) {
				t.Errorf("err = %v, want %v", r.Err, tt.wantErr)
			}
			if r.Err != nil && !strings.Contains(r.Err.Error(), tt.wantMsg) {
				t.Errorf("message %q lacks %q", r.Err, tt.wantMsg)
			}
			if r.Line != tt.wantLine || r.Source != "src" || string(r.Raw) != tt.wantRaw {
				t.Errorf("line %d source %q raw %q", r.Line, r.Source, r.Raw)
			}
		})
	}
}

// TestDecodeRawIsCopied checks that results do not alias the caller's buffer, which is
// reused after Decode returns.
func TestDecodeRawIsCopied(t *testing.T) {
	d := New()
	var rs []format.Result
	emit := func(r format.Result) { rs = append(rs, r.Clone()) }
	buf := []byte("not an audit line")
	d.Decode(format.Line{Num: 1, Data: buf}, emit)
	lines := connectLines("", "1.000:1", 0, saddrV4)
	for i, l := range lines {
		buf = append(buf[:0], l...)
		d.Decode(format.Line{Num: int64(i + 2), Data: buf}, emit)
		copy(buf, strings.Repeat("X", len(buf)))
	}
	if len(rs) != 2 || string(rs[0].Raw) != "not an audit line" || string(rs[1].Raw) != strings.Join(lines, "\n") {
		t.Fatalf("results alias the input buffer: %+v", rs)
	}
	if rs[1].Event.Process.Name != "curl" {
		t.Errorf("process name %q", rs[1].Event.Process.Name)
	}
}

package auditd

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"strings"
	"testing"
)

// generatedHistory is the head of a history as the replay benchmark generates it (6 hosts,
// 5000 connects, SYSCALL, SOCKADDR, CWD, EXECVE, PROCTITLE and EOE records with node=
// prefixes), made by
//
//	cd e2e && go run ./cmd/genhistory -days 2 -format auditd | head -30000 | gzip -9n
const generatedHistory = "testdata/fleet-2d-head.audit.gz"

// readGenerated returns the lines of the generated history.
func readGenerated(tb testing.TB) []string {
	tb.Helper()
	f, err := os.Open(generatedHistory)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}

// realLines returns the lines of every real auditd sample, one file after the other.
func realLines(tb testing.TB) []string {
	tb.Helper()
	var lines []string
	lines = append(lines, readLines(tb, "auditd/go-libaudit-normal.log")...)
	lines = append(lines, readLines(tb, "auditd/go-libaudit-rhel7.log")...)
	return append(lines, yamlAuditLines(tb)...)
}

// variedEvents returns events, each as its lines, in the shapes real logs take (the records
// auditd writes on x86_64 and other arches, ENRICHED and interpreted logs, central logs
// with node= prefixes), with the odd cases each decoder must agree on: hex-encoded values,
// split and lost EXECVE arguments, every address family, records out of order, events
// without EOE or SYSCALL, and malformed lines.
func variedEvents() [][]string {
	var events [][]string
	serial := 100
	add := func(node string, records ...string) {
		serial++
		stamp := fmt.Sprintf("1749094648.%03d:%d", serial%1000, serial)
		prefix := ""
		if node != "" {
			prefix = "node=" + node + " "
		}
		var lines []string
		for _, r := range records {
			typ, body, _ := strings.Cut(r, " ")
			lines = append(lines, prefix+"type="+typ+" msg=audit("+stamp+"):"+body)
		}
		events = append(events, lines)
	}
	const tail = ` items=0 ppid=1238 pid=1831 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=tty1 ses=1`
	sys := func(arch, nr, exit, a0, extra string) string {
		return "SYSCALL arch=" + arch + " syscall=" + nr + " success=yes exit=" + exit + " a0=" + a0 + " a1=7f8a65d41d8c a2=10 a3=0" + tail + extra
	}
	const v4 = "SOCKADDR saddr=02000035C0A84F01E5E5E5E5E5E5E5E5"
	const v6 = "SOCKADDR saddr=0A0001BB0000000020010DB8000000000000000000000001" + "00000000"
	archs := []struct{ arch, nr, socketcall string }{
		{"c000003e", "42", ""}, {"c00000b7", "203", ""}, {"c00000f3", "203", ""},
		{"40000003", "362", "102"}, {"40000028", "283", ""}, {"80000015", "328", "102"},
		{"c0000015", "328", "102"}, {"80000016", "362", "102"}, {"00000028", "283", ""},
		{"C000003E", "42", ""}, {"deadbeef", "42", ""}, {"x86_64", "connect", ""}, {"i386", "socketcall", "102"},
	}
	for _, a := range archs {
		comm := ` comm="curl" exe="/usr/bin/curl" key="net"`
		add("", sys(a.arch, a.nr, "0", "3", comm), v4, `CWD cwd="/root"`, "PROCTITLE proctitle=6375726C002D73006578616D706C652E636F6D", "EOE")
		add("big", sys(a.arch, a.nr, "-115", "5", comm), "SOCKADDR saddr=00020050C0A80001", "EOE")
		add("big", sys(a.arch, a.nr, "-111", "5", comm), "SOCKADDR saddr=000A01BB00000000"+"20010DB8000000000000000000000002", "EOE")
		if a.socketcall != "" {
			add("sc", sys(a.arch, a.socketcall, "0", "3", comm), v4, "EOE")
			add("sc", sys(a.arch, a.socketcall, "0", "1", comm), v4, "EOE")
			add("sc", sys(a.arch, a.socketcall, "0", "connect", comm), v4, "EOE")
		}
	}
	// Address families, with garbage after the address as the kernel logs it.
	for _, saddr := range []string{
		"02000050A9FEA9FE0000000000000000", "020001bb0a000001", v6[len("SOCKADDR saddr="):],
		"0A000035" + "00000000" + "00000000000000000000FFFF7F000035" + "00000000",
		"01002F7661722F72756E2F6E7363642F736F636B65740000603B7B47FC7F", "0100" + "00" + "2F746D702F2E5831312D756E69782F5830",
		"0100", "01", "0100" + "00", "100000000000000000000000", "00000000000000000000000000000000", "11000000", "FFFF",
		"zz00", "020", "", "02", "02000050A9FE", "0A000016000000000000", `"0200"`, "(null)",
	} {
		add("fam", sys("c000003e", "42", "0", "3", ` comm="nc" exe="/bin/nc"`), "SOCKADDR saddr="+saddr, "EOE")
	}
	// ENRICHED records: names after 0x1d, hex comm, unknown families, other syscalls.
	enr := "\x1dARCH=x86_64 SYSCALL=connect AUID=\"wj\" UID=\"wj\" GID=\"wj\""
	hexComm := ` comm=444E53205265737E76657220233239 exe="/usr/lib/firefox-esr/firefox-esr" subj=unconfined key="network_connect_4"`
	add("", sys("c000003e", "42", "0", "bc", hexComm+enr), v4+"\x1dSADDR={ saddr_fam=inet laddr=192.168.79.1 lport=53 }", `PROCTITLE proctitle="/usr/lib/firefox-esr/firefox-esr"`)
	add("", sys("c000003e", "41", "188", "2", hexComm+"\x1dARCH=x86_64 SYSCALL=socket AUID=\"wj\" UID=\"wj\""), `PROCTITLE proctitle="/usr/lib/firefox-esr/firefox-esr"`)
	add("", sys("c000003e", "42", "0", "bc", hexComm+"\x1dARCH=x86_64 SYSCALL=sendto UID=\"wj\""), v4)
	add("", sys("c000003e", "9999", "0", "bc", hexComm+"\x1dSYSCALL=CONNECT UID=\"root\" UID=\"other\""), "SOCKADDR saddr=00000000000000000000000000000000\x1dSADDR=unknown-family(0)")
	add("", sys("c000003e", "42", "0", "bc", hexComm+"\x1dSYSCALL=socketcall(connect) UID=726F6F74"), v4)
	add("", sys("c000003e", "42", "0", "bc", hexComm+"\x1d"), v4)
	add("", sys("c000003e", "42", "0", "bc", hexComm+"\x1dSYSCALL=\"connect\""), v4)
	add("", sys("c000003e", "42", "0", "bc", hexComm+"\x1dSYSCALL=ſocketcall UID=\"\""), v4)
	add("", sys("c000003e", "42", "0", "bc", hexComm+"\x1dSYSCALL=SOCKETCALL a0=3"), v4)
	add("", sys("c000003e", "42", "0", "bc", hexComm+"\x1dSYSCALL=socketcall\u212A UID=(null)"), v4)
	// Interpreted logs (ausearch -i with raw stamps): names for numbers and errnos.
	for _, exit := range []string{"EINPROGRESS(Operation now in progress)", "ECONNREFUSED(Connection refused)", "0", "-115", "-1", "+5", "99999999999999999999", "-99999999999999999999", "x", ""} {
		add("interp", "SYSCALL arch=x86_64 syscall=connect success=no exit="+exit+" a0=0x3 items=0 ppid=1 pid=2914 auid=unset uid=apache gid=apache comm=httpd exe=/usr/sbin/httpd", v4, "EOE")
	}
	add("interp", "SYSCALL arch=x86_64 syscall=connect exit=x success=yes uid=root", v4)
	add("interp", "SYSCALL arch=x86_64 syscall=connect exit=x success=maybe uid=726F6F74", v4)
	add("interp", "SYSCALL arch=x86_64 syscall=connect exit=x uid=(null) pid=+7 ppid=-3", v4)
	add("interp", "SYSCALL arch=x86_64 syscall=connect pid=99999999999999999999 ppid=12x", v4)
	// Hex and quoted values, (null), deleted executables.
	add("vals", "SYSCALL arch=c000003e syscall=42 exit=-111 ppid=1 pid=2 uid=0 comm=6D7920636F6D6D exe=2F746D702F6120622063 key=(null)", v4, "CWD cwd=2F746D702F6120622063", "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 pid=2 comm="python" exe="/usr/bin/python2.7 (deleted)"`, v4, `CWD cwd="/var/spool/postfix"`, `CWD cwd="/second"`, "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 pid=2 comm=(null) exe="unterminated`, v4, "CWD cwd=(null)", "PROCTITLE proctitle=(null)", "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 pid=2 comm='single' exe="mixed'`, v4, "CWD cwd=abc", "PROCTITLE proctitle=abc", "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 pid=2 comm="" exe=" `, v4, `CWD nocwd="/"`, `PROCTITLE proctitle=""`, "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 pid=2 comm=ZZ exe=0`, v4, `PROCTITLE proctitle=00000000`, "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 pid=2 comm=c`, v4, `PROCTITLE proctitle=0061000062`, `PROCTITLE`, "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 pid=2 comm=c`, v4, `PROCTITLE proctitle=61006200`, `PROCTITLE proctitle="(sshd)"`, "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 arch=40000003 syscall=43 pid=2 pid=3 comm="a" comm="b"`, "SOCKADDR x=1", "SOCKADDR saddr=00020050C0A80001", "SOCKADDR saddr=02000050A9FEA9FE", "EOE")
	add("vals", `SYSCALL arch=c000003e  syscall=42   exit=0 pid=2 =x tty comm="a b" c d= e=`, v4, "EOE")
	add("vals", `SYSCALL arch=c000003e syscall=42 exit=0 msg='op=x exe="/bin/a" res=success' comm="q"`, v4, "EOE")
	// EXECVE records: hex, split and lost arguments, several records, odd names.
	for _, ex := range [][]string{
		{`EXECVE argc=3 a0="grep" a1="--color=auto" a2="mapping"`},
		{`EXECVE argc=2 a0="echo" a1=6120622063`},
		{`EXECVE argc=3 a0="sh" a1_len=9 a1[0]=61626364 a1[1]=6566676869 a2="-x"`},
		{`EXECVE argc=3 a0="sh" a1_len=10 a1[0]=68656C6C6F a1[1]=20776F726C64`, `EXECVE a2="-x"`},
		{`EXECVE argc=2 a0="sh" a1_len=4 a1[0]="ab"`, `EXECVE a1[1]="cd"`},
		{`EXECVE a0="a" a1="b"`},
		{`EXECVE argc=4 a0="a" a1="b"`},
		{`EXECVE argc=2147483647 a0="a"`},
		{`EXECVE argc=0 a0="a"`},
		{`EXECVE argc=-1 a0="a" a1="b"`},
		{`EXECVE argc=x a0="a" a01="b" a1="c"`},
		{`EXECVE argc=99999999999999999999 a0="a"`},
		{`EXECVE argc=+2 a0="a" a0="dup" a1="b"`},
		{`EXECVE argc=2 a1="b" a0="a"`},
		{`EXECVE argc=2 a0_len=2 a0[1]="b" a0[0]="a" a0[0]="dup" a1_len=0`},
		{`EXECVE argc=1 a0[0]="no-len"`},
		{`EXECVE argc=1 a0_len=3 a0[00]="x" a0[]="y" a0[0]x="z" a0[0]]="w"`},
		{`EXECVE argc=3 a0=(null) a1="" a2=`},
		{`EXECVE argc=2 a9999999999="x" a0="a"`},
		{`EXECVE`},
		{`EXECVE argc=1`},
	} {
		records := []string{sys("c000003e", "42", "0", "3", ` comm="sh" exe="/bin/sh"`)}
		records = append(records, ex...)
		records = append(records, `PROCTITLE proctitle=736800`, v4, "EOE")
		add("exec", records...)
	}
	// Records out of order, without SYSCALL or EOE, other syscalls, repeated SYSCALLs.
	add("order", v4, `CWD cwd="/"`, sys("c000003e", "42", "0", "3", ` comm="nc" exe="/bin/nc"`))
	add("order", v4, `CWD cwd="/"`, "EOE")
	add("order", sys("c000003e", "59", "0", "3", ` comm="ls" exe="/bin/ls"`), `EXECVE argc=1 a0="ls"`, v4, "EOE")
	add("order", sys("c000003e", "42", "0", "3", ` comm="a"`), sys("c000003e", "59", "0", "3", ` comm="b"`), v4, "EOE")
	add("order", sys("c000003e", "59", "0", "3", ` comm="b"`), sys("c000003e", "42", "0", "3", ` comm="a"`), v4, "EOE")
	add("order", sys("c000003e", "42", "0", "3", ` comm="no-saddr"`), `CWD cwd="/"`, "EOE")
	add("order", sys("c000003e", "42", "0", "3", ` comm="no-eoe"`), v4)
	add("order", "USER_LOGIN pid=1 uid=0 msg='op=login res=success'")
	add("order", "PATH item=0 name=\"/tmp\" inode=2", "EOE")
	add("", "DAEMON_CONFIG config changed")
	events = append(events,
		[]string{"type=DAEMON_START msg=audit(1490239800.477:34) auditd start, ver=2.6.6"},
		[]string{"type=SYSCALL msg=audit(1490239800.477:34) arch=c000003e syscall=42 exit=0 comm=x", "type=SOCKADDR msg=audit(1490239800.477:34) saddr=" + v4[len("SOCKADDR saddr="):]},
		[]string{"type=EOE msg=audit(99999999999999999999.000:1):"},
		[]string{"type=SYSCALL msg=audit(99999999999999999999.000:1): arch=c000003e syscall=42 exit=0", "type=SOCKADDR msg=audit(99999999999999999999.000:1): saddr=0200"},
		[]string{"type=SYSCALL msg=audit(0000000000000000000001.1234567891:1): arch=c000003e syscall=42 exit=0", "type=SOCKADDR msg=audit(0000000000000000000001.1234567891:1): saddr=" + v4[len("SOCKADDR saddr="):]},
		[]string{"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=42 exit=0 comm=\"crlf\"\r", "type=SOCKADDR msg=audit(1.000:1): saddr=02000050A9FEA9FE\r\n", "type=EOE msg=audit(1.000:1):\r"},
		[]string{" \t node=tabbed   type=SYSCALL   msg=audit(2.5:2): arch=c000003e syscall=42 exit=0", "node=tabbed type=SOCKADDR msg=audit(2.5:2)saddr=02000050A9FEA9FE", "node=tabbed type=EOE msg=audit(2.5:2):"},
		[]string{"node= type=SYSCALL msg=audit(3.0:3): arch=c000003e syscall=42 exit=0", "type=SOCKADDR msg=audit(3.0:3): saddr=02000050A9FEA9FE"},
		[]string{"type=SYSCALL msg=audit(4.0:4): arch=c000003e syscall=42 exit=0 x\x1dy", "type=SOCKADDR msg=audit(4.0:4\x1d): saddr=02000050A9FEA9FE"},
		[]string{"type=UNKNOWN[1329] msg=?", "garbage here", "node=host", "msg=audit(1.000:2): a=b", "type=SYSCALL", "type=SYSCALL msg=audit(1x.000:2): a=b",
			"type=SYSCALL msg=audit(1.000): a=b", "type=SYSCALL msg=audit(1.000:2", "type=SYSCALL msg=audit(04/12/2017 22:48:09.295:58) : arch=x86_64",
			"\x00\xff hello", "type= msg=audit(1.0:1):", "type=X  msg=audit(.0:1):", "type=X msg=audit(1.:1):", "type=X msg=audit(1.0:):", strings.Repeat("x", 200),
			"", "   ", "\t", "\u00a0", "\u0085", "\r"},
	)
	return events
}

// joinEvents returns the lines of events one after the other.
func joinEvents(events [][]string) []string {
	var lines []string
	for _, e := range events {
		lines = append(lines, e...)
	}
	return lines
}

// mix interleaves the lines of events as a central log of busy hosts would, and damages
// some, deterministically from seed: events overlap, lose records, repeat, get cut short,
// and blank lines come between.
func mix(events [][]string, seed uint64, n int) []string {
	r := newRand(seed)
	var out []string
	var open [][]string
	for len(out) < n {
		if len(open) < 4 && r.n(3) > 0 {
			e := events[r.n(len(events))]
			open = append(open, append([]string(nil), e...))
		}
		if len(open) == 0 {
			continue
		}
		i := r.n(len(open))
		line := open[i][0]
		switch r.n(40) {
		case 0:
			line = line[:r.n(len(line)+1)]
		case 1:
			out = append(out, line) // repeated
		case 2:
			line = "" // a lost record
		case 3:
			out = append(out, strings.Repeat(" ", r.n(3)))
		}
		if line != "" {
			out = append(out, line)
		}
		if open[i] = open[i][1:]; len(open[i]) == 0 {
			open = append(open[:i], open[i+1:]...)
		}
	}
	return out
}

// rng is a small deterministic generator (SplitMix64), so the mixes are the same on every
// machine and Go version.
type rng struct{ s uint64 }

func newRand(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) n(max int) int {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(max))
}

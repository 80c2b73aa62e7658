package sim

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Event is one generated connection.
type Event struct {
	Time    time.Time
	Host    string
	Name    string
	Exe     string
	User    string
	UID     int
	PID     int
	DestIP  string
	Port    int
	Args    []string
	Cwd     string
	Outcome string
}

// WriteECS writes events as Auditbeat 8.x ECS NDJSON.
func WriteECS(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, e := range events {
		doc := map[string]any{
			"@timestamp": e.Time.Format(time.RFC3339Nano),
			"agent":      map[string]any{"type": "auditbeat"},
			"event": map[string]any{"kind": "event", "category": []string{"network"}, "type": []string{"connection", "start"},
				"action": "connected-to", "outcome": e.Outcome, "module": "auditd"},
			"host":        map[string]any{"name": e.Host, "os": map[string]any{"type": "linux"}},
			"process":     map[string]any{"name": e.Name, "pid": e.PID, "executable": e.Exe, "args": e.Args, "working_directory": e.Cwd},
			"user":        map[string]any{"name": e.User, "id": fmt.Sprint(e.UID)},
			"destination": map[string]any{"ip": e.DestIP, "port": e.Port},
			"network":     map[string]any{"direction": "egress", "transport": "tcp"},
		}
		if err := enc.Encode(doc); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteAuditd writes events as raw auditd logs (x86_64 connect with SOCKADDR, CWD, EXECVE,
// PROCTITLE and EOE records, with node= prefixes), the way auditd writes them.
func WriteAuditd(w io.Writer, events []Event) error {
	bw := bufio.NewWriter(w)
	for i, e := range events {
		stamp := fmt.Sprintf("%d.%03d:%d", e.Time.Unix(), e.Time.Nanosecond()/1e6, 1000+i)
		ip := netip.MustParseAddr(e.DestIP)
		var saddr string
		if ip.Is4() {
			a := ip.As4()
			saddr = fmt.Sprintf("0200%04X%s0000000000000000", e.Port, strings.ToUpper(hex.EncodeToString(a[:])))
		} else {
			a := ip.As16()
			saddr = fmt.Sprintf("0A00%04X00000000%s00000000", e.Port, strings.ToUpper(hex.EncodeToString(a[:])))
		}
		fmt.Fprintf(bw, "node=%s type=SYSCALL msg=audit(%s): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=%d auid=%d uid=%d gid=%d euid=%d suid=%d fsuid=%d egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=%q exe=%q key=\"net\"\n",
			e.Host, stamp, e.PID, e.UID, e.UID, e.UID, e.UID, e.UID, e.UID, e.Name, e.Exe)
		fmt.Fprintf(bw, "node=%s type=SOCKADDR msg=audit(%s): saddr=%s\n", e.Host, stamp, saddr)
		fmt.Fprintf(bw, "node=%s type=CWD msg=audit(%s): cwd=%q\n", e.Host, stamp, e.Cwd)
		fmt.Fprintf(bw, "node=%s type=EXECVE msg=audit(%s): argc=%d", e.Host, stamp, len(e.Args))
		for k, a := range e.Args {
			fmt.Fprintf(bw, " a%d=%s", k, strings.ToUpper(hex.EncodeToString([]byte(a))))
		}
		bw.WriteByte('\n')
		fmt.Fprintf(bw, "node=%s type=PROCTITLE msg=audit(%s): proctitle=%s\n", e.Host, stamp,
			strings.ToUpper(hex.EncodeToString([]byte(strings.Join(e.Args, "\x00")))))
		fmt.Fprintf(bw, "node=%s type=EOE msg=audit(%s): \n", e.Host, stamp)
	}
	return bw.Flush()
}

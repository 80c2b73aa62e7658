package collect

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tableHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// hexAddrPort prints an address as the kernel does in /proc/net/tcp.
func hexAddrPort(ap netip.AddrPort) string {
	var b strings.Builder
	if ap.Addr().Is4() {
		a := ap.Addr().As4()
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(a[:]))
	} else {
		a := ap.Addr().As16()
		for w := range 4 {
			fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(a[w*4:]))
		}
	}
	fmt.Fprintf(&b, ":%04X", ap.Port())
	return b.String()
}

// tableRow is one row of a socket table.
func tableRow(sl int, local, remote string, state uint8, uid int, inode uint64) string {
	return fmt.Sprintf("%4d: %s %s %02X 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 20 4 30 10 -1\n",
		sl, hexAddrPort(netip.MustParseAddrPort(local)), hexAddrPort(netip.MustParseAddrPort(remote)), state, uid, inode)
}

// fakeProc builds a /proc tree in a temporary directory.
type fakeProc struct {
	t    testing.TB
	root string
}

func newFakeProc(t testing.TB) *fakeProc {
	return &fakeProc{t: t, root: t.TempDir()}
}

func (p *fakeProc) write(rel, content string) {
	p.t.Helper()
	path := filepath.Join(p.root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *fakeProc) link(rel, target string) {
	p.t.Helper()
	path := filepath.Join(p.root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	os.Remove(path)
	if err := os.Symlink(target, path); err != nil {
		p.t.Fatal(err)
	}
}

// process adds a process in network namespace ns holding the given socket inodes.
func (p *fakeProc) process(pid int, ns uint64, comm, exe, cwd string, uid int, args []string, sockets ...uint64) {
	dir := fmt.Sprint(pid)
	p.write(dir+"/comm", comm+"\n")
	p.link(dir+"/exe", exe)
	p.link(dir+"/cwd", cwd)
	p.write(dir+"/cmdline", strings.Join(args, "\x00")+"\x00")
	p.write(dir+"/status", fmt.Sprintf("Name:\t%s\nPid:\t%d\nPPid:\t1\nUid:\t%d\t%d\t%d\t%d\nGid:\t0\t0\t0\t0\n", comm, pid, uid, uid, uid, uid))
	p.link(dir+"/ns/net", fmt.Sprintf("net:[%d]", ns))
	p.link(dir+"/fd/0", "/dev/null")
	for i, ino := range sockets {
		p.link(fmt.Sprintf("%s/fd/%d", dir, i+3), fmt.Sprintf("socket:[%d]", ino))
	}
}

// tables writes the socket tables that every process of pids sees.
func (p *fakeProc) tables(pids []int, tcp, tcp6, udp, udp6 string) {
	for _, pid := range pids {
		for name, rows := range map[string]string{"tcp": tcp, "tcp6": tcp6, "udp": udp, "udp6": udp6} {
			p.write(fmt.Sprintf("%d/net/%s", pid, name), tableHeader+rows)
		}
	}
}

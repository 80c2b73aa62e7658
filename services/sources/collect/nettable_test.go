package collect

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTable(t *testing.T) {
	data := tableHeader +
		tableRow(0, "0.0.0.0:22", "0.0.0.0:0", StateListen, 0, 1001) +
		tableRow(1, "10.0.0.5:51234", "203.0.113.7:443", StateEstablished, 1000, 1002) +
		"   2: garbage\n" +
		tableRow(3, "10.0.0.5:40000", "198.51.100.1:80", StateSynSent, 33, 1003)
	socks, err := ParseTable(nil, []byte(data), TCP)
	if !errors.Is(err, ErrMalformedTable) || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("err = %v, want ErrMalformedTable naming line 4", err)
	}
	want := []Socket{
		{TCP, netip.MustParseAddrPort("0.0.0.0:22"), netip.MustParseAddrPort("0.0.0.0:0"), StateListen, 0, 1001},
		{TCP, netip.MustParseAddrPort("10.0.0.5:51234"), netip.MustParseAddrPort("203.0.113.7:443"), StateEstablished, 1000, 1002},
		{TCP, netip.MustParseAddrPort("10.0.0.5:40000"), netip.MustParseAddrPort("198.51.100.1:80"), StateSynSent, 33, 1003},
	}
	if len(socks) != len(want) {
		t.Fatalf("%d sockets, want %d: %+v", len(socks), len(want), socks)
	}
	for i := range want {
		if socks[i] != want[i] {
			t.Errorf("socket %d = %+v, want %+v", i, socks[i], want[i])
		}
	}
}

// A row as a little-endian kernel prints it, checked by hand: 127.0.0.1:631 and
// [::ffff:192.0.2.10]:8080.
func TestParseTableKernelText(t *testing.T) {
	if !littleEndian() {
		t.Skip("the literal rows are those of a little-endian machine")
	}
	v4 := tableHeader + "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17886 1 0000000000000000 100 0 0 10 0\n"
	socks, err := ParseTable(nil, []byte(v4), TCP)
	if err != nil || len(socks) != 1 || socks[0].Local != netip.MustParseAddrPort("127.0.0.1:631") || socks[0].Inode != 17886 {
		t.Errorf("v4: %+v, %v", socks, err)
	}
	v6 := tableHeader + "   0: 0000000000000000FFFF00000A0200C0:1F90 00000000000000000000000001000000:0035 01 00000000:00000000 00:00000000 00000000   101        0 4242 1 0000000000000000 20 0 0 10 0\n"
	socks, err = ParseTable(nil, []byte(v6), UDP)
	if err != nil || len(socks) != 1 {
		t.Fatalf("v6: %+v, %v", socks, err)
	}
	if s := socks[0]; s.Local != netip.MustParseAddrPort("[::ffff:192.0.2.10]:8080") || s.Remote != netip.MustParseAddrPort("[::1]:53") || s.UID != 101 || s.Transport != UDP {
		t.Errorf("v6: %+v", s)
	}
}

func littleEndian() bool {
	a := netip.MustParseAddrPort("1.2.3.4:1")
	return strings.HasPrefix(hexAddrPort(a), "04030201")
}

func TestOutbound(t *testing.T) {
	mk := func(tr Transport, local, remote string, st uint8, ino uint64) Socket {
		return Socket{Transport: tr, Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), State: st, Inode: ino}
	}
	socks := []Socket{
		mk(TCP, "0.0.0.0:22", "0.0.0.0:0", StateListen, 1),
		mk(TCP, "10.0.0.5:22", "192.0.2.9:50000", StateEstablished, 2),    // accepted: inbound
		mk(TCP, "10.0.0.5:50001", "203.0.113.7:443", StateEstablished, 3), // outbound
		mk(TCP, "10.0.0.5:50002", "203.0.113.7:443", StateSynSent, 4),     // outbound attempt
		mk(TCP, "10.0.0.5:50003", "203.0.113.7:443", 0x06, 5),             // TIME_WAIT
		mk(UDP, "0.0.0.0:5353", "0.0.0.0:0", StateClose, 6),               // bound, unconnected
		mk(UDP, "10.0.0.5:40000", "192.0.2.53:53", StateEstablished, 7),   // connected: outbound
		mk(UDP, "10.0.0.5:5353", "192.0.2.1:5353", StateEstablished, 8),   // from a bound port
		mk(TCP, "[::]:0", "[::]:0", StateClose, 9),
	}
	var got []uint64
	for _, s := range outbound(socks) {
		got = append(got, s.Inode)
	}
	if len(got) != 3 || got[0] != 3 || got[1] != 4 || got[2] != 7 {
		t.Errorf("outbound inodes %v, want [3 4 7]", got)
	}
}

func FuzzParseTable(f *testing.F) {
	f.Add([]byte(tableHeader + tableRow(0, "10.0.0.5:51234", "203.0.113.7:443", StateEstablished, 1000, 1002)))
	f.Add([]byte(tableHeader + tableRow(0, "[2001:db8::1]:51234", "[2001:db8::2]:443", StateEstablished, 0, 7)))
	f.Add([]byte(tableHeader + "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17886 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		socks, _ := ParseTable(nil, data, TCP)
		if rows := strings.Count(string(data), "\n") + 1; len(socks) > rows {
			t.Fatalf("%d sockets from %d lines", len(socks), rows)
		}
		for _, s := range socks {
			if !s.Local.IsValid() || !s.Remote.IsValid() {
				t.Fatalf("invalid address in %+v", s)
			}
		}
	})
}

package sense

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// encodeRecord lays out e as the kernel writes struct event.
func encodeRecord(t *testing.T, e connectEvent) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, &e); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func comm(s string) (c [16]int8) {
	for i := range min(len(s), 15) {
		c[i] = int8(s[i])
	}
	return c
}

func TestDecodeRecord(t *testing.T) {
	if recordSize != 120 {
		t.Fatalf("struct event is %d bytes, want 120 (bpf/connect.c and the generated type disagree)", recordSize)
	}
	v4 := connectEvent{Ts: 5, StartTime: 6, CgroupId: 7, Pid: 101, Tgid: 100, Ppid: 1, Uid: 33, Gid: 34, Netns: 4026531840,
		Ret: -111, Family: afInet, Dport: 4444, Sport: 50123, SockType: sockStream, Hook: hookSyscall, Fd: 3,
		Daddr: [16]uint8{198, 51, 100, 23}, Saddr: [16]uint8{10, 0, 0, 5}, Comm: comm("perl")}
	r, err := decodeRecord(encodeRecord(t, v4))
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Mono: 5, StartTime: 6, CgroupID: 7, PID: 101, TGID: 100, PPID: 1, UID: 33, GID: 34, NetNS: 4026531840,
		Ret: -111, Family: afInet, SockType: sockStream, Hook: hookSyscall,
		Dest: netip.MustParseAddrPort("198.51.100.23:4444"), Source: netip.MustParseAddrPort("10.0.0.5:50123"), Comm: "perl"}
	if r != want {
		t.Fatalf("decoded %+v\nwant    %+v", r, want)
	}
	if r.Outcome() != "failure" || r.Errno() != "ECONNREFUSED" || r.Transport() != "tcp" || r.HookName() != "syscall" {
		t.Errorf("outcome %q errno %q transport %q hook %q", r.Outcome(), r.Errno(), r.Transport(), r.HookName())
	}

	v6 := v4
	v6.Family, v6.Ret, v6.SockType, v6.Hook = afInet6, -115, sockDgram, hookIOURing
	v6.Daddr = netip.MustParseAddr("2001:db8::7").As16()
	v6.Comm = comm("a-name-longer-than-15")
	r, err = decodeRecord(encodeRecord(t, v6))
	if err != nil {
		t.Fatal(err)
	}
	if r.Dest.String() != "[2001:db8::7]:4444" || r.Comm != "a-name-longer-t" || r.Outcome() != "unknown" ||
		r.Errno() != "EINPROGRESS" || r.Transport() != "udp" || r.HookName() != "io_uring" {
		t.Errorf("IPv6 record: %+v outcome %q errno %q", r, r.Outcome(), r.Errno())
	}
	r.Ret = 0
	if r.Outcome() != "success" || r.Errno() != "" {
		t.Errorf("success: outcome %q errno %q", r.Outcome(), r.Errno())
	}
	r.Ret = -4095
	if r.Errno() != "errno 4095" {
		t.Errorf("unnamed errno: %q", r.Errno())
	}

	if _, err := decodeRecord(make([]byte, recordSize-1)); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short sample: %v, want ErrShortRecord", err)
	}
}

// The embedded object holds what the loader expects: every probe's programs, the maps and
// the variables set before loading.
func TestEmbeddedObject(t *testing.T) {
	spec, err := loadConnect()
	if err != nil {
		t.Fatal(err)
	}
	for probe, progs := range programs {
		for _, p := range progs {
			if spec.Programs[p] == nil {
				t.Errorf("probe %s: program %s missing from the object", probe, p)
			}
		}
	}
	for _, m := range []string{"events", "inflight"} {
		if spec.Maps[m] == nil {
			t.Errorf("map %s missing", m)
		}
	}
	for _, v := range []string{"self_tgid", "keep_loopback", "events_total", "lost_total"} {
		if spec.Variables[v] == nil {
			t.Errorf("variable %s missing", v)
		}
	}
	if got := spec.Programs["fexit_connect"].AttachTo; got != connectFunc {
		t.Errorf("fexit attaches to %q, want %s", got, connectFunc)
	}
}

package sense

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// inNetns runs f on an OS thread that has entered network namespace ns (made by netns), so
// the sockets f creates live there: their connects leave loopback for a veth address, which
// the sensor does not filter out.
func inNetns(b testing.TB, ns string, f func()) {
	b.Helper()
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, openErr := unix.Open(filepath.Join("/var/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if openErr != nil {
			err = openErr
			return
		}
		defer unix.Close(fd)
		if err = unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return
		}
		f()
	}()
	<-done
	if err != nil {
		b.Fatal(err)
	}
}

// connects makes n blocking TCP connects to server, each closed at once with a reset (so no
// TIME_WAIT exhausts the ports), and returns the wall time they took.
func connects(b *testing.B, n int, server unix.Sockaddr) time.Duration {
	b.Helper()
	var failed error
	began := time.Now()
	for range n {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			failed = err
			break
		}
		if err := unix.Connect(s, server); err != nil {
			failed = err
		}
		_ = unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		unix.Close(s)
		if failed != nil {
			break
		}
	}
	took := time.Since(began)
	if failed != nil {
		b.Fatal(failed)
	}
	return took
}

// cpuTime is the CPU time (user and system) the process (who = RUSAGE_SELF) or the calling
// thread (RUSAGE_THREAD) has used.
func cpuTime(b *testing.B, who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSplit measures f's CPU time: on the calling (locked) thread, which makes the connects,
// and on every other thread of the process (the listener's accepts, the runtime, the
// sensor's reader).
func cpuSplit(b *testing.B, f func()) (thread, others time.Duration) {
	p0, t0 := cpuTime(b, syscall.RUSAGE_SELF), cpuTime(b, unix.RUSAGE_THREAD)
	f()
	t := cpuTime(b, unix.RUSAGE_THREAD) - t0
	return t, cpuTime(b, syscall.RUSAGE_SELF) - p0 - t
}

// BenchmarkConnectOverhead makes b.N connects to a listener in a namespace of its own, first
// without the sensor, then with it loaded and its reader turning every record into an ECS
// document (everything the sensor does but the publishing to NATS). It reports the cost of a
// connect either way, wall and CPU time of the connecting thread (which pays for the BPF
// programs), and their ratio; the sensor's CPU: the time the process's other threads used
// beyond the baseline's, per connect and as a share of the wall time while the connects run
// flat out; and the BPF programs' average run time (every syscall of the machine runs
// sys_enter and sys_exit, so their average is the sensor's toll on every other syscall).
//
//	go test -run '^$' -bench ConnectOverhead -benchtime 20000x ./sense/
func BenchmarkConnectOverhead(b *testing.B) {
	ns := netns(b)
	var ln net.Listener
	inNetns(b, ns, func() {
		var err error
		ln, err = net.Listen("tcp4", nsServerAddr+":0")
		if err != nil {
			b.Fatal(err)
		}
	})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	server := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{10, 200, 78, 1}}
	n := b.N
	inNetns(b, ns, func() { connects(b, min(n, 500), server) }) // warm up

	var off, offThread, offOthers time.Duration
	inNetns(b, ns, func() {
		offThread, offOthers = cpuSplit(b, func() { off = connects(b, n, server) })
	})

	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Logf("BPF run-time statistics unavailable: %v", err)
	} else {
		defer stats.Close()
	}
	s := newSensor(b, Config{Host: "bench", SelfTGID: -1, ProcRoot: "/proc"})
	lines := make(chan []byte, 16384)
	readDone := make(chan error, 1)
	go func() { readDone <- s.read(lines, slog.New(slog.DiscardHandler)) }()
	got := make(chan int)
	go func() {
		k := 0
		for range lines {
			k++
		}
		got <- k
	}()

	var on, onThread, onOthers time.Duration
	b.ResetTimer()
	inNetns(b, ns, func() {
		onThread, onOthers = cpuSplit(b, func() {
			on = connects(b, n, server)
			// Wait until the reader has caught up, so its work is counted.
			deadline := time.Now().Add(30 * time.Second)
			for s.Stats().Records.Load() < int64(n) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		})
	})
	b.StopTimer()
	var runtimes []time.Duration
	var runs []uint64
	for _, name := range []string{"sys_enter", "sys_exit"} {
		if st, err := s.att.coll.Programs[name].Stats(); err == nil && st.RunCount > 0 {
			runtimes = append(runtimes, st.Runtime)
			runs = append(runs, st.RunCount)
		}
	}
	s.Close()
	if err := <-readDone; err != nil && !errors.Is(err, os.ErrClosed) {
		b.Fatal(err)
	}
	read := <-got
	if s.Stats().Lost.Load() > 0 {
		b.Logf("%d records lost", s.Stats().Lost.Load())
	}
	if read < n {
		b.Errorf("the sensor read %d records of %d connects", read, n)
	}
	perOff := float64(off.Nanoseconds()) / float64(n)
	perOn := float64(on.Nanoseconds()) / float64(n)
	b.ReportMetric(perOff, "ns/connect-off")
	b.ReportMetric(perOn, "ns/connect-on")
	b.ReportMetric(perOn/perOff, "on/off")
	sensor := onOthers - offOthers
	b.ReportMetric(100*float64(sensor.Nanoseconds())/float64(on.Nanoseconds()), "sensor-cpu-%")
	b.ReportMetric(float64(sensor.Nanoseconds())/float64(n), "sensor-cpu-ns/connect")
	b.ReportMetric(float64(offThread.Nanoseconds())/float64(n), "cpu-ns/connect-off")
	b.ReportMetric(float64(onThread.Nanoseconds())/float64(n), "cpu-ns/connect-on")
	for i, name := range []string{"bpf-ns/sys_enter", "bpf-ns/sys_exit"} {
		if i < len(runs) {
			b.ReportMetric(float64(runtimes[i].Nanoseconds())/float64(runs[i]), name)
		}
	}
}

// BenchmarkRecordToDocument is the sensor's user-space work per record, without the kernel
// and NATS: decode the ring buffer sample, find the process in the cache, build and marshal
// the ECS document.
func BenchmarkRecordToDocument(b *testing.B) {
	raw := make([]byte, recordSize)
	e := connectEvent{Ts: 5, Pid: uint32(os.Getpid()), Tgid: uint32(os.Getpid()), Uid: 0, Ret: -115, Family: afInet,
		Dport: 443, Sport: 50000, SockType: sockStream, Hook: hookSyscall, Daddr: [16]uint8{192, 0, 2, 1}, Comm: comm("curl")}
	if _, err := binary.Encode(raw, binary.LittleEndian, &e); err != nil {
		b.Fatal(err)
	}
	procs := newProcCache("/proc", 16)
	users := &userNames{path: "/etc/passwd"}
	var clk clock
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		r, err := decodeRecord(raw)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		p, _ := procs.get(&r)
		doc := newDocument(&r, clk.wall(r.Mono, now), "h", ProbeRawTracepoint, users.lookup(r.UID, now), p)
		buf = doc.appendJSON(buf[:0])
	}
}

// BenchmarkEncodingJSON is the document written by encoding/json instead, the baseline of
// appendJSON.
func BenchmarkEncodingJSON(b *testing.B) {
	r := Record{PID: 4243, TGID: 4242, PPID: 1, UID: 33, Family: afInet, SockType: sockStream, Hook: hookSyscall,
		Dest: netip.MustParseAddrPort("198.51.100.23:4444"), Source: netip.MustParseAddrPort("10.0.0.5:50123"), Comm: "perl"}
	p := &process{exe: "/usr/bin/perl", cwd: "/var/www/html", args: []string{"perl", "-e", "connect(...)"}}
	doc := newDocument(&r, time.Now(), "web-01", ProbeRawTracepoint, "www-data", p)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = doc.appendJSON(buf[:0])
		}
	})
}

package sense

import (
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/syncbuf"
)

// dialFromNetns connects once to addr from a thread of this process inside namespace ns.
func dialFromNetns(t *testing.T, ns, addr string) {
	t.Helper()
	inNetns(t, ns, func() {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		c.Close()
	})
}

// Loopback destinations and the sensor's own process are dropped in the kernel; the
// control connect, to the namespace's veth address, shows the sensor was watching.
func TestLoopbackAndSelfFilteredInKernel(t *testing.T) {
	ns := netns(t)
	bin := helperBinary(t)
	server := startHelper(t, ns, bin, "serve", ":0")
	addr := server.line(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]

	for _, keep := range []bool{false, true} {
		cfg := Config{Host: "sense-test"}
		if keep {
			cfg.SelfTGID, cfg.KeepLoopback = -1, true
		}
		s := newSensor(t, cfg)
		js := runSensor(t, s)
		loop := startHelper(t, ns, bin, "burst", "127.0.0.1:"+port+" 3 0s")
		loop.goAhead(t)
		loop.line(t)
		dialFromNetns(t, ns, nsServerAddr+":"+port) // from this process
		control := startHelper(t, ns, bin, "burst", nsServerAddr+":"+port+" 1 0s")
		control.goAhead(t)
		control.line(t)
		if got := len(waitDocs(t, js, control.cmd.Process.Pid, 1)); got != 1 {
			t.Fatalf("keep %v: the control connect was not reported (%d)", keep, got)
		}
		time.Sleep(2 * DefaultFlushInterval)
		gotLoop, gotSelf := len(docsOf(t, js, loop.cmd.Process.Pid)), len(docsOf(t, js, os.Getpid()))
		want := 0
		if keep {
			want = 1
		}
		if keep && gotLoop != 3 || !keep && gotLoop != 0 {
			t.Errorf("keep loopback %v: %d loopback connects reported", keep, gotLoop)
		}
		if gotSelf != want {
			t.Errorf("self filter off %v: %d connects of the sensor's own process reported, want %d", keep, gotSelf, want)
		}
	}
}

// A ring buffer too small for a burst loses records: the kernel counts them, the sensor
// logs them and exports them; every connect is either published or counted as lost.
func TestLostRecordsAreCountedAndLogged(t *testing.T) {
	ns := netns(t)
	bin := helperBinary(t)
	server := startHelper(t, ns, bin, "serve", ":0")
	addr := server.line(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	page := 4096
	s := newSensor(t, Config{Host: "sense-test", RingBuffer: page}) // 34 records
	// Nobody reads yet: the burst fills the buffer.
	const n = 200
	burst := startHelper(t, ns, bin, "burst", nsServerAddr+":"+port+" "+strconv.Itoa(n)+" 0s")
	burst.goAhead(t)
	burst.line(t)
	lost := s.LostRecords()
	if lost < n-int64(page/recordSize) {
		t.Fatalf("%d records lost of a burst of %d into a %d-byte ring buffer", lost, n, page)
	}

	var logs syncbuf.Buffer
	js := runSensorLogging(t, s, slog.New(slog.NewTextHandler(&logs, nil)))
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "ring buffer full: records lost in the kernel") {
		if time.Now().After(deadline) {
			t.Fatalf("the loss is not logged within 20s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	published := len(docsOf(t, js, burst.cmd.Process.Pid))
	if s.Stats().Lost.Load() < lost || int64(published)+s.Stats().Lost.Load() < n {
		t.Errorf("%d published and %d lost of %d connects: some vanished", published, s.Stats().Lost.Load(), n)
	}
	t.Logf("burst of %d: %d published, %d lost (counted and logged)", n, published, s.Stats().Lost.Load())
}

package sense

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The namespace's addresses: a private /30 that exists only inside the namespace the test
// creates. No traffic leaves it.
const (
	nsServerAddr = "10.200.78.1"
	nsClientAddr = "10.200.78.2"
	nsServer6    = "fd00:200:78::1"
	helperEnv    = "RARENET_SENSE_HELPER"
	// helperName is the workload's process name: the test binary copied under this name.
	helperName = "rn-shortconn"
)

// TestHelperProcess is the server or the client run inside the namespace; it is not a test
// of its own.
func TestHelperProcess(t *testing.T) {
	role, arg, _ := strings.Cut(os.Getenv(helperEnv), " ")
	switch role {
	case "serve": // arg: address; accepts and closes every connection
		ln, err := net.Listen("tcp", arg)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "burst": // arg: "address count gap": count connects, each closed at once; prints
		// "done count failures longest-open-µs open-under-1ms"
		f := strings.Fields(arg)
		n, _ := strconv.Atoi(f[1])
		gap, _ := time.ParseDuration(f[2])
		ready(os.Stdin)
		fails := 0
		var longest time.Duration // from the connect's return to the close's
		under := 0                // connections open less than a millisecond
		for range n {
			c, err := burstDial(f[0])
			if err != nil {
				fails++
				continue
			}
			opened := time.Now()
			c.Close()
			open := time.Since(opened)
			longest = max(longest, open)
			if open < time.Millisecond {
				under++
			}
			time.Sleep(gap)
		}
		fmt.Printf("done %d %d %d %d\n", n, fails, longest.Microseconds(), under)
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "refused": // arg: address where nothing listens; one blocking connect(2)
		res, err := blockingConnect(arg)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("done", res)
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "uring": // arg: address; one connect through io_uring
		res, err := uringConnect(arg)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("done", res)
		_, _ = io.Copy(io.Discard, os.Stdin)
	default:
		t.Skip("helper process, run by the namespace tests")
	}
	os.Exit(0)
}

// ready waits for the test's go-ahead: one line on stdin.
func ready(r io.Reader) {
	_, _ = bufio.NewReader(r).ReadString('\n')
}

func burstDial(addr string) (net.Conn, error) {
	local := &net.TCPAddr{IP: net.ParseIP(nsClientAddr)}
	if strings.HasPrefix(addr, "[") {
		local = nil
	}
	d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// helperProc is a helper running inside the namespace.
type helperProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// helperBinary copies the test binary under helperName, so the workload has a known comm
// and executable path.
func helperBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), helperName)
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// startHelper runs bin as a helper inside namespace ns.
func startHelper(t *testing.T, ns, bin, role, arg string) *helperProc {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role+" "+arg)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return &helperProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
}

// line reads the helper's next line of output.
func (h *helperProc) line(t *testing.T) string {
	t.Helper()
	l, err := h.out.ReadString('\n')
	l = strings.TrimSpace(l)
	if err != nil || strings.HasPrefix(l, "error") {
		t.Fatalf("helper: %q, %v", l, err)
	}
	return l
}

// goAhead lets a waiting helper start.
func (h *helperProc) goAhead(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// netns creates a network namespace with a veth pair (IPv4 and IPv6) inside it, or skips
// the test when that is not possible here.
func netns(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: creating a network namespace (ip netns add) needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: `ip` (iproute2) is not installed")
	}
	ns := fmt.Sprintf("rarenet-sense-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("skipped: ip netns is unavailable here: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Logf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "rs0", "type", "veth", "peer", "name", "rs1"},
		{"addr", "add", nsServerAddr + "/30", "dev", "rs0"},
		{"addr", "add", nsClientAddr + "/30", "dev", "rs1"},
		{"-6", "addr", "add", nsServer6 + "/64", "dev", "rs0", "nodad"},
		{"link", "set", "rs0", "up"},
		{"link", "set", "rs1", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
		}
	}
	return ns
}

// newSensor loads the sensor, or skips the test with the kernel's reason.
func newSensor(t testing.TB, cfg Config) *Sensor {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)")
	}
	s, err := New(cfg, nil)
	if err != nil {
		if errors.Is(err, ErrNoProbe) {
			t.Skipf("skipped: the kernel refuses BPF here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

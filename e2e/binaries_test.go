package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/syncbuf"
)

// natsServerVersion is the standalone server the multi-process tests run: the version of the
// nats-server module the project embeds.
const natsServerVersion = "v2.15.2"

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// repoRoot finds the repository root: the directory holding go.work.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the working directory: run the tests inside the repository")
		}
		dir = parent
	}
}

// binaries builds the service binaries and the quality harness's simulate and evaluate, and
// installs the standalone nats-server, once per test binary, and returns their directory.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root := repoRoot(t)
		binDir, buildErr = os.MkdirTemp("", "rarenet-e2e-bin-")
		if buildErr != nil {
			return
		}
		if buildErr = buildCommands(root, binDir); buildErr != nil {
			return
		}
		install := exec.Command("go", "install", "github.com/nats-io/nats-server/v2@"+natsServerVersion)
		install.Env = append(os.Environ(), "GOBIN="+binDir, "GOWORK=off")
		install.Dir = os.TempDir()
		if out, err := install.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go install nats-server: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// buildCommands builds the service binaries and the quality harness's commands of the
// repository at root into dir.
func buildCommands(root, dir string) error {
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"./services/rarenet/cmd/rarenet", "./services/ingest/cmd/ingest", "./services/scorer/cmd/scorer",
		"./services/enricher/cmd/enricher", "./services/windower/cmd/windower", "./services/notify/cmd/notify",
		"./e2e/cmd/simulate", "./e2e/cmd/evaluate")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", root, err, out)
	}
	return nil
}

// freePort returns a loopback port free now, outside the kernel's ephemeral range, and never
// the same twice in one test binary. A port the kernel hands out for ":0" comes from the
// ephemeral range, where the next outgoing connection of any process (a stage dialling NATS)
// may take it before the server meant to listen on it does: a cluster node then exits with
// "address already in use" (seen once in about a hundred benchmark clusters). When the
// ephemeral range leaves no room outside it, the kernel chooses, as before.
func freePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	from, to := portsOutsideEphemeral()
	for range 1000 {
		if to <= from {
			break
		}
		port := from + rand.IntN(to-from)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// portsOutsideEphemeral is a range of ports [from, to) outside the kernel's ephemeral range
// (Linux's default 32768-60999 when it cannot be read): below it from 10000, else above it.
func portsOutsideEphemeral() (from, to int) {
	low, high := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			l, err1 := strconv.Atoi(f[0])
			h, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && l <= h {
				low, high = l, h
			}
		}
	}
	switch {
	case low-10000 >= 1000:
		return 10000, low
	case 65535-high >= 1000:
		return high + 1, 65536
	}
	return 0, 0
}

// proc is a child process whose output is kept for the failure message.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
	err  error
}

// start runs a binary until the test ends; its output is logged if the test fails.
func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(name), cmd: exec.Command(name, args...), out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", p.name, p.out.String())
		}
		// E2E_LOGS_DIR keeps every process's output, failed or not: how a flaky run is told
		// from a passing one (`E2E_LOGS_DIR=dir go test -run TestReplicasSurviveKills .`).
		if d := os.Getenv("E2E_LOGS_DIR"); d != "" {
			name := filepath.Join(d, fmt.Sprintf("%s-%d.log", p.name, p.cmd.Process.Pid))
			err := os.MkdirAll(d, 0o755)
			if err == nil {
				err = os.WriteFile(name, []byte(p.out.String()), 0o644)
			}
			if err != nil {
				t.Errorf("keep the output of %s: %v", p.name, err)
			}
		}
	})
	return p
}

// stop asks the process to end (SIGTERM), and kills it if it does not.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second): // generous: CI machines are shared and slow under load
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitPort waits until something listens on port.
func waitPort(t testing.TB, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d", port)
}

// run runs a binary to completion and returns its stdout; stderr goes to the failure message.
func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runErr runs a binary to completion; the error carries its stderr. Safe off the test's
// goroutine.
func runErr(name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %v: %w\nstderr:\n%s", filepath.Base(name), args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

package collect

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natsembed"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// The namespace's addresses: a private /30 that exists only inside the namespace the test
// creates. No traffic leaves it.
const (
	nsServerAddr = "10.200.77.1"
	nsClientAddr = "10.200.77.2"
	helperEnv    = "RARENET_COLLECT_HELPER"
)

// TestHelperProcess is the server or the client run inside the namespace; it is not a test
// of its own.
func TestHelperProcess(t *testing.T) {
	role, arg, _ := strings.Cut(os.Getenv(helperEnv), " ")
	switch role {
	case "serve":
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
				defer c.Close()
			}
		}()
	case "connect":
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(nsClientAddr)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", arg)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		defer c.Close()
		fmt.Println(c.LocalAddr().String())
	default:
		t.Skip("helper process, run by TestNetnsClientIsSeen")
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // hold the socket until the test closes stdin
	os.Exit(0)
}

// helper runs the test binary as a helper inside namespace ns and returns its first line.
func helper(t *testing.T, ns, role, arg string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperProcess$")
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	line = strings.TrimSpace(line)
	if err != nil || strings.HasPrefix(line, "error") {
		t.Fatalf("%s helper: %q, %v", role, line, err)
	}
	return cmd, line
}

// netns creates a network namespace with a veth pair inside it, or skips the test when that
// is not possible here.
func netns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: creating a network namespace (ip netns add) needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: `ip` (iproute2) is not installed")
	}
	ns := fmt.Sprintf("rarenet-test-%d", os.Getpid())
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
		{"link", "add", "rn0", "type", "veth", "peer", "name", "rn1"},
		{"addr", "add", nsServerAddr + "/30", "dev", "rn0"},
		{"addr", "add", nsClientAddr + "/30", "dev", "rn1"},
		{"link", "set", "rn0", "up"},
		{"link", "set", "rn1", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
		}
	}
	return ns
}

// A client inside a namespace the test made connects to a non-loopback address of that
// namespace; the collector, outside it, reads the namespace through the client's /proc
// entries and publishes the connection on rarenet.raw.ecs.
func TestNetnsClientIsSeen(t *testing.T) {
	ns := netns(t)
	_, serverAddr := helper(t, ns, "serve", nsServerAddr+":0")
	client, clientAddr := helper(t, ns, "connect", serverAddr)
	t.Logf("namespace %s: client %s (pid %d) connected to %s", ns, clientAddr, client.Process.Pid, serverAddr)

	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := natsutil.Connect("", srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := natsutil.JetStream(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 2, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Host: "netns-test", Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx, js, slog.New(slog.DiscardHandler)) }()
	defer func() { stop(); <-done }()

	wantDest := fmt.Sprintf(`"destination":{"ip":%q,"port":%s}`, nsServerAddr, serverAddr[strings.LastIndexByte(serverAddr, ':')+1:])
	comm := filepath.Base(os.Args[0])
	comm = comm[:min(len(comm), 15)]
	deadline := time.Now().Add(20 * time.Second)
	for {
		if line, ok := findStored(t, ctx, js, wantDest); ok {
			for _, want := range []string{
				`"name":"` + comm + `"`,
				fmt.Sprintf(`"pid":%d`, client.Process.Pid),
				`"source":{"ip":"` + nsClientAddr + `"`,
				`"module":"rarenet_collect"`,
				`"action":"connected-to"`,
				`"host":{"name":"netns-test"`,
			} {
				if !strings.Contains(line, want) {
					t.Errorf("event lacks %s:\n%s", want, line)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event with %s on rarenet.raw.ecs after 20s (stats: %d polls, %d events, %d unattributed)",
				wantDest, c.Stats().Polls.Load(), c.Stats().Events.Load(), c.Stats().Unattributed.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// findStored looks for a line containing substr in the RAW stream's ECS messages.
func findStored(t *testing.T, ctx context.Context, js jetstream.JetStream, substr string) (string, bool) {
	t.Helper()
	s, err := js.Stream(ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != stream.RawSubject("ecs") || m.Header.Get(control.HeaderSource) != "collect:netns-test" {
			t.Fatalf("message on %s from %q, want rarenet.raw.ecs from collect:netns-test", m.Subject, m.Header.Get(control.HeaderSource))
		}
		for l := range strings.SplitSeq(natstest.RawText(t, m.Header, m.Data), "\n") {
			if strings.Contains(l, substr) {
				return l, true
			}
		}
	}
	return "", false
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const senseHelperEnv = "RARENET_SENSE_CMD_ARGS"

// TestSenseHelper runs `rarenet sense` with the arguments in its environment, in a process of
// its own: the command drops the process's capabilities, which the tests' process keeps.
func TestSenseHelper(t *testing.T) {
	args := os.Getenv(senseHelperEnv)
	if args == "" {
		t.Skip("helper process, run by TestSenseCommand")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := senseCmd(ctx, strings.Fields(args)); err != nil {
		fmt.Fprintln(os.Stderr, "sense:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// `rarenet sense` attaches, keeps only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, serves its
// metrics (lost records among them), publishes to NATS, and stops cleanly on SIGTERM.
func TestSenseCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: the eBPF sensor needs root (CI runs as root)")
	}
	url, _, _ := startListeningJetStream(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := l.Addr().String()
	l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSenseHelper$")
	cmd.Env = append(os.Environ(), senseHelperEnv+"=--nats-url "+url+" --host cmd-test --http-addr "+httpAddr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 100)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	defer func() {
		_ = cmd.Process.Kill()
	}()
	deadline := time.After(30 * time.Second)
	for started := false; !started; {
		select {
		case l, ok := <-lines:
			if !ok {
				if strings.Contains(log.String(), "none of the ways it knows") {
					t.Skipf("skipped: the kernel refuses BPF here:\n%s", log.String())
				}
				t.Fatalf("rarenet sense stopped:\n%s", log.String())
			}
			log.WriteString(l + "\n")
			started = strings.Contains(l, "msg=sensing")
		case <-deadline:
			t.Fatalf("rarenet sense did not start in 30s:\n%s", log.String())
		}
	}
	go func() {
		for l := range lines {
			_ = l
		}
	}()

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	const want = 1<<2 | 1<<19 // CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE
	for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
		for l := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(l, set+":"); ok {
				got, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err != nil || got != want {
					t.Errorf("%s = %s, want %016x (CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE only)", set, strings.TrimSpace(v), want)
				}
			}
		}
	}
	if !strings.Contains(log.String(), "kept=cap_sys_ptrace,cap_dac_read_search") {
		t.Errorf("the kept capabilities are not logged:\n%s", log.String())
	}

	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"rarenet_sense_lost_total 0", "rarenet_sense_records_total", "rarenet_sense_published_total", "rarenet_sense_dropped_total"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if resp, err := http.Get("http://" + httpAddr + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/readyz: %v %v", resp, err)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("rarenet sense did not stop cleanly on SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("rarenet sense did not stop within 20s of SIGTERM")
	}
}

package sense

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// A probe the kernel refuses gives an error that names it, says why, and points at what to
// run instead.
func TestRefusedProbeSaysWhatInstead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: loading BPF programs needs root")
	}
	for _, p := range []string{ProbeFexit, ProbeKprobe} {
		s, err := New(Config{Probe: p}, nil)
		if err == nil {
			s.Close()
			t.Logf("this kernel allows %s", p)
			continue
		}
		if !errors.Is(err, ErrNoProbe) {
			t.Fatalf("%s: %v, want ErrNoProbe", p, err)
		}
		for _, want := range []string{p + ": ", "rarenet collect", "auditd", "BTF"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s refused: %q lacks %q", p, err, want)
			}
		}
	}
	if _, err := New(Config{Probe: "uprobe"}, nil); !errors.Is(err, ErrUnknownProbe) {
		t.Errorf("unknown probe: %v", err)
	}
}

// Auto takes the first probe the kernel allows and logs which, and why the others were
// refused.
func TestAutoLogsItsChoice(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if os.Geteuid() != 0 {
		t.Skip("skipped: loading BPF programs needs root")
	}
	s, err := New(Config{}, log)
	if errors.Is(err, ErrNoProbe) {
		t.Skipf("skipped: the kernel refuses BPF here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "msg=\"probe attached\" probe="+s.Probe()) {
		t.Errorf("the choice of %s is not logged:\n%s", s.Probe(), logs.String())
	}
	for _, p := range Probes {
		if p == s.Probe() {
			break
		}
		if !strings.Contains(logs.String(), "msg=\"probe refused by the kernel\" probe="+p) {
			t.Errorf("why %s was refused is not logged:\n%s", p, logs.String())
		}
	}
	t.Logf("probe %s; io_uring %s", s.Probe(), s.IOURing())
}

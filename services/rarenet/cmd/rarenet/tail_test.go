package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTailCommand(t *testing.T) {
	url, js, ctx := startListeningJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	state := filepath.Join(dir, "tail.json")
	if err := os.WriteFile(log, []byte("l1\nl2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--nats-url", url, "--format", "auditd", "--state", state, "--poll", "20ms", log}
	stop := runInBackground(t, ctx, func(ctx context.Context) error { return tailCmd(ctx, args) })
	want := []string{"rarenet.raw.auditd " + log + ":1 l1", "rarenet.raw.auditd + l2"}
	waitFor(t, "the first two lines", func() bool { return slices.Equal(rawLines(t, ctx, js), want) })
	waitFor(t, "the state file", func() bool { b, _ := os.ReadFile(state); return strings.Contains(string(b), `"line": 2`) })
	stop()

	// Restarted, it sends only what was appended meanwhile.
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("l3\n")
	f.Close()
	runInBackground(t, ctx, func(ctx context.Context) error { return tailCmd(ctx, args) })
	want = append(want, "rarenet.raw.auditd "+log+":3 l3")
	waitFor(t, "the appended line", func() bool { return len(rawLines(t, ctx, js)) >= 3 })
	if got := rawLines(t, ctx, js); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

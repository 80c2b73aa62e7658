package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/syncbuf"
)

// TestExec runs a program for each signal: the document on its standard input, the key and
// ids in its environment, and not the notifier's secrets. It fails the first time; the retry
// confirms.
func TestExec(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, "receive.sh", `#!/bin/sh
set -e
n=$(cat "$1/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1/count"
[ $n -gt 1 ] || { echo "first call fails on purpose" >&2; exit 75; }
cat > "$1/stdin.json"
env > "$1/env"
`, 0o755)
	t.Setenv("RARENET_NATS_PASSWORD", "must-not-leak")
	cfg := &Config{
		Destinations: []DestinationConfig{{Name: "prog", URL: "exec://" + script + "?arg=" + dir, Backoff: 10 * time.Millisecond}},
		Routes:       []RouteConfig{{Name: "all", To: []string{"prog"}}},
	}
	h := startNotifier(t, cfg)
	doc := sampleSignals(t)[1]
	sig, _ := ParseSignal(doc)
	h.publish(t, doc)
	h.waitAcked(t, 1)
	in, err := os.ReadFile(filepath.Join(dir, "stdin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatalf("stdin is not the JSON document: %v", err)
	}
	_ = json.Unmarshal(doc, &b)
	if mustJSON(t, a) != mustJSON(t, b) {
		t.Error("stdin is not the signal as published")
	}
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	for _, want := range []string{"RARENET_IDEMPOTENCY_KEY=" + sig.ID, "RARENET_SIGNAL_IDS=" + sig.ID, "RARENET_ROUTE=all", "RARENET_TEXT="} {
		if !strings.Contains(string(env), want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	if strings.Contains(string(env), "must-not-leak") {
		t.Error("the program saw the notifier's NATS password")
	}
	if c, _ := os.ReadFile(filepath.Join(dir, "count")); strings.TrimSpace(string(c)) != "2" {
		t.Errorf("the program ran %s times, want 2", c)
	}
}

// TestStdout: the stdout destination writes one JSON line per signal.
func TestStdout(t *testing.T) {
	var b syncbuf.Buffer
	s := &stdoutSender{w: &b}
	docs := sampleSignals(t)
	var sigs []*Signal
	for _, d := range docs {
		sig, _ := ParseSignal(d)
		sigs = append(sigs, sig)
	}
	if err := s.Send(t.Context(), &Message{Key: "k", Route: "r", Signals: sigs}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		var v struct {
			Route, Key string
			Signal     json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		got, _ := ParseSignal(v.Signal)
		if got == nil || got.ID != sigs[i].ID {
			t.Errorf("line %d: %s", i, l)
		}
	}
	if _, err := kindOf("stdout:"); err != nil {
		t.Error(err)
	}
}

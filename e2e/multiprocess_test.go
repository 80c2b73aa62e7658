package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/rarenet/rarenet/e2e/history"
)

// TestServiceBinariesMatchAllInOne runs the four stage binaries as separate processes against
// a standalone nats-server, drives them with `rarenet replay --driver-only`, and checks that
// they produce exactly the signals of the all-in-one binary on the same input.
func TestServiceBinariesMatchAllInOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs five processes; skipped with -short")
	}
	bin := binaries(t)
	spec := history.Default()
	file := writeHistory(t, "ecs", spec)

	// The all-in-one binary, embedded NATS.
	allInOne := filepath.Join(t.TempDir(), "all-in-one.ndjson")
	statsFile := filepath.Join(t.TempDir(), "stats.json")
	run(t, filepath.Join(bin, "rarenet"), "replay", "--out", allInOne, "--stats", statsFile, file)
	want := decodeSignals(t, mustRead(t, allInOne))
	checkInjectedSignals(t, spec, want)
	var st map[string]any
	if err := json.Unmarshal(mustRead(t, statsFile), &st); err != nil {
		t.Fatalf("--stats is not JSON: %v", err)
	}
	for _, k := range []string{"read", "accepted", "filtered", "rejected", "late", "records", "signals", "seconds"} {
		if _, ok := st[k]; !ok {
			t.Errorf("--stats has no %q", k)
		}
	}

	// The same through separate processes.
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	start(t, filepath.Join(bin, "nats-server"), "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-sd", t.TempDir())
	waitPort(t, port)
	common := []string{"--nats-url", url, "--partitions", "8"}
	start(t, filepath.Join(bin, "ingest"), common...)
	start(t, filepath.Join(bin, "scorer"), append(common, "--clock", "watermark")...)
	start(t, filepath.Join(bin, "enricher"), common...)
	start(t, filepath.Join(bin, "windower"), append(common, "--clock", "watermark")...)
	separate := filepath.Join(t.TempDir(), "separate.ndjson")
	run(t, filepath.Join(bin, "rarenet"), "replay", "--nats-url", url, "--partitions", "8", "--driver-only",
		"--timeout", "5m", "--out", separate, file)
	got := decodeSignals(t, mustRead(t, separate))

	if a, b := canonical(t, want), canonical(t, got); !slices.Equal(a, b) {
		t.Fatalf("separate processes differ from the all-in-one:\nall-in-one: %v\nseparate:   %v", a, b)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

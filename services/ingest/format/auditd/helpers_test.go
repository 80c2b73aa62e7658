package auditd

import (
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/internal/formattest"
)

// decodeLines feeds lines to a new Decoder, flushes it and returns every result.
func decodeLines(t testing.TB, source string, lines []string) []format.Result {
	t.Helper()
	d := New()
	var out []format.Result
	emit := func(r format.Result) {
		if (r.Event == nil) == (r.Err == nil) {
			t.Fatalf("result with Event=%v Err=%v: want exactly one", r.Event, r.Err)
		}
		out = append(out, r.Clone())
	}
	for i, l := range lines {
		d.Decode(format.Line{Source: source, Num: int64(i + 1), Data: []byte(l)}, emit)
	}
	d.Flush(emit)
	return out
}

// readLines reads a file of the real samples as lines.
func readLines(t testing.TB, rel string) []string {
	t.Helper()
	return strings.Split(strings.TrimRight(string(formattest.ReadReal(t, rel)), "\n"), "\n")
}

// yamlAuditLines extracts the raw audit lines held in the YAML sample's block scalars,
// without a YAML parser: every line whose text starts with "type=".
func yamlAuditLines(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, l := range readLines(t, "auditd/go-libaudit-ubuntu-16.10.yaml") {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "type=") {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Fatal("no audit lines found in the YAML sample")
	}
	return out
}

func splitRaw(b []byte) []string { return strings.Split(string(b), "\n") }

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/e2e/history"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/services/windower/alertmap"
	"github.com/rarenet/rarenet/shared/stream"
)

// writeHistory writes the default history in the given format to a temporary file.
func writeHistory(t testing.TB, format string, spec history.Spec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history."+format)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	events := history.Events(spec)
	switch format {
	case "ecs":
		err = history.WriteECS(f, events)
	case "auditd":
		err = history.WriteAuditd(f, events)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// defaultOptions is the all-in-one pipeline as `rarenet replay` configures it by default.
func defaultOptions(partitions int) rarenet.Options {
	o := rarenet.DefaultOptions()
	o.Streams = stream.Config{Partitions: partitions, Replicas: 1, Memory: true}
	return o
}

// replay runs the in-process pipeline over files and returns the signals.
func replay(t testing.TB, o rarenet.Options, format string, files ...string) ([]map[string]any, rarenet.Stats) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := rarenet.Replay(ctx, rarenet.ReplayOptions{Pipeline: o, Files: files, Format: format, Out: &out})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	return decodeSignals(t, out.Bytes()), st
}

func decodeSignals(t testing.TB, b []byte) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("signal is not JSON: %v: %s", err, line)
		}
		checkFieldMap(t, d)
		docs = append(docs, d)
	}
	return docs
}

// checkFieldMap checks a signal against Kibana's alert field map (8.x, or 7.x's signal
// mapping), as transcribed in package alertmap: every signal the suite reads goes through it.
func checkFieldMap(t testing.TB, doc map[string]any) {
	t.Helper()
	if problems := alertmap.Check(doc); len(problems) > 0 {
		t.Errorf("signal for %v departs from Kibana's field map:\n  %s", doc["by_field_value"], strings.Join(problems, "\n  "))
	}
}

// wallClock are the signal fields that hold the wall-clock time the signal was written: the
// only ones allowed to differ between two runs over the same input.
var wallClock = map[string]bool{"@timestamp": true, "kibana.alert.start": true, "kibana.alert.last_detected": true}

// canonical drops the wall-clock fields and re-encodes with sorted keys, so that two runs can
// be compared byte for byte.
func canonical(t testing.TB, docs []map[string]any) []string {
	t.Helper()
	out := make([]string, len(docs))
	for i, d := range docs {
		c := make(map[string]any, len(d))
		for k, v := range d {
			if !wallClock[k] {
				c[k] = v
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

// wantSignals are the injected processes of history.Default, with their bucket starts.
func wantSignals(spec history.Spec) map[string]string {
	want := map[string]string{}
	for _, in := range spec.Injections {
		want[in.Name] = in.At.Truncate(15 * time.Minute).Format(time.RFC3339)
	}
	return want
}

func checkInjectedSignals(t *testing.T, spec history.Spec, docs []map[string]any) {
	t.Helper()
	want := wantSignals(spec)
	got := map[string]int{}
	for _, d := range docs {
		name, _ := d["by_field_value"].(string)
		got[name]++
		if orig, ok := want[name]; !ok {
			t.Errorf("unexpected signal for %q (record_score %v, original_time %v)", name, d["record_score"], d["kibana.alert.original_time"])
		} else if d["kibana.alert.original_time"] != orig {
			t.Errorf("%s: original_time %v, want %s", name, d["kibana.alert.original_time"], orig)
		}
		if s, _ := d["record_score"].(float64); s < 50 {
			t.Errorf("%s: record_score %v below the rule's threshold of 50", name, s)
		}
		if d["kibana.alert.rule.rule_id"] != "52afbdc5-db15-485e-bc24-f5707f820c4b" || d["kibana.alert.severity"] != "low" {
			t.Errorf("%s: not the reference rule's signal: %v %v", name, d["kibana.alert.rule.rule_id"], d["kibana.alert.severity"])
		}
	}
	for name := range want {
		if got[name] != 1 {
			t.Errorf("%s: %d signals, want exactly 1", name, got[name])
		}
	}
	if got[spec.LoopbackOnly] != 0 {
		t.Errorf("%s talks only to loopback and must never signal", spec.LoopbackOnly)
	}
}

// TestReplaySignalsEachInjectedProcessOnce is the acceptance test: a history with
// injected never-seen network processes signals each exactly once, and a process seen
// connecting only to loopback never signals.
func TestReplaySignalsEachInjectedProcessOnce(t *testing.T) {
	spec := history.Default()
	file := writeHistory(t, "ecs", spec)
	docs, st := replay(t, defaultOptions(8), "auto", file)
	checkInjectedSignals(t, spec, docs)
	if int(st.Signals) != len(docs) || st.Signals != 3 {
		t.Errorf("stats say %d signals, output has %d, want 3", st.Signals, len(docs))
	}
	events := int64(len(history.Events(spec)))
	if st.Read != events || st.Accepted+st.Filtered != events || st.Rejected != 0 || st.Late != 0 {
		t.Errorf("stats %+v: want read = accepted + filtered = %d, no rejects, nothing late", st, events)
	}
	if st.Records < st.Signals {
		t.Errorf("stats: %d records < %d signals", st.Records, st.Signals)
	}
	// Examples and context answer the investigation guide from the signal alone.
	for _, d := range docs {
		ex, _ := d["rarenet.examples"].([]any)
		ctx, _ := d["rarenet.context"].(map[string]any)
		if len(ex) == 0 || ctx == nil {
			t.Errorf("%s: signal without examples or context", d["by_field_value"])
		}
	}
}

// TestReplayIsDeterministicAcrossPartitions checks that the partition count changes nothing:
// the same input gives the same signals, byte for byte apart from @timestamp.
func TestReplayIsDeterministicAcrossPartitions(t *testing.T) {
	spec := history.Default()
	spec.Days = 2
	spec.Injections = spec.Injections[:1]
	spec.Injections[0].At = spec.Start.Add(40 * time.Hour)
	file := writeHistory(t, "ecs", spec)
	one, _ := replay(t, defaultOptions(1), "ecs", file)
	sixteen, _ := replay(t, defaultOptions(16), "ecs", file)
	if len(one) == 0 {
		t.Fatal("no signal at all: the comparison would prove nothing")
	}
	a, b := canonical(t, one), canonical(t, sixteen)
	if !slices.Equal(a, b) {
		t.Fatalf("P=1 and P=16 differ:\nP=1:  %v\nP=16: %v", a, b)
	}
}

// TestReplayAuditdMatchesECS replays the same history written as raw auditd: the model sees
// the same process names at the same times, so the same records signal with the same scores.
func TestReplayAuditdMatchesECS(t *testing.T) {
	spec := history.Default()
	ecsDocs, _ := replay(t, defaultOptions(4), "ecs", writeHistory(t, "ecs", spec))
	auditDocs, st := replay(t, defaultOptions(4), "auto", writeHistory(t, "auditd", spec))
	if st.Rejected != 0 {
		t.Errorf("auditd replay rejected %d lines", st.Rejected)
	}
	checkInjectedSignals(t, spec, auditDocs)
	key := func(docs []map[string]any) []string {
		var ks []string
		for _, d := range docs {
			b, _ := json.Marshal([]any{d["by_field_value"], d["kibana.alert.original_time"], d["record_score"], d["probability"]})
			ks = append(ks, string(b))
		}
		return ks
	}
	if a, b := key(ecsDocs), key(auditDocs); !slices.Equal(a, b) {
		t.Fatalf("ECS and auditd replays differ:\nECS:    %v\nauditd: %v", a, b)
	}
}

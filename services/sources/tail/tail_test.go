package tail

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
)

// startJetStream starts an embedded server with the pipeline's streams, in memory.
func startJetStream(t *testing.T) (jetstream.JetStream, context.Context) {
	t.Helper()
	ts := natstest.Start(t)
	ts.Pipeline(t, 2)
	return ts.JS, ts.Ctx
}

// stored returns every line stored on the RAW stream, in order, as "subject source:line text".
func stored(t *testing.T, ctx context.Context, js jetstream.JetStream) []string {
	t.Helper()
	s, err := js.Stream(ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		src := m.Header.Get(control.HeaderSource)
		var line int
		if _, err := fmt.Sscan(m.Header.Get(control.HeaderLine), &line); err != nil {
			t.Fatalf("message %d: %s %q: %v", seq, control.HeaderLine, m.Header.Get(control.HeaderLine), err)
		}
		for _, l := range strings.Split(natstest.RawText(t, m.Header, m.Data), "\n") {
			out = append(out, fmt.Sprintf("%s %s:%d %s", m.Subject, filepath.Base(src), line, l))
			line++
		}
	}
	return out
}

func newTailer(t *testing.T, js jetstream.JetStream, cfg Config) *Tailer {
	t.Helper()
	if cfg.Host == "" {
		cfg.Host = "testhost"
	}
	tl, err := New(cfg, js, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tl.Close)
	return tl
}

func poll(t *testing.T, ctx context.Context, tl *Tailer) {
	t.Helper()
	if err := tl.Poll(ctx); err != nil {
		t.Fatalf("Poll: %v", err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// expect compares everything stored so far with want, lines given as "file:line text" on
// rarenet.raw.auditd.
func expect(t *testing.T, ctx context.Context, js jetstream.JetStream, want ...string) {
	t.Helper()
	for i, w := range want {
		want[i] = "rarenet.raw.auditd " + w
	}
	got := stored(t, ctx, js)
	if !slices.Equal(got, want) {
		t.Fatalf("stored lines:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestAppendWaitsForCompleteLines(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	appendTo(t, log, "a1\na2\n")
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd", StateFile: filepath.Join(dir, "state.json")})
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2")

	appendTo(t, log, "a3\na4\npart")
	poll(t, ctx, tl)
	poll(t, ctx, tl) // nothing new: nothing sent twice
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2", "audit.log:3 a3", "audit.log:4 a4")

	appendTo(t, log, "ial\n")
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2", "audit.log:3 a3", "audit.log:4 a4", "audit.log:5 partial")

	pos := tl.Positions()[log]
	if pos.Offset != int64(len("a1\na2\na3\na4\npartial\n")) || pos.Line != 5 {
		t.Errorf("acknowledged position %+v, want offset %d line 5", pos, len("a1\na2\na3\na4\npartial\n"))
	}
	st, err := LoadState(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Files[log] != pos {
		t.Errorf("state file holds %+v, want %+v", st.Files[log], pos)
	}
}

func TestRotationByRenameFinishesTheOldFile(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	appendTo(t, log, "o1\no2\n")
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd"})
	poll(t, ctx, tl)

	// The writer keeps its descriptor across the rename and writes a little more, ending
	// without newline, before it reopens the path (as auditd does on rotation).
	w, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("o3\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("o4\no5"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	appendTo(t, log, "n1\nn2\n")
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:1 o1", "audit.log:2 o2", "audit.log:3 o3", "audit.log:4 o4", "audit.log:5 o5",
		"audit.log:1 n1", "audit.log:2 n2")

	// A second rotation while the path is missing for a while.
	if err := os.Rename(log, log+".2"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log+".2", "n3\n")
	poll(t, ctx, tl)
	appendTo(t, log, "m1\n")
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:1 o1", "audit.log:2 o2", "audit.log:3 o3", "audit.log:4 o4", "audit.log:5 o5",
		"audit.log:1 n1", "audit.log:2 n2", "audit.log:3 n3", "audit.log:1 m1")
}

func TestCopyTruncateStartsAgain(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	appendTo(t, log, "a1\na2\na3\n")
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd"})
	poll(t, ctx, tl)
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "b1\n")
	poll(t, ctx, tl)
	appendTo(t, log, "b2\n")
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2", "audit.log:3 a3", "audit.log:1 b1", "audit.log:2 b2")
	if g := tl.Positions()[log].Generation; g != 1 {
		t.Errorf("generation %d after one truncation, want 1", g)
	}
}

func TestRestartResumesFromState(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	state := filepath.Join(dir, "state", "tail.json")
	cfg := Config{Paths: []string{log}, Format: "auditd", StateFile: state}
	appendTo(t, log, "a1\na2\n")
	first := newTailer(t, js, cfg)
	poll(t, ctx, first)
	first.Close()

	appendTo(t, log, "a3\nhal")
	second := newTailer(t, js, cfg)
	poll(t, ctx, second)
	appendTo(t, log, "f\n")
	poll(t, ctx, second)
	second.Close()
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2", "audit.log:3 a3", "audit.log:4 half")

	// Stopped across a rotation: the rest of the old file is found by its inode, then the
	// new file is read.
	appendTo(t, log, "a5\n")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "b1\n")
	third := newTailer(t, js, cfg)
	poll(t, ctx, third)
	third.Close()
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2", "audit.log:3 a3", "audit.log:4 half",
		"audit.log:5 a5", "audit.log:1 b1")

	// Stopped across a truncation (refilled to less than the old offset: a file refilled
	// past it looks merely appended to, see the package doc).
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "c\n")
	fourth := newTailer(t, js, cfg)
	poll(t, ctx, fourth)
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2", "audit.log:3 a3", "audit.log:4 half",
		"audit.log:5 a5", "audit.log:1 b1", "audit.log:1 c")
}

// A crash after JetStream acknowledged lines but before the state was saved sends them
// again; their message ids make JetStream drop them.
func TestResendAfterLostStateIsDeduplicated(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	state := filepath.Join(dir, "tail.json")
	cfg := Config{Paths: []string{log}, Format: "auditd", StateFile: state}
	appendTo(t, log, "a1\n")
	first := newTailer(t, js, cfg)
	poll(t, ctx, first)
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "a2\na3\n")
	poll(t, ctx, first)
	first.Close()
	if err := os.WriteFile(state, before, 0o644); err != nil { // the save that "never happened"
		t.Fatal(err)
	}
	second := newTailer(t, js, cfg)
	poll(t, ctx, second)
	expect(t, ctx, js, "audit.log:1 a1", "audit.log:2 a2", "audit.log:3 a3")
}

func TestPublishFailureIsRetriedFromTheAcknowledgedPosition(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	appendTo(t, log, "a1\n")
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd"})
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:1 a1")
	if err := js.DeleteStream(ctx, stream.Raw); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "a2\n")
	if err := tl.Poll(ctx); err == nil {
		t.Fatal("Poll succeeded without a stream to store the lines")
	}
	tl.Reset()
	if err := stream.Ensure(ctx, js, stream.Config{Partitions: 2, Replicas: 1, Memory: true}); err != nil {
		t.Fatal(err)
	}
	appendTo(t, log, "a3\n")
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:2 a2", "audit.log:3 a3")
}

func TestFromEndSkipsWhatIsThere(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	appendTo(t, log, "old1\nold2\npart")
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd", FromEnd: true})
	poll(t, ctx, tl)
	appendTo(t, log, "ial\nnew\n")
	poll(t, ctx, tl)
	expect(t, ctx, js, "audit.log:3 partial", "audit.log:4 new")
}

func TestManyLinesAreChunked(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	var b strings.Builder
	var want []string
	n := rawpub.MaxLines * 5 / 2 // two messages of MaxLines lines and one of half that
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "line%d\n", i)
		want = append(want, fmt.Sprintf("audit.log:%d line%d", i, i))
	}
	appendTo(t, log, b.String())
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd"})
	poll(t, ctx, tl)
	expect(t, ctx, js, want...)
	s, _ := js.Stream(ctx, stream.Raw)
	if info, _ := s.Info(ctx); info.State.Msgs != 3 {
		t.Errorf("%d messages for %d lines, want 3 (at most %d lines each)", info.State.Msgs, n, rawpub.MaxLines)
	}
}

func TestConfigRejectsUnknownFormat(t *testing.T) {
	c := Config{Paths: []string{"x"}, Format: "syslog"}
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted format syslog")
	}
	c = Config{}
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted no path")
	}
}

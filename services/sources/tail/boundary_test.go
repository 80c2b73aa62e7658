package tail

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/stream"
)

// auditEvent is the records of one connect event, closed by EOE unless open.
func auditEvent(serial int, open bool) string {
	stamp := fmt.Sprintf("1700000000.%03d:%d", serial%1000, serial)
	s := "type=SYSCALL msg=audit(" + stamp + "): arch=c000003e syscall=42 success=yes exit=0 pid=7 comm=\"curl\" exe=\"/usr/bin/curl\"\n" +
		"type=SOCKADDR msg=audit(" + stamp + "): saddr=0200005DC0A8010A0000000000000000\n" +
		"type=PROCTITLE msg=audit(" + stamp + "): proctitle=6375726C\n"
	if !open {
		s += "type=EOE msg=audit(" + stamp + "):\n"
	}
	return s
}

// messages returns the raw messages stored, each as its lines.
func messages(t *testing.T, js jetstream.JetStream) [][]string {
	t.Helper()
	ctx := t.Context()
	s, err := js.Stream(ctx, stream.Raw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(control.HeaderLine) == "" {
			t.Fatalf("message %d without its first line", seq)
		}
		out = append(out, strings.Split(natstest.RawText(t, m.Header, m.Data), "\n"))
	}
	return out
}

// TestChunksHoldWholeEvents checks that a log longer than a message is cut between events.
func TestChunksHoldWholeEvents(t *testing.T) {
	js, ctx := startJetStream(t)
	log := filepath.Join(t.TempDir(), "audit.log")
	var b strings.Builder
	// A single-record event first, then more than two messages' worth of 4-line events: the
	// messages fill up in the middle of events.
	b.WriteString("type=USER_ACCT msg=audit(1699999999.000:1): pid=1 uid=0 msg='op=PAM:accounting'\n")
	events := rawpub.MaxLines/4*2 + 7
	for i := range events {
		b.WriteString(auditEvent(i, false))
	}
	appendTo(t, log, b.String())
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd"})
	poll(t, ctx, tl)
	msgs := messages(t, js)
	if len(msgs) < 3 {
		t.Fatalf("%d messages, want the log cut into at least 3", len(msgs))
	}
	lines := 0
	for i, m := range msgs {
		lines += len(m)
		if i > 0 && !strings.HasPrefix(m[0], "type=SYSCALL") || !strings.HasPrefix(m[len(m)-1], "type=EOE") {
			t.Errorf("message %d runs from %q to %q: not whole events", i, m[0], m[len(m)-1])
		}
	}
	if lines != 1+4*events {
		t.Errorf("%d lines published, want %d", lines, 1+4*events)
	}
}

// TestOpenEventWaitsOnePoll checks that an event still being written at a poll goes whole at
// the next, and that one nobody finishes goes anyway after one poll.
func TestOpenEventWaitsOnePoll(t *testing.T) {
	js, ctx := startJetStream(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	state := filepath.Join(dir, "state.json")
	whole, open := auditEvent(1, false), auditEvent(2, true)
	appendTo(t, log, whole+open)
	tl := newTailer(t, js, Config{Paths: []string{log}, Format: "auditd", StateFile: state})
	poll(t, ctx, tl)
	if msgs := messages(t, js); len(msgs) != 1 || len(msgs[0]) != 4 {
		t.Fatalf("after the first poll: %q, want the first event only", msgs)
	}
	// A restart now resumes before the held event.
	if st, err := LoadState(state); err != nil || st.Files[log].Line != 4 {
		t.Fatalf("state %+v, %v: want the position after line 4", st, err)
	}
	appendTo(t, log, "type=EOE msg=audit(1700000000.002:2):\n")
	poll(t, ctx, tl)
	msgs := messages(t, js)
	if len(msgs) != 2 || len(msgs[1]) != 4 || !strings.HasPrefix(msgs[1][3], "type=EOE") {
		t.Fatalf("after the EOE came: %q, want the second event whole", msgs)
	}

	appendTo(t, log, auditEvent(3, true)) // never finished
	poll(t, ctx, tl)
	if n := len(messages(t, js)); n != 2 {
		t.Fatalf("%d messages: the open event was not held", n)
	}
	poll(t, ctx, tl)
	msgs = messages(t, js)
	if len(msgs) != 3 || len(msgs[2]) != 3 {
		t.Fatalf("after a second poll: %q, want the unfinished event sent", msgs)
	}
	poll(t, ctx, tl)
	if n := len(messages(t, js)); n != 3 {
		t.Errorf("%d messages: something was sent twice", n)
	}
}

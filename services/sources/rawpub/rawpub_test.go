package rawpub

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/control"
)

func TestChunkerCutsAtLinesAndBytes(t *testing.T) {
	c := Chunker{Next: 7}
	for i := range MaxLines {
		if full := c.Add([]byte("x")); full != (i == MaxLines-1) {
			t.Fatalf("line %d: full = %v", i+1, full)
		}
	}
	ch, ok := c.Take()
	if !ok || ch.FirstLine != 7 || ch.Lines != MaxLines || len(ch.Data) != 2*MaxLines-1 {
		t.Fatalf("chunk first %d lines %d bytes %d ok %v", ch.FirstLine, ch.Lines, len(ch.Data), ok)
	}
	if _, ok := c.Take(); ok {
		t.Error("Take of an empty chunker returned a chunk")
	}
	big := bytes.Repeat([]byte("y"), MaxBytes-10)
	c.Add(big)
	if c.Room(10) || !c.Room(9) {
		t.Errorf("Room around the byte limit: Room(9)=%v Room(10)=%v, want true and false", c.Room(9), c.Room(10))
	}
	ch, _ = c.Take()
	if ch.FirstLine != 7+MaxLines {
		t.Errorf("numbering does not continue: first line %d", ch.FirstLine)
	}
	if !c.Room(2 * MaxBytes) {
		t.Error("an empty chunk must take any line")
	}
}

func TestMessageHeaders(t *testing.T) {
	m := Message("auditd", "/var/log/audit/audit.log", 42, []byte("a\nb"))
	if m.Subject != "rarenet.raw.auditd" || m.Header.Get(control.HeaderSource) != "/var/log/audit/audit.log" ||
		m.Header.Get(control.HeaderLine) != "42" {
		t.Errorf("message %s %v", m.Subject, m.Header)
	}
	if control.IsControl(m.Header) {
		t.Error("a raw message must not look like a control message")
	}
}

func TestCheckFormat(t *testing.T) {
	for _, ok := range []string{"auto", "auditd", "ecs", "sysmon", "tetragon", "osquery", "falco"} {
		if err := CheckFormat(ok); err != nil {
			t.Errorf("CheckFormat(%q) = %v", ok, err)
		}
	}
	if err := CheckFormat("syslog"); !errors.Is(err, format.ErrUnknownFormat) {
		t.Errorf("CheckFormat(syslog) = %v, want ErrUnknownFormat", err)
	}
}

package rawpub

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/rawdata"
)

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

// TestMessageCodec: raw auditd lines go as zstd (named, or detected under auto), the rest as
// S2, and each decodes back to the lines (ingest's side of the contract).
func TestMessageCodec(t *testing.T) {
	auditdLines := bytes.Repeat([]byte(`type=SYSCALL msg=audit(1700000000.123:4242): arch=c000003e syscall=42 success=yes exit=0 a0=3 comm="curl" exe="/usr/bin/curl"`+"\n"), 200)
	ecsLines := bytes.Repeat([]byte(`{"@timestamp":"2026-02-10T08:15:30Z","event":{"category":["network"]},"process":{"name":"curl"}}`+"\n"), 200)
	for _, c := range []struct {
		format string
		data   []byte
		want   string
	}{
		{"auditd", auditdLines, control.CompressionZstd},
		{"auto", auditdLines, control.CompressionZstd},
		{"ecs", ecsLines, control.CompressionS2},
		{"auto", ecsLines, control.CompressionS2},
		{"auditd", []byte("type=SYSCALL msg=audit(1700000000.123:4242): syscall=42\n"), ""}, // too small to compress
	} {
		m := Message(c.format, "src", 1, c.data)
		if got := m.Header.Get(control.HeaderCompression); got != c.want {
			t.Errorf("%s, %d bytes of %.20q: compression %q, want %q", c.format, len(c.data), c.data, got, c.want)
		}
		var dec rawdata.Decoder
		if got, err := dec.Data(m.Header, m.Data); err != nil || !bytes.Equal(got, c.data) {
			t.Errorf("%s: decoded %d bytes, %v; want the %d bytes sent", c.format, len(got), err, len(c.data))
		}
	}
}

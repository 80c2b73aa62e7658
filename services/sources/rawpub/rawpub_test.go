package rawpub

import (
	"errors"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/shared/control"
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

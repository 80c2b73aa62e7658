package formats

import (
	"errors"
	"testing"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd"
	"github.com/rarenet/rarenet/services/ingest/format/ecs"
	"github.com/rarenet/rarenet/services/ingest/format/falco"
	"github.com/rarenet/rarenet/services/ingest/format/osquery"
	"github.com/rarenet/rarenet/services/ingest/format/sysmon"
	"github.com/rarenet/rarenet/services/ingest/format/tetragon"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		wantErr error
		check   func(format.Decoder) bool
	}{
		{format.ECS, nil, func(d format.Decoder) bool { _, ok := d.(*ecs.Decoder); return ok }},
		{format.Auditd, nil, func(d format.Decoder) bool { _, ok := d.(*auditd.Decoder); return ok }},
		{format.Sysmon, nil, func(d format.Decoder) bool { _, ok := d.(sysmon.Decoder); return ok }},
		{format.Tetragon, nil, func(d format.Decoder) bool { _, ok := d.(tetragon.Decoder); return ok }},
		{format.Osquery, nil, func(d format.Decoder) bool { _, ok := d.(osquery.Decoder); return ok }},
		{format.Falco, nil, func(d format.Decoder) bool { _, ok := d.(falco.Decoder); return ok }},
		{format.Auto, format.ErrUnknownFormat, nil},
		{"", format.ErrUnknownFormat, nil},
		{"ECS", format.ErrUnknownFormat, nil},
		{"Sysmon", format.ErrUnknownFormat, nil},
		{"zeek", format.ErrUnknownFormat, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(d) {
				t.Errorf("New(%q) = %T", tt.name, d)
			}
			if err != nil && d != nil {
				t.Errorf("New(%q) returned a decoder with an error", tt.name)
			}
		})
	}
}

// TestNewDecodersAreIndependent checks that each call gives a decoder of its own, since
// decoders hold per-source state (auditd its pending groups, the line decoders a buffer).
func TestNewDecodersAreIndependent(t *testing.T) {
	for _, n := range Names() {
		if n == format.ECS {
			continue // stateless and zero-sized: two pointers to it may compare equal
		}
		a, _ := New(n)
		b, _ := New(n)
		if a == b {
			t.Errorf("New(%q) returned the same decoder twice", n)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"ecs", `{"@timestamp":"2020-04-01T12:00:00Z"}`, format.ECS},
		{"ecs indented", " \t{\"a\":1}", format.ECS},
		{"ecs after BOM", "\ufeff{\"a\":1}", format.ECS},
		{"auditd", "type=SYSCALL msg=audit(1492037289.295:58): arch=c000003e", format.Auditd},
		{"auditd with node", "node=web-1 type=EOE msg=audit(1.000:2):", format.Auditd},
		{"json array", `[{"a":1}]`, ""},
		{"empty", "", ""},
		{"text", "hello world", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect([]byte(tt.line)); got != tt.want {
				t.Errorf("Detect(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestNamesAreAccepted(t *testing.T) {
	for _, n := range Names() {
		if _, err := New(n); err != nil {
			t.Errorf("New(%q): %v", n, err)
		}
	}
}

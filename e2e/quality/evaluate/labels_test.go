package evaluate

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/e2e/quality/sim"
)

func TestReadLabelsTakesWhatSimulateWrites(t *testing.T) {
	spec := sim.DefaultSpec(7)
	spec.Days, spec.Hosts, spec.Attacks = 2, 4, 1
	spec.Warmup = 0
	f := sim.Simulate(spec)
	var b bytes.Buffer
	if err := f.WriteLabels(&b); err != nil {
		t.Fatal(err)
	}
	ls, hostDays, err := ReadLabels(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != len(f.Labels) || hostDays != f.HostDays() {
		t.Errorf("%d labels over %.0f host-days, want %d over %.0f", len(ls), hostDays, len(f.Labels), f.HostDays())
	}
}

// TestReadLabelsRefusesOtherFiles: an events or signals file given as --labels is refused,
// naming the line, instead of evaluating against an empty ground truth.
func TestReadLabelsRefusesOtherFiles(t *testing.T) {
	for name, in := range map[string]string{
		"events":      `{"@timestamp":"2026-03-02T10:00:00Z","event":{"action":"connected-to"},"process":{"name":"curl"}}` + "\n",
		"signals":     `{"kibana.alert.uuid":"x","by_field_value":"kworkerds","kibana.alert.original_time":"2026-03-02T10:00:00Z"}` + "\n",
		"empty":       "",
		"text":        "type=SYSCALL msg=audit(1.0:1): syscall=42\n",
		"a bad label": `{"id":"fleet","class":"fleet","host_days":2}` + "\n" + `{"id":"a1","class":"burglary","process.name":"x","start":"2026-03-02T10:00:00Z"}` + "\n",
	} {
		_, _, err := ReadLabels(strings.NewReader(in))
		if !errors.Is(err, ErrNotLabels) {
			t.Errorf("%s: %v, want ErrNotLabels", name, err)
		}
	}
}

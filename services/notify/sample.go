package notify

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// sampleDoc is a signal of the bundled sample (`rarenet replay testdata/sample/...`): the
// kworkerds miner. `rarenet notify --test` sends it, and templates are checked against it.
//
//go:embed sample.json
var sampleDoc []byte

// SampleSignal returns the sample signal, marked as a test in its reason, under a new id so
// that receivers that drop repeated idempotency keys take each test.
func SampleSignal(consoleURL string) (*Signal, error) {
	var d map[string]any
	if err := json.Unmarshal(sampleDoc, &d); err != nil {
		return nil, fmt.Errorf("notify: sample signal: %w", err)
	}
	d["kibana.alert.uuid"] = uuid.NewString()
	d["kibana.alert.reason"] = "(rarenet notify --test: a sample, not a real signal) " + fmt.Sprint(d["kibana.alert.reason"])
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	s, err := ParseSignal(b)
	if err != nil {
		return nil, err
	}
	s.ConsoleLink = consoleLink(consoleURL, s.ID)
	return s, nil
}

// SendTest sends the sample signal to every destination once, without retries, and returns
// each destination's error (nil when it confirmed).
func (n *Notifier) SendTest(ctx context.Context) map[string]error {
	out := map[string]error{}
	for _, d := range n.dests {
		sig, err := SampleSignal(n.cfg.ConsoleURL)
		if err != nil {
			out[d.name] = err
			continue
		}
		m := &Message{Key: sig.ID, Signals: []*Signal{sig}, Route: "test"}
		var t *templates
		for _, tt := range d.templates {
			t = tt
			break
		}
		if t == nil {
			if t, err = parseTemplates(d.kind, &DestinationConfig{Name: d.name}, &RouteConfig{Name: "test"}); err != nil {
				out[d.name] = err
				continue
			}
		}
		if err := t.render(d.kind, m, d.name); err != nil {
			out[d.name] = err
			continue
		}
		actx, cancel := context.WithTimeout(ctx, d.timeout)
		out[d.name] = d.sender.Send(actx, m)
		cancel()
	}
	return out
}

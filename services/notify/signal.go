// Package notify is rarenet's notifier: a durable subscriber on rarenet.signals that delivers
// each signal to the destinations its routes choose (webhooks, Slack, Mattermost, syslog,
// e-mail, a program), once: a signal is acknowledged only after every destination it is
// routed to confirmed it, what a destination confirmed is remembered in a key-value bucket,
// and what a destination keeps refusing goes to a dead-letter subject of its own.
package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotSignal is returned by ParseSignal for a message that is not a signal document.
var ErrNotSignal = errors.New("notify: not a signal document")

// Signal is what the notifier reads of a signal document (8.x dotted alert or 7.x nested
// signal): the fields routes match on and messages show. Raw is the document as published.
type Signal struct {
	// ID is kibana.alert.uuid (signal.id in 7.x): the idempotency key.
	ID string
	// Time is the start of the anomalous bucket (kibana.alert.original_time).
	Time         time.Time
	Score        float64
	Reason       string
	Severity     string
	RuleID       string
	RuleName     string
	RuleRun      string
	Hosts        []string
	Processes    []string
	Users        []string
	Destinations []string
	// Detector is the detector that wrote the record: "rare" (the reference's), or the
	// enhanced profile's "rare-on-host" and "new-destination".
	Detector string
	// Profile is "enhanced" when the signal could only come from the enhanced profile (one of
	// its detectors, or a score it adjusted), else "faithful"; a rarenet.profile field wins.
	Profile string
	Late    bool
	// ConsoleLink is the signal's page in the console, when Config.ConsoleURL is set.
	ConsoleLink string
	// Doc is the decoded document, for templates ({{field .Doc "rarenet.context"}}).
	Doc map[string]any
	Raw []byte
}

// Host is the signal's host names, joined for one-line messages.
func (s *Signal) Host() string { return strings.Join(s.Hosts, ", ") }

// Process is the signal's process names, joined.
func (s *Signal) Process() string { return strings.Join(s.Processes, ", ") }

// User is the signal's user names, joined.
func (s *Signal) User() string { return strings.Join(s.Users, ", ") }

// Destination is the signal's destination addresses, joined.
func (s *Signal) Destination() string { return strings.Join(s.Destinations, ", ") }

// ParseSignal reads a signal document.
func ParseSignal(b []byte) (*Signal, error) {
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSignal, err)
	}
	s := &Signal{Doc: d, Raw: b}
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	if sig, ok := d["signal"].(map[string]any); ok { // 7.x
		s.ID, s.Reason = str(sig, "id"), str(sig, "reason")
		s.Time, _ = time.Parse(time.RFC3339Nano, str(sig, "original_time"))
		if rule, ok := sig["rule"].(map[string]any); ok {
			s.RuleID, s.RuleName, s.Severity = str(rule, "rule_id"), str(rule, "name"), str(rule, "severity")
		}
	} else {
		s.ID, s.Reason = str(d, "kibana.alert.uuid"), str(d, "kibana.alert.reason")
		s.Time, _ = time.Parse(time.RFC3339Nano, str(d, "kibana.alert.original_time"))
		s.RuleID, s.RuleName = str(d, "kibana.alert.rule.rule_id"), str(d, "kibana.alert.rule.name")
		s.Severity = str(d, "kibana.alert.severity")
	}
	if s.ID == "" {
		return nil, fmt.Errorf("%w: no kibana.alert.uuid (nor signal.id)", ErrNotSignal)
	}
	if !validKey(s.ID) {
		return nil, fmt.Errorf("%w: id %q is not usable as a key", ErrNotSignal, s.ID)
	}
	s.Score, _ = d["record_score"].(float64)
	s.RuleRun = str(d, "rarenet.rule_run")
	s.Hosts, s.Users, s.Destinations = strs(d["host.name"]), strs(d["user.name"]), strs(d["destination.ip"])
	s.Processes = strs(d["process.name"])
	if len(s.Processes) == 0 && str(d, "by_field_name") == "process.name" {
		s.Processes = []string{str(d, "by_field_value")}
	}
	s.Late = d["rarenet.late"] == true
	s.Detector, s.Profile = "rare", "faithful"
	if ex, ok := d["rarenet.explanation"].(map[string]any); ok {
		if det := str(ex, "detector"); det != "" {
			s.Detector, s.Profile = det, "enhanced"
		}
	}
	if ctx, ok := d["rarenet.context"].(map[string]any); ok {
		if adj, ok := ctx["adjustments"].([]any); ok && len(adj) > 0 {
			s.Profile = "enhanced"
		}
	}
	if p := str(d, "rarenet.profile"); p != "" {
		s.Profile = p
	}
	return s, nil
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// validKey reports whether s can be a token of a key-value key: the signal ids are uuids.
func validKey(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// field looks a key up in a document, dotted keys first (the 8.x shape), then nested objects.
func field(doc map[string]any, key string) any {
	if v, ok := doc[key]; ok {
		return v
	}
	head, rest, ok := strings.Cut(key, ".")
	if !ok {
		return nil
	}
	if m, ok := doc[head].(map[string]any); ok {
		return field(m, rest)
	}
	return nil
}

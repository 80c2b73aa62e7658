package windower

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ErrInvalidRule is wrapped by every error of ParseRule and LoadRule about the rule's content.
var ErrInvalidRule = errors.New("invalid rule")

// ruleFile is the elastic/detection-rules TOML layout, as far as a machine_learning rule uses
// it. Keys rarenet does not use (related_integrations, setup, ...) are accepted and ignored.
type ruleFile struct {
	Metadata RuleMetadata `toml:"metadata"`
	Rule     struct {
		Name                 string   `toml:"name"`
		Description          string   `toml:"description"`
		RuleID               string   `toml:"rule_id"`
		Type                 string   `toml:"type"`
		MachineLearningJobID any      `toml:"machine_learning_job_id"`
		AnomalyThreshold     *float64 `toml:"anomaly_threshold"`
		Interval             string   `toml:"interval"`
		From                 string   `toml:"from"`
		To                   string   `toml:"to"`
		MaxSignals           *int     `toml:"max_signals"`
		RiskScore            *int     `toml:"risk_score"`
		Severity             string   `toml:"severity"`
		Tags                 []string `toml:"tags"`
		Note                 string   `toml:"note"`
		FalsePositives       []string `toml:"false_positives"`
		References           []string `toml:"references"`
		Author               []string `toml:"author"`
		License              string   `toml:"license"`
		Version              *int     `toml:"version"`
		Threat               []Threat `toml:"threat"`
	} `toml:"rule"`
}

// LoadRule reads a rule file in the elastic/detection-rules TOML layout.
func LoadRule(path string) (Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Rule{}, fmt.Errorf("windower: rule file: %w", err)
	}
	return ParseRule(path, b)
}

var (
	durationRe = regexp.MustCompile(`^([0-9]+)([smhd])$`)
	severities = []string{"low", "medium", "high", "critical"}
)

// ParseRule parses a rule in the elastic/detection-rules TOML layout. name (the file) is
// named in errors, with the key and what was expected.
func ParseRule(name string, data []byte) (Rule, error) {
	var f ruleFile
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("windower: rule file %s: %s: %w: %s", name, key, ErrInvalidRule, fmt.Sprintf(format, args...))
	}
	if _, err := toml.Decode(string(data), &f); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Rule{}, fmt.Errorf("windower: rule file %s: line %d: %w: %s", name, pe.Position.Line, ErrInvalidRule, pe.Message)
		}
		return Rule{}, fmt.Errorf("windower: rule file %s: %w: %w", name, ErrInvalidRule, err)
	}
	fr := &f.Rule
	r := Rule{
		ID: fr.RuleID, Name: fr.Name, Description: fr.Description, Severity: fr.Severity, Tags: fr.Tags,
		Note: fr.Note, FalsePositives: fr.FalsePositives, References: fr.References, Author: fr.Author,
		License: fr.License, Threat: fr.Threat, Metadata: f.Metadata, Source: name,
	}
	required := []struct {
		key string
		ok  bool
	}{
		{"[rule] rule_id", fr.RuleID != ""}, {"[rule] name", fr.Name != ""},
		{"[rule] description", fr.Description != ""}, {"[rule] type", fr.Type != ""},
		{"[rule] machine_learning_job_id", fr.MachineLearningJobID != nil},
		{"[rule] anomaly_threshold", fr.AnomalyThreshold != nil}, {"[rule] risk_score", fr.RiskScore != nil},
		{"[rule] severity", fr.Severity != ""}, {"[rule] version", fr.Version != nil},
		{"[metadata] creation_date", f.Metadata.CreationDate != ""},
	}
	for _, k := range required {
		if !k.ok {
			return Rule{}, bad(k.key, "missing, and required")
		}
	}
	if fr.Type != "machine_learning" {
		return Rule{}, bad("[rule] type", "want \"machine_learning\", got %q", fr.Type)
	}
	switch v := fr.MachineLearningJobID.(type) {
	case string:
		r.JobIDs = []string{v}
	case []any:
		for _, j := range v {
			s, ok := j.(string)
			if !ok || s == "" {
				return Rule{}, bad("[rule] machine_learning_job_id", "want a job id or a list of job ids, got %v", v)
			}
			r.JobIDs = append(r.JobIDs, s)
		}
	}
	if len(r.JobIDs) == 0 || r.JobIDs[0] == "" {
		return Rule{}, bad("[rule] machine_learning_job_id", "want a job id or a non-empty list of job ids, got %v", fr.MachineLearningJobID)
	}
	if r.Threshold = *fr.AnomalyThreshold; r.Threshold < 0 || r.Threshold > 100 {
		return Rule{}, bad("[rule] anomaly_threshold", "want a number from 0 to 100, got %v", r.Threshold)
	}
	var err error
	if r.Interval, err = parseScheduleDuration(orDefault(fr.Interval, "5m")); err != nil {
		return Rule{}, bad("[rule] interval", "want a duration such as \"15m\", got %q", fr.Interval)
	}
	from := orDefault(fr.From, "now-6m")
	d, ok := strings.CutPrefix(from, "now-")
	if r.From, err = parseScheduleDuration(d); !ok || err != nil {
		return Rule{}, bad("[rule] from", "want \"now-\" and a duration such as \"now-45m\", got %q", fr.From)
	}
	if fr.To != "" && fr.To != "now" {
		return Rule{}, bad("[rule] to", "want \"now\", got %q", fr.To)
	}
	if r.From < r.Interval {
		return Rule{}, bad("[rule] from", "want a look-back at least as long as the interval %s, got %q: records would be missed", fr.Interval, fr.From)
	}
	r.MaxSignals = 100
	if fr.MaxSignals != nil {
		if r.MaxSignals = *fr.MaxSignals; r.MaxSignals < 1 {
			return Rule{}, bad("[rule] max_signals", "want at least 1, got %d", r.MaxSignals)
		}
	}
	if r.RiskScore = *fr.RiskScore; r.RiskScore < 0 || r.RiskScore > 100 {
		return Rule{}, bad("[rule] risk_score", "want an integer from 0 to 100, got %d", r.RiskScore)
	}
	if !slices.Contains(severities, r.Severity) {
		return Rule{}, bad("[rule] severity", "want one of %s, got %q", strings.Join(severities, ", "), r.Severity)
	}
	if r.Version = *fr.Version; r.Version < 1 {
		return Rule{}, bad("[rule] version", "want at least 1, got %d", r.Version)
	}
	for i, t := range r.Threat {
		key := fmt.Sprintf("[[rule.threat]] %d", i+1)
		switch {
		case t.Framework != "MITRE ATT&CK":
			return Rule{}, bad(key+" framework", "want \"MITRE ATT&CK\", got %q", t.Framework)
		case !strings.HasPrefix(t.Tactic.ID, "TA") || t.Tactic.Name == "" || t.Tactic.Reference == "":
			return Rule{}, bad(key+" tactic", "want id (TAnnnn), name and reference, got %+v", t.Tactic)
		}
		for _, tech := range t.Technique {
			if !strings.HasPrefix(tech.ID, "T") || tech.Name == "" || tech.Reference == "" {
				return Rule{}, bad(key+" technique", "want id (Tnnnn), name and reference, got %+v", tech)
			}
		}
	}
	return r, nil
}

// parseScheduleDuration reads Kibana's schedule durations: an integer and s, m, h or d.
func parseScheduleDuration(s string) (time.Duration, error) {
	m := durationRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, nil
}

// orDefault returns s, or def when s is empty (Kibana's defaults for interval and from).
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

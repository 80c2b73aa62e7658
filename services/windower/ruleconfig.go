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
// it. Other keys (setup, related_integrations, [metadata] integration, ...) are kept in the
// Rule's Extra maps, not refused: the layout grows with every release.
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

// ruleKeys are the [rule] keys ruleFile reads; the others go to Rule.Extra.
var ruleKeys = []string{"name", "description", "rule_id", "type", "machine_learning_job_id", "anomaly_threshold", "interval",
	"from", "to", "max_signals", "risk_score", "severity", "tags", "note", "false_positives", "references", "author",
	"license", "version", "threat"}

// metadataKeys are the [metadata] keys RuleMetadata reads; the others go to its Extra.
var metadataKeys = []string{"creation_date", "updated_date", "maturity", "min_stack_version"}

// LoadRule reads a rule file in the elastic/detection-rules TOML layout. lock, when not nil,
// gives the rule its version when the file has none, as detection-rules does.
func LoadRule(path string, lock *VersionLock) (Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Rule{}, fmt.Errorf("windower: rule file: %w", err)
	}
	return ParseRuleLocked(path, b, lock)
}

var (
	durationRe = regexp.MustCompile(`^([0-9]+)([smhd])$`)
	severities = []string{"low", "medium", "high", "critical"}
)

// ParseRule parses a rule in the elastic/detection-rules TOML layout. name (the file) is
// named in errors, with the key and what was expected. A rule without version is version 1.
func ParseRule(name string, data []byte) (Rule, error) { return ParseRuleLocked(name, data, nil) }

// ParseRuleLocked parses a rule as ParseRule does; a rule without version takes the one lock
// gives its rule_id (detection-rules keeps versions in version.lock.json, not in the files),
// and is refused when lock has no entry for it.
func ParseRuleLocked(name string, data []byte, lock *VersionLock) (Rule, error) {
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
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return Rule{}, fmt.Errorf("windower: rule file %s: %w: %w", name, ErrInvalidRule, err)
	}
	fr := &f.Rule
	// detection-rules reads every string but the markdown ones (note, setup) with its lines
	// joined (rule_formatter.py cleanup_whitespace): the TOML wraps them at 120 characters.
	fr.Name, fr.Description, fr.License = cleanupWhitespace(fr.Name), cleanupWhitespace(fr.Description), cleanupWhitespace(fr.License)
	for _, list := range [][]string{fr.Tags, fr.FalsePositives, fr.References, fr.Author} {
		for i := range list {
			list[i] = cleanupWhitespace(list[i])
		}
	}
	r := Rule{
		ID: fr.RuleID, Name: fr.Name, Description: fr.Description, Severity: fr.Severity, Tags: fr.Tags,
		Note: fr.Note, FalsePositives: fr.FalsePositives, References: fr.References, Author: fr.Author,
		License: fr.License, Threat: fr.Threat, Metadata: f.Metadata, Source: name,
		Extra: others(raw["rule"], ruleKeys),
	}
	r.Metadata.Extra = others(raw["metadata"], metadataKeys)
	for k, v := range raw {
		if k != "rule" && k != "metadata" {
			if r.Tables == nil {
				r.Tables = map[string]any{}
			}
			r.Tables[k] = v
		}
	}
	required := []struct {
		key string
		ok  bool
	}{
		{"[rule] rule_id", fr.RuleID != ""}, {"[rule] name", fr.Name != ""},
		{"[rule] description", fr.Description != ""}, {"[rule] type", fr.Type != ""},
		{"[rule] machine_learning_job_id", fr.MachineLearningJobID != nil},
		{"[rule] anomaly_threshold", fr.AnomalyThreshold != nil}, {"[rule] risk_score", fr.RiskScore != nil},
		{"[rule] severity", fr.Severity != ""},
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
	switch {
	case fr.Version != nil:
		if r.Version = *fr.Version; r.Version < 1 {
			return Rule{}, bad("[rule] version", "want at least 1, got %d", r.Version)
		}
	case lock != nil:
		v, ok := lock.Version(r.ID)
		if !ok {
			return Rule{}, bad("[rule] rule_id", "the version lock %s has no entry for %s (%s); give the rule a version or the lock that holds it", lock.Path, r.ID, r.Name)
		}
		r.Version = v
	default:
		r.Version = 1
	}
	if r.Created, err = ruleDate(f.Metadata.CreationDate); err != nil {
		return Rule{}, bad("[metadata] creation_date", "want a date such as \"2020/03/25\", got %q", f.Metadata.CreationDate)
	}
	r.Updated = r.Created
	if f.Metadata.UpdatedDate != "" {
		if r.Updated, err = ruleDate(f.Metadata.UpdatedDate); err != nil {
			return Rule{}, bad("[metadata] updated_date", "want a date such as \"2026/07/27\", got %q", f.Metadata.UpdatedDate)
		}
	}
	// Elastic's own rules are its prebuilt rules, which Kibana marks immutable.
	r.Immutable = slices.Equal(r.Author, []string{"Elastic"})
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

// others returns the keys of a decoded TOML table that are not in known, nil when there are
// none.
func others(table any, known []string) map[string]any {
	m, _ := table.(map[string]any)
	var out map[string]any
	for k, v := range m {
		if !slices.Contains(known, k) {
			if out == nil {
				out = map[string]any{}
			}
			out[k] = v
		}
	}
	return out
}

// cleanupWhitespace joins the lines of s, each trimmed, with single spaces, as detection-rules
// normalises a rule's strings.
func cleanupWhitespace(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

// ruleDate reads detection-rules' dates ("2020/03/25") as midnight UTC.
func ruleDate(s string) (time.Time, error) { return time.Parse("2006/01/02", s) }

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

package windower

import (
	"embed"
	"fmt"
	"slices"
	"time"

	mljob "github.com/rarenet/rarenet/shared/job"
)

// Rule is a machine_learning detection rule in the shape of Elastic's prebuilt rules (the
// elastic/detection-rules TOML layout, see LoadRule).
type Rule struct {
	ID             string
	Name           string
	Description    string
	Version        int
	JobIDs         []string
	Threshold      float64 // anomaly_threshold, compared with record_score, >=
	Interval       time.Duration
	From           time.Duration // the look-back: a run at t covers record buckets in [t-From, t)
	MaxSignals     int
	RiskScore      int
	Severity       string
	Tags           []string
	FalsePositives []string
	References     []string
	Author         []string
	License        string
	Note           string
	Threat         []Threat
	// Metadata is the file's [metadata] table.
	Metadata RuleMetadata
	// Created and Updated are the metadata's creation_date and updated_date (midnight UTC):
	// kibana.alert.rule.created_at and updated_at, which do not change from run to run.
	Created, Updated time.Time
	// Extra holds the [rule] keys rarenet does not read (setup, related_integrations, ...):
	// kept, and written into kibana.alert.rule.parameters as Kibana keeps a rule's other
	// parameters.
	Extra map[string]any
	// Tables holds the file's other top-level tables ([transform], ...), kept as they are.
	Tables map[string]any
	// Source names where the rule came from: "builtin:current", "builtin:v1" or a file.
	Source string
	// Immutable is true for Elastic's prebuilt rules, as Kibana marks them: the built-ins and
	// rule files whose author is Elastic alone.
	Immutable bool
	// ResultsIndex names the results index of the rule's jobs that do not write to
	// .ml-anomalies-shared (a job's results_index_name), as the scorer announces them: the
	// index the signals name as their ancestor's.
	ResultsIndex map[string]string
}

// RuleMetadata is the [metadata] table of a detection-rules file.
type RuleMetadata struct {
	CreationDate    string `toml:"creation_date"`
	UpdatedDate     string `toml:"updated_date"`
	Maturity        string `toml:"maturity"`
	MinStackVersion string `toml:"min_stack_version"`
	// Extra holds the other keys (integration, min_stack_comments, ...), kept as they are.
	Extra map[string]any `toml:"-"`
}

// Threat is one entry of the rule's MITRE ATT&CK mapping ([[rule.threat]]), as Kibana stores
// it in kibana.alert.rule.threat.
type Threat struct {
	Framework string      `toml:"framework" json:"framework"`
	Tactic    ThreatRef   `toml:"tactic" json:"tactic"`
	Technique []Technique `toml:"technique" json:"technique,omitempty"`
}

// ThreatRef names a tactic, technique or subtechnique.
type ThreatRef struct {
	ID        string `toml:"id" json:"id"`
	Name      string `toml:"name" json:"name"`
	Reference string `toml:"reference" json:"reference"`
}

// Technique is a technique with its subtechniques.
type Technique struct {
	ID           string      `toml:"id" json:"id"`
	Name         string      `toml:"name" json:"name"`
	Reference    string      `toml:"reference" json:"reference"`
	Subtechnique []ThreatRef `toml:"subtechnique" json:"subtechnique,omitempty"`
}

// Built-in rule names, for --rule-builtin.
const (
	BuiltinCurrent = "current"
	BuiltinV1      = "v1"
)

//go:embed rules/*.toml
var builtinRules embed.FS

// BuiltinRule returns a built-in rule: "current" (the v3 job, today's tags and MITRE mapping)
// or "v1" (version 1 of stack 7.7, on linux_anomalous_network_activity_ecs).
func BuiltinRule(name string) (Rule, error) {
	b, err := builtinRules.ReadFile("rules/" + name + ".toml")
	if err != nil {
		return Rule{}, fmt.Errorf("windower: no built-in rule %q (want %s or %s)", name, BuiltinCurrent, BuiltinV1)
	}
	r, err := ParseRule("builtin:"+name, b)
	if err != nil {
		return Rule{}, err
	}
	r.Immutable = true
	return r, nil
}

// DefaultRule is Elastic's prebuilt rule "Unusual Linux Network Activity"
// (52afbdc5-db15-485e-bc24-f5707f820c4b) as shipped today, on the v3 job: the built-in
// "current".
func DefaultRule() Rule {
	r, err := BuiltinRule(BuiltinCurrent)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return r
}

// Validate checks the rule.
func (r *Rule) Validate() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("windower: rule has no rule_id")
	case r.Interval <= 0:
		return fmt.Errorf("windower: rule %s: interval must be positive, got %s", r.ID, r.Interval)
	case r.From < r.Interval:
		return fmt.Errorf("windower: rule %s: look-back %s is shorter than the interval %s: records would be missed", r.ID, r.From, r.Interval)
	case r.MaxSignals < 1:
		return fmt.Errorf("windower: rule %s: max_signals must be at least 1", r.ID)
	case len(r.JobIDs) == 0:
		return fmt.Errorf("windower: rule %s: no machine_learning_job_id", r.ID)
	}
	return nil
}

// resultsIndex is the index Elasticsearch writes the records of job to: the ancestor index of
// their signals.
func (r *Rule) resultsIndex(job string) string {
	if ix := r.ResultsIndex[job]; ix != "" {
		return ix
	}
	return mljob.ResultsIndex("")
}

// covers reports whether the rule applies to records of job.
func (r *Rule) covers(job string) bool { return slices.Contains(r.JobIDs, job) }

package windower

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuiltinRules(t *testing.T) {
	v1, err := BuiltinRule(BuiltinV1)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := BuiltinRule(BuiltinCurrent)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Rule{v1, cur} {
		if r.ID != "52afbdc5-db15-485e-bc24-f5707f820c4b" || r.Name != "Unusual Linux Network Activity" ||
			r.Threshold != 50 || r.Interval != 15*time.Minute || r.From != 45*time.Minute || r.MaxSignals != 100 ||
			r.RiskScore != 21 || r.Severity != "low" || !r.Immutable || r.Validate() != nil {
			t.Errorf("%s: %+v", r.Source, r)
		}
		if !strings.HasPrefix(r.Description, "Identifies Linux processes that do not usually use the network") ||
			!strings.HasSuffix(r.Description, "unauthorized network applications.") || strings.Contains(r.Description, "\n") {
			t.Errorf("%s: description %q", r.Source, r.Description)
		}
	}
	if v1.Version != 1 || strings.Join(v1.JobIDs, ",") != "linux_anomalous_network_activity_ecs" ||
		strings.Join(v1.Tags, ",") != "Elastic,Linux,ML" || len(v1.Threat) != 0 || len(v1.FalsePositives) != 1 ||
		strings.Join(v1.References, ",") != "https://www.elastic.co/guide/en/siem/guide/current/prebuilt-ml-jobs.html" {
		t.Errorf("v1: %+v", v1)
	}
	// The current built-in is the current TOML's content (b36bcba204) at the lock's version.
	if cur.Version != 209 || strings.Join(cur.JobIDs, ",") != "v3_linux_anomalous_network_activity_ea" ||
		strings.Join(cur.Tags, ",") != "Domain: Endpoint,OS: Linux,Data Source: Elastic Defend,Data Source: Network Packet Capture,"+
			"Use Case: Threat Detection,Rule Type: ML,Rule Type: Machine Learning,Resources: Investigation Guide" ||
		strings.Join(cur.References, ",") != "https://www.elastic.co/guide/en/security/current/prebuilt-ml-jobs.html" ||
		cur.License != "Elastic License v2" || len(cur.FalsePositives) != 0 || cur.Metadata.CreationDate != "2020/03/25" ||
		!strings.HasPrefix(cur.Note, "## Triage and analysis\n\n### Investigating Unusual Linux Network Activity\n") ||
		!strings.HasSuffix(cur.Note, "the nature of the tasks it is performing.") || cur.Extra["setup"] == nil {
		t.Errorf("current: %+v", cur)
	}
	var mitre []string
	for _, th := range cur.Threat {
		s := th.Tactic.ID + " " + th.Tactic.Name
		for _, tech := range th.Technique {
			s += " / " + tech.ID + " " + tech.Name
		}
		mitre = append(mitre, s)
	}
	want := "TA0011 Command and Control / T1071 Application Layer Protocol; TA0008 Lateral Movement; TA0003 Persistence; " +
		"TA0005 Defense Evasion / T1055 Process Injection; TA0010 Exfiltration / T1041 Exfiltration Over C2 Channel"
	if got := strings.Join(mitre, "; "); got != want {
		t.Errorf("MITRE mapping\n got %s\nwant %s", got, want)
	}
	if _, err := BuiltinRule("v2"); err == nil {
		t.Error("BuiltinRule(v2) succeeded")
	}
}

const validRule = `
[metadata]
creation_date = "2024/01/01"

[rule]
name = "Mine"
description = "d"
rule_id = "my-rule"
type = "machine_learning"
machine_learning_job_id = ["a", "b"]
anomaly_threshold = 75
interval = "5m"
from = "now-1h"
max_signals = 7
risk_score = 47
severity = "medium"
version = 3
related_integrations = "ignored"
`

func TestParseRule(t *testing.T) {
	r, err := ParseRule("mine.toml", []byte(validRule))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "my-rule" || strings.Join(r.JobIDs, ",") != "a,b" || r.Threshold != 75 || r.Interval != 5*time.Minute ||
		r.From != time.Hour || r.MaxSignals != 7 || r.RiskScore != 47 || r.Severity != "medium" || r.Version != 3 || r.Immutable {
		t.Errorf("%+v", r)
	}
	tests := []struct {
		name, old, new string
		want           []string // parts of the error
	}{
		{"type", `type = "machine_learning"`, `type = "query"`, []string{"bad.toml", "[rule] type", `want "machine_learning"`}},
		{"job missing", `machine_learning_job_id = ["a", "b"]`, ``, []string{"[rule] machine_learning_job_id", "missing"}},
		{"job empty", `machine_learning_job_id = ["a", "b"]`, `machine_learning_job_id = []`, []string{"[rule] machine_learning_job_id", "non-empty list"}},
		{"job string", `machine_learning_job_id = ["a", "b"]`, `machine_learning_job_id = "a"`, nil},
		{"threshold", `anomaly_threshold = 75`, `anomaly_threshold = 150`, []string{"[rule] anomaly_threshold", "from 0 to 100", "150"}},
		{"threshold type", `anomaly_threshold = 75`, `anomaly_threshold = "high"`, []string{"bad.toml", "anomaly_threshold"}},
		{"interval", `interval = "5m"`, `interval = "5 minutes"`, []string{"[rule] interval", `"15m"`}},
		{"from", `from = "now-1h"`, `from = "1h"`, []string{"[rule] from", `"now-45m"`}},
		{"from shorter", `from = "now-1h"`, `from = "now-1m"`, []string{"[rule] from", "at least as long as the interval"}},
		{"max signals", `max_signals = 7`, `max_signals = 0`, []string{"[rule] max_signals", "at least 1"}},
		{"severity", `severity = "medium"`, `severity = "urgent"`, []string{"[rule] severity", "low, medium, high, critical"}},
		{"rule id", `rule_id = "my-rule"`, ``, []string{"[rule] rule_id", "missing"}},
		{"creation date", `creation_date = "2024/01/01"`, ``, []string{"[metadata] creation_date", "missing"}},
		{"syntax", `version = 3`, `version = `, []string{"bad.toml", "line"}},
		{"tactic", `version = 3`, "version = 3\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n[rule.threat.tactic]\nid = \"X\"\nname = \"n\"\nreference = \"r\"",
			[]string{"[[rule.threat]] 1 tactic", "TAnnnn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRule("bad.toml", []byte(strings.Replace(validRule, tt.old, tt.new, 1)))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("err = %v, want ErrInvalidRule", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConfigRuleFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mine.toml")
	if err := os.WriteFile(path, []byte(validRule), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args      []string
		id, jobs  string
		threshold float64
		max       int
	}{
		{nil, "52afbdc5-db15-485e-bc24-f5707f820c4b", "v3_linux_anomalous_network_activity_ea", 50, 100},
		{[]string{"--rule-builtin", "v1"}, "52afbdc5-db15-485e-bc24-f5707f820c4b", "linux_anomalous_network_activity_ecs", 50, 100},
		{[]string{"--rule", path}, "my-rule", "a,b", 75, 7},
		{[]string{"--anomaly-threshold", "60", "--rule", path, "--max-signals", "3"}, "my-rule", "a,b", 60, 3},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("", flag.ContinueOnError)
			var c Config
			c.RegisterFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Rule.ID != tt.id || strings.Join(c.Rule.JobIDs, ",") != tt.jobs || c.Rule.Threshold != tt.threshold || c.Rule.MaxSignals != tt.max {
				t.Errorf("rule %s jobs %v threshold %v max %d", c.Rule.ID, c.Rule.JobIDs, c.Rule.Threshold, c.Rule.MaxSignals)
			}
		})
	}
	var c Config
	c.RegisterFlags(flag.NewFlagSet("", flag.ContinueOnError))
	c.RulePath = filepath.Join(t.TempDir(), "missing.toml")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing rule file: %v", err)
	}
	c = Config{Clock: ClockWall, SignalFormat: "9x"}
	if err := c.Validate(); err == nil {
		t.Error("--signal-format 9x accepted")
	}
}

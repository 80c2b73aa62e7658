package windower

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ruleVersion holds the facts of one version of elastic/detection-rules
// rules/ml/ml_linux_anomalous_network_activity.toml (every commit that changed it, 2020 to
// 2026; `git log --follow` in the repository): what differs between versions in the keys,
// their values and their TOML layout. ruleFileOf writes a file in that version's shape with
// rarenet's own free text (description, note, setup); the facts carry over.
type ruleVersion struct {
	commit, date      string // the commit and its date
	updated           string // [metadata] updated_date
	ecsVersion        []string
	minStack          string
	minStackComments  bool
	integration       []string
	license, job      string
	jobList           bool // machine_learning_job_id as a list (8.3 on), else a string
	tags              []string
	tagsMultiline     bool // one tag per line, with a trailing comma
	tagsTrailingComma bool // one line ending in ", ]"
	falsePositives    bool
	siemReference     bool // the 7.x SIEM guide's URL
	setup             bool
	threat            bool
	oldNote           bool // the 2020 note's heading
}

var ruleVersions = []ruleVersion{
	{commit: "5fcece8416", date: "2020-06-29", updated: "2020/03/25", ecsVersion: []string{"1.5.0"}, license: "Elastic License", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Linux", "ML"}, falsePositives: true, siemReference: true, oldNote: true},
	{commit: "680a04da8f", date: "2020-07-13", updated: "2020/03/25", ecsVersion: []string{"1.5.0"}, license: "Elastic License", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Linux", "ML"}, falsePositives: true, oldNote: true},
	{commit: "f75b126ec4", date: "2020-07-14", updated: "2020/03/25", ecsVersion: []string{"1.5.0"}, license: "Elastic License", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Linux", "ML"}, oldNote: true},
	{commit: "79a0dfefbe", date: "2020-08-27", updated: "2020/03/25", ecsVersion: []string{"1.6.0"}, license: "Elastic License", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Linux", "ML"}, oldNote: true},
	{commit: "2065af89b1", date: "2020-10-26", updated: "2020/10/26", ecsVersion: []string{"1.6.0"}, license: "Elastic License", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}, oldNote: true},
	{commit: "580db2c13e", date: "2020-10-27", updated: "2020/10/26", ecsVersion: []string{"1.6.0"}, license: "Elastic License", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}, oldNote: true},
	{commit: "97ee8cc9ac", date: "2020-12-01", updated: "2020/10/26", license: "Elastic License", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}, oldNote: true},
	{commit: "3fc34b86f2", date: "2021-03-03", updated: "2021/03/03", license: "Elastic License v2", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}, oldNote: true},
	{commit: "6ef5c53b0c", date: "2021-05-10", updated: "2021/05/10", license: "Elastic License v2", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}},
	{commit: "f8f643041a", date: "2021-08-03", updated: "2021/05/10", license: "Elastic License v2", job: "linux_anomalous_network_activity_ecs", tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}},
	{commit: "9a739b7e4c", date: "2022-05-20", updated: "2022/05/12", minStack: "8.3.0", minStackComments: true, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}},
	{commit: "46d5e37b76", date: "2022-08-24", updated: "2022/08/24", minStack: "8.3.0", minStackComments: true, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML"}},
	{commit: "38b8311482", date: "2023-03-06", updated: "2023/03/06", minStack: "8.3.0", minStackComments: true, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Elastic", "Host", "Linux", "Threat Detection", "ML", "Machine Learning"}, tagsTrailingComma: true},
	{commit: "b4c84e8a40", date: "2023-06-22", updated: "2023/06/22", minStack: "8.3.0", minStackComments: true, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning"}, tagsTrailingComma: true},
	{commit: "9482bda414", date: "2023-08-22", updated: "2023/07/27", minStack: "8.3.0", minStackComments: true, integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning"}, tagsTrailingComma: true},
	{commit: "71d2c59b5c", date: "2024-05-23", updated: "2024/05/21", integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning"}, tagsMultiline: true},
	{commit: "2c3dbfc039", date: "2024-05-22", updated: "2023/07/27", minStack: "8.3.0", minStackComments: true, integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning"}, tagsTrailingComma: true},
	{commit: "63e91c2f12", date: "2024-05-23", updated: "2024/05/21", integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning"}, tagsMultiline: true},
	{commit: "51b9717ac0", date: "2024-06-19", updated: "2024/06/18", integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning"}, tagsMultiline: true, setup: true},
	{commit: "fe8c81d762", date: "2025-01-22", updated: "2025/01/17", integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning", "Resources: Investigation Guide"}, tagsMultiline: true, setup: true},
	{commit: "7595709a25", date: "2025-12-01", updated: "2025/11/18", integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning", "Resources: Investigation Guide"}, tagsMultiline: true, setup: true, threat: true},
	{commit: "3e1c6f38e4", date: "2026-04-02", updated: "2026/04/01", minStack: "9.4.0", minStackComments: true, integration: []string{"auditd_manager", "endpoint"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity_ea", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning", "Resources: Investigation Guide"}, tagsMultiline: true, setup: true, threat: true},
	{commit: "ee4d117f0a", date: "2026-07-27", updated: "2026/07/24", minStack: "9.4.0", minStackComments: true, integration: []string{"endpoint", "network_traffic"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity_ea", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning", "Resources: Investigation Guide"}, tagsMultiline: true, setup: true, threat: true},
	{commit: "b36bcba204", date: "2026-07-28", updated: "2026/07/27", minStack: "9.4.0", minStackComments: true, integration: []string{"endpoint", "network_traffic"}, license: "Elastic License v2", job: "v3_linux_anomalous_network_activity_ea", jobList: true, tags: []string{"Domain: Endpoint", "OS: Linux", "Data Source: Elastic Defend", "Data Source: Network Packet Capture", "Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning", "Resources: Investigation Guide"}, tagsMultiline: true, setup: true, threat: true},
}

// ruleFileOf writes the rule file of version v, as detection-rules lays it out.
func ruleFileOf(v ruleVersion) string {
	var b strings.Builder
	list := func(l []string) string { return `["` + strings.Join(l, `", "`) + `"]` }
	b.WriteString("[metadata]\ncreation_date = \"2020/03/25\"\n")
	if v.ecsVersion != nil {
		fmt.Fprintf(&b, "ecs_version = %s\n", list(v.ecsVersion))
	}
	if v.integration != nil {
		fmt.Fprintf(&b, "integration = %s\n", list(v.integration))
	}
	fmt.Fprintf(&b, "maturity = \"production\"\nupdated_date = %q\n", v.updated)
	if v.minStackComments {
		b.WriteString("min_stack_comments = \"A comment of rarenet's tests.\"\n")
	}
	if v.minStack != "" {
		fmt.Fprintf(&b, "min_stack_version = %q\n", v.minStack)
	}
	b.WriteString("\n[rule]\nanomaly_threshold = 50\nauthor = [\"Elastic\"]\n")
	b.WriteString("description = \"\"\"\nA description written for rarenet's tests, wrapped over two lines as detection-rules wraps\n" +
		"long strings at 120 characters.\n\"\"\"\n")
	if v.falsePositives {
		b.WriteString("false_positives = [\"A false positive written for rarenet's tests.\"]\n")
	}
	fmt.Fprintf(&b, "from = \"now-45m\"\ninterval = \"15m\"\nlicense = %q\n", v.license)
	if v.jobList {
		fmt.Fprintf(&b, "machine_learning_job_id = [%q]\n", v.job)
	} else {
		fmt.Fprintf(&b, "machine_learning_job_id = %q\n", v.job)
	}
	b.WriteString("name = \"Unusual Linux Network Activity\"\n")
	if v.setup {
		b.WriteString("setup = \"\"\"## Setup\n\nSetup text written for rarenet's tests.\n\"\"\"\n")
	}
	if v.oldNote {
		b.WriteString("note = \"\"\"### Investigating Unusual Network Activity ###\nA note written for rarenet's tests.\"\"\"\n")
	} else {
		b.WriteString("note = \"\"\"## Triage and analysis\n\n### Investigating\nA note written for rarenet's tests.\"\"\"\n")
	}
	ref := "https://www.elastic.co/guide/en/security/current/prebuilt-ml-jobs.html"
	if v.siemReference {
		ref = "https://www.elastic.co/guide/en/siem/guide/current/prebuilt-ml-jobs.html"
	}
	fmt.Fprintf(&b, "references = [%q]\nrisk_score = 21\nrule_id = \"52afbdc5-db15-485e-bc24-f5707f820c4b\"\nseverity = \"low\"\n", ref)
	switch {
	case v.tagsMultiline:
		b.WriteString("tags = [\n")
		for _, t := range v.tags {
			fmt.Fprintf(&b, "    %q,\n", t)
		}
		b.WriteString("]\n")
	case v.tagsTrailingComma:
		fmt.Fprintf(&b, "tags = %s, ]\n", strings.TrimSuffix(list(v.tags), "]"))
	default:
		fmt.Fprintf(&b, "tags = %s\n", list(v.tags))
	}
	b.WriteString("type = \"machine_learning\"\n")
	if v.threat {
		b.WriteString(threatTOML)
	}
	return b.String()
}

// threatTOML is the rule's MITRE ATT&CK mapping since 7595709a25 (2025-12-01).
const threatTOML = `
[[rule.threat]]
framework = "MITRE ATT&CK"

[rule.threat.tactic]
id = "TA0011"
name = "Command and Control"
reference = "https://attack.mitre.org/tactics/TA0011/"

[[rule.threat.technique]]
id = "T1071"
name = "Application Layer Protocol"
reference = "https://attack.mitre.org/techniques/T1071/"

[[rule.threat]]
framework = "MITRE ATT&CK"

[rule.threat.tactic]
id = "TA0008"
name = "Lateral Movement"
reference = "https://attack.mitre.org/tactics/TA0008/"

[[rule.threat]]
framework = "MITRE ATT&CK"

[rule.threat.tactic]
id = "TA0003"
name = "Persistence"
reference = "https://attack.mitre.org/tactics/TA0003/"

[[rule.threat]]
framework = "MITRE ATT&CK"

[rule.threat.tactic]
id = "TA0005"
name = "Defense Evasion"
reference = "https://attack.mitre.org/tactics/TA0005/"

[[rule.threat.technique]]
id = "T1055"
name = "Process Injection"
reference = "https://attack.mitre.org/techniques/T1055/"

[[rule.threat]]
framework = "MITRE ATT&CK"

[rule.threat.tactic]
id = "TA0010"
name = "Exfiltration"
reference = "https://attack.mitre.org/tactics/TA0010/"

[[rule.threat.technique]]
id = "T1041"
name = "Exfiltration Over C2 Channel"
reference = "https://attack.mitre.org/techniques/T1041/"
`

// versionLockNow is an excerpt of detection_rules/etc/version.lock.json in its current
// format (e2864704b5, 2026-08-18): this rule's entry as it stands there (sha256 values are
// rarenet's placeholders), and another rule's.
const versionLockNow = `{
  "000047bb-b27a-47ec-8b62-ef1a5d2c9e19": {
    "rule_name": "Attempt to Modify an Okta Policy Rule",
    "sha256": "0000000000000000000000000000000000000000000000000000000000000001",
    "stack_emit": {"9.5": {"sha256": "0000000000000000000000000000000000000000000000000000000000000002",
      "transforms": ["mitre_attack_v19", "related_integrations_gte"], "version": 417}},
    "type": "query",
    "version": 416
  },
  "52afbdc5-db15-485e-bc24-f5707f820c4b": {
    "min_stack_version": "9.4",
    "previous": {"8.19": {"max_allowable_version": 207, "rule_name": "Unusual Linux Network Activity",
      "sha256": "0000000000000000000000000000000000000000000000000000000000000003", "type": "machine_learning", "version": 108}},
    "rule_name": "Unusual Linux Network Activity",
    "sha256": "0000000000000000000000000000000000000000000000000000000000000004",
    "stack_emit": {"9.5": {"sha256": "0000000000000000000000000000000000000000000000000000000000000005",
      "transforms": ["mitre_attack_v19", "related_integrations_gte"], "version": 210}},
    "type": "machine_learning",
    "version": 209
  }
}`

// versionLock2020 is the lock in its first format (etc/version.lock.json at 3b305d3003,
// 2020-06-29): rule_name, sha256 and version.
const versionLock2020 = `{
  "52afbdc5-db15-485e-bc24-f5707f820c4b": {
    "rule_name": "Unusual Linux Network Activity",
    "sha256": "0000000000000000000000000000000000000000000000000000000000000006",
    "version": 1
  }
}`

// TestEveryVersionOfTheRuleFileLoads loads a file in the shape of each of the 24 versions of
// the rule, unmodified: no version in the file (the lock gives it), the job by id as a string
// or a list, other keys kept.
func TestEveryVersionOfTheRuleFileLoads(t *testing.T) {
	if len(ruleVersions) != 24 {
		t.Fatalf("%d versions, want the 24 of 2020 to 2026", len(ruleVersions))
	}
	lock, err := ParseVersionLock("version.lock.json", []byte(versionLockNow))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ruleVersions {
		t.Run(v.date+"-"+v.commit, func(t *testing.T) {
			file := ruleFileOf(v)
			r, err := ParseRuleLocked("ml_linux_anomalous_network_activity.toml", []byte(file), lock)
			if err != nil {
				t.Fatalf("%v\n%s", err, file)
			}
			if r.Version != 209 || strings.Join(r.JobIDs, ",") != v.job || !slices.Equal(r.Tags, v.tags) || r.License != v.license ||
				!r.Immutable || r.Validate() != nil || r.Threshold != 50 || r.Interval.String() != "15m0s" || r.From.String() != "45m0s" {
				t.Errorf("rule %+v", r)
			}
			if strings.Contains(r.Description, "\n") || !strings.HasSuffix(r.Description, "wraps long strings at 120 characters.") {
				t.Errorf("description %q: want its lines joined, as detection-rules reads it", r.Description)
			}
			if _, ok := r.Extra["setup"]; ok != v.setup {
				t.Errorf("setup kept: %v, want %v (extra %v)", ok, v.setup, r.Extra)
			}
			if got := r.Metadata.Extra["integration"]; (got != nil) != (v.integration != nil) {
				t.Errorf("[metadata] integration kept as %v, want %v", got, v.integration)
			}
			if got := r.Metadata.Extra["ecs_version"]; (got != nil) != (v.ecsVersion != nil) {
				t.Errorf("[metadata] ecs_version kept as %v, want %v", got, v.ecsVersion)
			}
			if (len(r.Threat) == 5) != v.threat || (len(r.FalsePositives) == 1) != v.falsePositives {
				t.Errorf("threat %d, false positives %v", len(r.Threat), r.FalsePositives)
			}
			// Without a lock, the version is 1.
			if r, err := ParseRule("x.toml", []byte(file)); err != nil || r.Version != 1 {
				t.Errorf("without a lock: version %d, %v", r.Version, err)
			}
		})
	}
}

func TestVersionLock(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"now.json": versionLockNow, "2020.json": versionLock2020} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]int{"now.json": 209, "2020.json": 1} {
		lock, err := LoadVersionLock(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := lock.Version("52afbdc5-db15-485e-bc24-f5707f820c4b"); !ok || v != want {
			t.Errorf("%s: version %d, %v; want %d", name, v, ok, want)
		}
	}
	lock, err := ParseVersionLock("version.lock.json", []byte(versionLock2020))
	if err != nil {
		t.Fatal(err)
	}
	// A file's own version wins; a rule the lock does not hold is refused, naming the lock.
	r, err := ParseRuleLocked("mine.toml", []byte(validRule), lock)
	if err != nil || r.Version != 3 {
		t.Errorf("own version: %d, %v", r.Version, err)
	}
	noVersion := strings.Replace(validRule, "version = 3\n", "", 1)
	if _, err := ParseRuleLocked("mine.toml", []byte(noVersion), lock); err == nil ||
		!strings.Contains(err.Error(), "version.lock.json has no entry for my-rule") {
		t.Errorf("rule missing from the lock: %v", err)
	}
	for _, bad := range []string{`[1, 2]`, `{"x": {"rule_name": "r"}}`, `{"x": {"version": 0}}`} {
		if _, err := ParseVersionLock("bad.json", []byte(bad)); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("lock %s: %v", bad, err)
		}
	}
	// --rule-version-lock through the configuration.
	rule := filepath.Join(dir, "ml_linux_anomalous_network_activity.toml")
	if err := os.WriteFile(rule, []byte(ruleFileOf(ruleVersions[len(ruleVersions)-1])), 0o644); err != nil {
		t.Fatal(err)
	}
	c := Config{RulePath: rule, RuleVersionLock: filepath.Join(dir, "now.json"), Clock: ClockWatermark}
	if err := c.Validate(); err != nil || c.Rule.Version != 209 {
		t.Errorf("--rule with --rule-version-lock: version %d, %v", c.Rule.Version, err)
	}
	c = Config{RuleBuiltin: BuiltinCurrent, RuleVersionLock: filepath.Join(dir, "now.json"), Clock: ClockWatermark}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--rule") {
		t.Errorf("a lock without --rule: %v", err)
	}
}

// TestUnknownKeysKept: keys of the layout that rarenet does not read are kept, and a rule's
// other parameters reach kibana.alert.rule.parameters.
func TestUnknownKeysKept(t *testing.T) {
	file := validRule + "setup = \"## Setup\"\n[rule.investigation_fields]\nfield_names = [\"host.name\"]\n" +
		"\n[[transform.osquery]]\nlabel = \"l\"\nquery = \"q\"\n"
	file = strings.Replace(file, "creation_date = \"2024/01/01\"", "creation_date = \"2024/01/01\"\nbypass_bbr_timing = true", 1)
	r, err := ParseRule("mine.toml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if r.Extra["setup"] != "## Setup" || r.Extra["related_integrations"] != "ignored" || r.Extra["investigation_fields"] == nil {
		t.Errorf("extra %v", r.Extra)
	}
	if r.Metadata.Extra["bypass_bbr_timing"] != true || r.Tables["transform"] == nil {
		t.Errorf("metadata extra %v, tables %v", r.Metadata.Extra, r.Tables)
	}
}

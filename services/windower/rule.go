package windower

import (
	"fmt"
	"time"
)

// Rule is a machine_learning detection rule in the shape of Elastic's prebuilt rules.
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
	Note           string
}

// DefaultRule is Elastic's prebuilt rule "Unusual Linux Network Activity"
// (52afbdc5-db15-485e-bc24-f5707f820c4b), on the v3 job, with the values of
// docs/reference-elastic.md. The description is the rule's public text.
func DefaultRule() Rule {
	return Rule{
		ID:      "52afbdc5-db15-485e-bc24-f5707f820c4b",
		Name:    "Unusual Linux Network Activity",
		Version: 1,
		Description: "Identifies Linux processes that do not usually use the network but have unexpected " +
			"network activity, which can indicate command-and-control, lateral movement, persistence, " +
			"or data exfiltration activity. A process with unusual network activity can denote process " +
			"exploitation or injection, where the process is used to run persistence mechanisms that " +
			"allow a malicious actor remote access or control of the host, data exfiltration, and " +
			"execution of unauthorized network applications.",
		JobIDs:         []string{"v3_linux_anomalous_network_activity"},
		Threshold:      50,
		Interval:       15 * time.Minute,
		From:           45 * time.Minute,
		MaxSignals:     100,
		RiskScore:      21,
		Severity:       "low",
		Tags:           []string{"Elastic", "Linux", "ML"},
		FalsePositives: []string{"A newly installed program or one that rarely uses the network could trigger this signal."},
	}
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

// covers reports whether the rule applies to records of job.
func (r *Rule) covers(job string) bool {
	for _, j := range r.JobIDs {
		if j == job {
			return true
		}
	}
	return false
}

package windower

import (
	"fmt"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Signal formats, for --signal-format.
const (
	Format8x = "8x"
	Format7x = "7x"
)

// Signal7x builds the signal document of r in the shape of the 7.x detection engine
// (build_signal.ts and build_rule.ts; package alertmap): the rule and the alert's state under
// a nested signal object (signal.rule.*, signal.original_time, signal.parent(s),
// signal.ancestors, signal.status, signal.depth, signal.reason), the record's fields and
// rarenet's explanation as in Signal, and the signal id in rarenet.signal_id.
func Signal7x(rule *Rule, r *record.Record, now, runTime time.Time) map[string]any {
	parent := map[string]any{"id": r.ID, "type": "event", "index": rule.resultsIndex(r.JobID), "depth": 0}
	// 7.x wrote machine_learning_job_id as a string; 7.15 made it a list.
	var jobs any = rule.JobIDs
	if len(rule.JobIDs) == 1 {
		jobs = rule.JobIDs[0]
	}
	sigRule := map[string]any{
		"id":                      rule.ID,
		"rule_id":                 rule.ID,
		"name":                    rule.Name,
		"description":             rule.Description,
		"type":                    "machine_learning",
		"anomaly_threshold":       rule.Threshold,
		"machine_learning_job_id": jobs,
		"interval":                durationString(rule.Interval),
		"from":                    "now-" + durationString(rule.From),
		"to":                      "now",
		"max_signals":             rule.MaxSignals,
		"risk_score":              rule.RiskScore,
		"severity":                rule.Severity,
		"tags":                    orEmpty(rule.Tags),
		"false_positives":         orEmpty(rule.FalsePositives),
		"references":              orEmpty(rule.References),
		"author":                  orEmpty(rule.Author),
		"threat":                  threatOrEmpty(rule.Threat),
		"version":                 rule.Version,
		"immutable":               rule.Immutable,
		"enabled":                 true,
		"created_at":              rule.Created.Format(time.RFC3339),
		"updated_at":              rule.Updated.Format(time.RFC3339),
		"created_by":              ruleUser,
		"updated_by":              ruleUser,
		"exceptions_list":         []any{},
		"risk_score_mapping":      []any{},
		"severity_mapping":        []any{},
	}
	if rule.Note != "" {
		sigRule["note"] = rule.Note
	}
	if rule.License != "" {
		sigRule["license"] = rule.License
	}
	doc := map[string]any{
		"@timestamp": now.UTC().Format(time.RFC3339Nano),
		"event":      map[string]any{"kind": "signal"},
		// 7.x kept the signal's id as the document's _id only; rarenet.signal_id carries it.
		"rarenet.signal_id": SignalID(rule.ID, r.ID),
		"signal": map[string]any{
			"rule":          sigRule,
			"original_time": r.BucketStart().Format(time.RFC3339Nano),
			"parent":        parent,
			"parents":       []map[string]any{parent},
			"ancestors":     []map[string]any{parent},
			"status":        "open",
			"depth":         1,
			"reason":        Reason(r),
		},
	}
	addRecord(doc, r, runTime)
	return doc
}

// Document builds the signal of r in the given format (Format8x or Format7x; empty is 8x);
// late marks a record signalled after every run that could cover it (rarenet.late).
func Document(format string, rule *Rule, r *record.Record, now, runTime time.Time, late bool) (map[string]any, error) {
	var doc map[string]any
	switch format {
	case "", Format8x:
		doc = Signal(rule, r, now, runTime)
	case Format7x:
		doc = Signal7x(rule, r, now, runTime)
	default:
		return nil, fmt.Errorf("windower: signal format must be %s or %s, got %q", Format8x, Format7x, format)
	}
	if late {
		doc["rarenet.late"] = true
	}
	return doc, nil
}

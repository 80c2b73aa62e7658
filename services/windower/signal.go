package windower

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rarenet/rarenet/shared/record"
)

// signalNamespace is the uuid v5 namespace of rarenet's signal ids. Never change it: ids
// must stay stable across releases for de-duplication to hold.
var signalNamespace = uuid.MustParse("3a0c4b84-9f0e-5a43-8c1c-6d2b7e5f9a10")

// SignalID is the deterministic id of the signal of record r under rule: uuid v5 of the rule
// id and the record id. Overlapping look-backs, redeliveries, restarts and a second windower
// all compute the same id for the same record.
func SignalID(ruleID, recordID string) string {
	return uuid.NewSHA1(signalNamespace, []byte(ruleID+"\x00"+recordID)).String()
}

// Signal builds the signal document of r as Elastic's detection engine writes an 8.x alert
// for a machine_learning rule: dotted kibana.alert.* fields, the anomaly record's fields
// copied, each influencer expanded into an ECS field holding an array, and rarenet's
// explanation. now is the wall-clock time of the signal (@timestamp); runTime the rule run
// that produced it.
func Signal(rule *Rule, r *record.Record, now, runTime time.Time) map[string]any {
	id := SignalID(rule.ID, r.ID)
	original := r.BucketStart().Format(time.RFC3339Nano)
	params := ruleParameters(rule)
	doc := map[string]any{
		"@timestamp":                   now.UTC().Format(time.RFC3339Nano),
		"event.kind":                   "signal",
		"kibana.space_ids":             []string{"default"},
		"kibana.version":               KibanaVersion,
		"kibana.alert.uuid":            id,
		"kibana.alert.start":           now.UTC().Format(time.RFC3339Nano),
		"kibana.alert.original_time":   original,
		"kibana.alert.status":          "active",
		"kibana.alert.workflow_status": "open",
		"kibana.alert.depth":           1,
		"kibana.alert.ancestors": []map[string]any{
			{"id": r.ID, "type": "event", "index": rule.resultsIndex(r.JobID), "depth": 0},
		},
		"kibana.alert.reason":                       Reason(r),
		"kibana.alert.severity":                     rule.Severity,
		"kibana.alert.risk_score":                   rule.RiskScore,
		"kibana.alert.rule.rule_id":                 rule.ID,
		"kibana.alert.rule.uuid":                    rule.ID,
		"kibana.alert.rule.name":                    rule.Name,
		"kibana.alert.rule.description":             rule.Description,
		"kibana.alert.rule.type":                    "machine_learning",
		"kibana.alert.rule.rule_type_id":            "siem.mlRule",
		"kibana.alert.rule.category":                "Machine Learning Rule",
		"kibana.alert.rule.consumer":                "siem",
		"kibana.alert.rule.producer":                "siem",
		"kibana.alert.rule.execution.uuid":          ExecutionID(rule.ID, runTime),
		"kibana.alert.rule.version":                 rule.Version,
		"kibana.alert.rule.immutable":               rule.Immutable,
		"kibana.alert.rule.severity":                rule.Severity,
		"kibana.alert.rule.risk_score":              rule.RiskScore,
		"kibana.alert.rule.interval":                durationString(rule.Interval),
		"kibana.alert.rule.from":                    "now-" + durationString(rule.From),
		"kibana.alert.rule.to":                      "now",
		"kibana.alert.rule.max_signals":             rule.MaxSignals,
		"kibana.alert.rule.anomaly_threshold":       rule.Threshold,
		"kibana.alert.rule.machine_learning_job_id": rule.JobIDs,
		"kibana.alert.rule.tags":                    orEmpty(rule.Tags),
		"kibana.alert.rule.false_positives":         orEmpty(rule.FalsePositives),
		"kibana.alert.rule.references":              orEmpty(rule.References),
		"kibana.alert.rule.author":                  orEmpty(rule.Author),
		"kibana.alert.rule.threat":                  threatOrEmpty(rule.Threat),
		"kibana.alert.rule.parameters":              params,
	}
	if rule.License != "" {
		doc["kibana.alert.rule.license"] = rule.License
	}
	if rule.Note != "" {
		doc["kibana.alert.rule.note"] = rule.Note
	}
	addRecord(doc, r, runTime)
	return doc
}

// KibanaVersion is the kibana.version rarenet's 8.x signals claim to be shaped after.
const KibanaVersion = "8.15.0"

// executionNamespace is the uuid v5 namespace of rule execution ids. Never change it.
var executionNamespace = uuid.MustParse("9d2f6a51-3c7e-5b08-a4d1-0f5e8b2c7a36")

// ExecutionID is kibana.alert.rule.execution.uuid: uuid v5 of the rule id and the run time, so
// every signal of one run (and of its repetition after a restart) shares it.
func ExecutionID(ruleID string, runTime time.Time) string {
	return uuid.NewSHA1(executionNamespace, []byte(ruleID+"\x00"+runTime.UTC().Format(time.RFC3339Nano))).String()
}

// ruleParameters are kibana.alert.rule.parameters: the rule's own settings as Kibana keeps them.
func ruleParameters(rule *Rule) map[string]any {
	params := map[string]any{
		"type":                    "machine_learning",
		"anomaly_threshold":       rule.Threshold,
		"machine_learning_job_id": rule.JobIDs,
		"from":                    "now-" + durationString(rule.From),
		"to":                      "now",
		"interval":                durationString(rule.Interval),
		"max_signals":             rule.MaxSignals,
		"risk_score":              rule.RiskScore,
		"severity":                rule.Severity,
		"description":             rule.Description,
		"tags":                    orEmpty(rule.Tags),
		"false_positives":         orEmpty(rule.FalsePositives),
		"references":              orEmpty(rule.References),
		"author":                  orEmpty(rule.Author),
		"threat":                  threatOrEmpty(rule.Threat),
		"rule_id":                 rule.ID,
		"immutable":               rule.Immutable,
		"exceptions_list":         []any{},
		"version":                 rule.Version,
	}
	if rule.Note != "" {
		params["note"] = rule.Note
	}
	if rule.License != "" {
		params["license"] = rule.License
	}
	return params
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func threatOrEmpty(t []Threat) []Threat {
	if t == nil {
		return []Threat{}
	}
	return t
}

// addRecord copies the anomaly record into doc as the detection engine does (the same in 8.x
// and 7.x), with rarenet's explanation and each influencer as an ECS array.
func addRecord(doc map[string]any, r *record.Record, runTime time.Time) {
	for k, v := range map[string]any{
		// The anomaly record, as the detection engine copies it.
		"job_id":               r.JobID,
		"result_type":          r.ResultType,
		"timestamp":            r.Timestamp,
		"bucket_span":          r.BucketSpan,
		"detector_index":       r.DetectorIndex,
		"is_interim":           r.IsInterim,
		"record_score":         r.RecordScore,
		"initial_record_score": r.InitialRecordScore,
		"probability":          r.Probability,
		"function":             r.Function,
		"function_description": r.FunctionDesc,
		"by_field_name":        r.ByFieldName,
		"by_field_value":       r.ByFieldValue,
		"typical":              r.Typical,
		"actual":               r.Actual,
		"influencers":          r.Influencers,
		// rarenet's explanation and context.
		"rarenet.record_id":   r.ID,
		"rarenet.rule_run":    runTime.UTC().Format(time.RFC3339Nano),
		"rarenet.explanation": r.Explanation,
	} {
		doc[k] = v
	}
	// Records of a partitioned detector (the enhanced profile's rare-on-host and
	// new-destination detectors) name their partition, as Elastic's records do.
	if r.PartitionFieldName != "" {
		doc["partition_field_name"], doc["partition_field_value"] = r.PartitionFieldName, r.PartitionFieldValue
	}
	if len(r.Examples) > 0 {
		doc["rarenet.examples"] = r.Examples
	}
	if r.Context != nil {
		doc["rarenet.context"] = r.Context
	}
	for _, inf := range r.Influencers {
		doc[inf.FieldName] = inf.FieldValues
	}
}

// Reason is the alert's one-sentence reason: the enricher's plain-words explanation when
// there is one, else a sentence from the record alone.
func Reason(r *record.Record) string {
	if r.Context != nil && r.Context.Why != nil && r.Context.Why.Text != "" {
		return fmt.Sprintf("Unusual network activity: %s (probability %.3g, record score %.1f).",
			r.Context.Why.Text, r.Probability, r.RecordScore)
	}
	if nd := r.Explanation.NewDestination; nd != nil {
		return fmt.Sprintf("Unusual network activity: %s (probability %.3g, record score %.1f).", nd.Text, r.Probability, r.RecordScore)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Unusual network activity: %s %q", r.ByFieldName, r.ByFieldValue)
	if r.Explanation.FirstOccurrence {
		b.WriteString(" connected for the first time")
	} else {
		b.WriteString(" rarely connects")
	}
	for _, inf := range r.Influencers {
		switch inf.FieldName {
		case "host.name":
			fmt.Fprintf(&b, " on %s", strings.Join(inf.FieldValues, ", "))
		case "user.name":
			fmt.Fprintf(&b, " as %s", strings.Join(inf.FieldValues, ", "))
		case "destination.ip":
			fmt.Fprintf(&b, " to %s", strings.Join(inf.FieldValues, ", "))
		}
	}
	fmt.Fprintf(&b, " in the bucket starting %s (probability %.3g, record score %.1f).",
		r.BucketStart().Format(time.RFC3339), r.Probability, r.RecordScore)
	return b.String()
}

// durationString writes a duration as Elastic's rule schedule does: "15m", "45m", "1h".
func durationString(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

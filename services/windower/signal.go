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
// for a machine_learning rule (Kibana's alert field maps, see package alertmap): dotted
// kibana.alert.* fields, the anomaly record's fields copied, each influencer and the by-field
// expanded into an ECS field holding an array, and rarenet's explanation. now is the
// wall-clock time of the signal (@timestamp, kibana.alert.start and last_detected); runTime
// the rule run that produced it, the time every other field is derived from.
func Signal(rule *Rule, r *record.Record, now, runTime time.Time) map[string]any {
	id := SignalID(rule.ID, r.ID)
	original := r.BucketStart().Format(time.RFC3339Nano)
	wall, run := now.UTC().Format(time.RFC3339Nano), runTime.UTC().Format(time.RFC3339Nano)
	params := ruleParameters(rule)
	doc := map[string]any{
		"@timestamp":                         wall,
		"event.kind":                         "signal",
		"kibana.space_ids":                   []string{"default"},
		"kibana.version":                     KibanaVersion,
		"kibana.alert.uuid":                  id,
		"kibana.alert.instance.id":           id,
		"kibana.alert.start":                 wall,
		"kibana.alert.last_detected":         wall,
		"kibana.alert.intended_timestamp":    run,
		"kibana.alert.original_time":         original,
		"kibana.alert.status":                "active",
		"kibana.alert.workflow_status":       "open",
		"kibana.alert.workflow_tags":         []string{},
		"kibana.alert.workflow_assignee_ids": []string{},
		"kibana.alert.depth":                 1,
		"kibana.alert.ancestors": []map[string]any{
			{"id": r.ID, "type": "event", "index": rule.resultsIndex(r.JobID), "depth": 0},
		},
		"kibana.alert.reason":                   Reason(r),
		"kibana.alert.severity":                 rule.Severity,
		"kibana.alert.risk_score":               rule.RiskScore,
		"kibana.alert.rule.rule_id":             rule.ID,
		"kibana.alert.rule.uuid":                rule.ID,
		"kibana.alert.rule.name":                rule.Name,
		"kibana.alert.rule.description":         rule.Description,
		"kibana.alert.rule.type":                "machine_learning",
		"kibana.alert.rule.rule_type_id":        "siem.mlRule",
		"kibana.alert.rule.category":            "Machine Learning Rule",
		"kibana.alert.rule.consumer":            "siem",
		"kibana.alert.rule.producer":            "siem",
		"kibana.alert.rule.execution.uuid":      ExecutionID(rule.ID, runTime),
		"kibana.alert.rule.execution.timestamp": run,
		"kibana.alert.rule.execution.type":      "scheduled",
		"kibana.alert.rule.revision":            0,
		"kibana.alert.rule.created_at":          rule.Created.Format(time.RFC3339),
		"kibana.alert.rule.updated_at":          rule.Updated.Format(time.RFC3339),
		"kibana.alert.rule.created_by":          ruleUser,
		"kibana.alert.rule.updated_by":          ruleUser,
		"kibana.alert.rule.enabled":             true,
		"kibana.alert.rule.version":             rule.Version,
		"kibana.alert.rule.immutable":           rule.Immutable,
		"kibana.alert.rule.severity":            rule.Severity,
		"kibana.alert.rule.risk_score":          rule.RiskScore,
		"kibana.alert.rule.interval":            durationString(rule.Interval),
		"kibana.alert.rule.from":                "now-" + durationString(rule.From),
		"kibana.alert.rule.to":                  "now",
		"kibana.alert.rule.max_signals":         rule.MaxSignals,
		"kibana.alert.rule.tags":                orEmpty(rule.Tags),
		"kibana.alert.rule.false_positives":     orEmpty(rule.FalsePositives),
		"kibana.alert.rule.references":          orEmpty(rule.References),
		"kibana.alert.rule.author":              orEmpty(rule.Author),
		"kibana.alert.rule.threat":              threatOrEmpty(rule.Threat),
		"kibana.alert.rule.exceptions_list":     []any{},
		"kibana.alert.rule.risk_score_mapping":  []any{},
		"kibana.alert.rule.severity_mapping":    []any{},
		"kibana.alert.rule.parameters":          params,
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

// KibanaVersion is the kibana.version rarenet's 8.x signals claim to be shaped after: the last
// 8.x minor, whose field maps package alertmap holds.
const KibanaVersion = "8.19.0"

// ruleUser is the rule's created_by and updated_by: Kibana writes the user who installed or
// last changed the rule.
const ruleUser = "rarenet"

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
		"risk_score_mapping":      []any{},
		"severity_mapping":        []any{},
		"version":                 rule.Version,
	}
	// The rule file's other keys (setup, related_integrations, ...) are rule parameters too.
	for k, v := range rule.Extra {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
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
	if len(r.Influencers) > 0 {
		doc["influencers"] = recordInfluencers(r.Influencers)
	}
	if len(r.Examples) > 0 {
		doc["rarenet.examples"] = r.Examples
	}
	if r.Context != nil {
		doc["rarenet.context"] = r.Context
	}
	// Kibana's transformAnomalyFieldsToEcs: each influencer, and the by-field, as its ECS field.
	for _, inf := range r.Influencers {
		doc[inf.FieldName] = inf.FieldValues
	}
	if _, ok := doc[r.ByFieldName]; !ok && r.ByFieldName != "" {
		doc[r.ByFieldName] = []string{r.ByFieldValue}
	}
}

// recordInfluencer is an influencer as Elasticsearch writes it in an anomaly record.
type recordInfluencer struct {
	FieldName   string   `json:"influencer_field_name"`
	FieldValues []string `json:"influencer_field_values"`
}

// recordInfluencers are the record's influencers as the anomaly record holds them: the
// score rarenet keeps on each is the record's (rarenet.explanation) and not a field of it.
func recordInfluencers(in []record.Influencer) []recordInfluencer {
	out := make([]recordInfluencer, len(in))
	for i, inf := range in {
		out[i] = recordInfluencer{inf.FieldName, inf.FieldValues}
	}
	return out
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

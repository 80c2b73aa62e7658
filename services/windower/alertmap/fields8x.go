package alertmap

// Field is one field of a Kibana field map: its full name, its Elasticsearch type, and
// whether the field map marks it required.
type Field struct {
	Name     string
	Type     string
	Required bool
}

// KibanaVersion is the Kibana version whose 8.x alert the 8.x tables describe: the last 8.x
// minor, whose security alert field map is alertsFieldMap8190.
const KibanaVersion = "8.19"

// frameworkFields is the framework's alertFieldMap: elastic/kibana
// src/platform/packages/shared/kbn-alerts-as-data-utils/src/field_maps/alert_field_map.ts at
// 027ff21606, names from kbn-rule-data-utils default_alerts_as_data.ts (00a211f6c0),
// legacy_alerts_as_data.ts (195f293034) and technical_field_names.ts (279ae6c7bd). Its
// entries whose field name those copies do not define (maintenance window names, updated_at
// and updated_by, scheduled actions, muted, snoozed, the CPS and data_stream fields) are left
// out: rarenet writes none of them. The 8.x copy under packages/kbn-alerts-as-data-utils
// (0e99eae74a) marks the same fields required; a real Kibana 8.19.12 security alert holds
// every field below that rarenet writes.
var frameworkFields = []Field{
	{"kibana.alert.action_group", "keyword", false},
	{"kibana.alert.case_ids", "keyword", false},
	{"kibana.alert.duration.us", "long", false},
	{"kibana.alert.end", "date", false},
	{"kibana.alert.flapping", "boolean", false},
	{"kibana.alert.flapping_history", "boolean", false},
	{"kibana.alert.maintenance_window_ids", "keyword", false},
	{"kibana.alert.consecutive_matches", "long", false},
	{"kibana.alert.pending_recovered_count", "long", false},
	{"kibana.alert.instance.id", "keyword", true},
	{"kibana.alert.last_detected", "date", false},
	{"kibana.alert.previous_action_group", "keyword", false},
	{"kibana.alert.reason", "keyword", false},
	{"kibana.alert.rule.category", "keyword", true},
	{"kibana.alert.rule.consumer", "keyword", true},
	{"kibana.alert.rule.execution.timestamp", "date", false},
	{"kibana.alert.rule.execution.type", "keyword", false},
	{"kibana.alert.intended_timestamp", "date", false},
	{"kibana.alert.rule.execution.uuid", "keyword", false},
	{"kibana.alert.rule.name", "keyword", true},
	{"kibana.alert.rule.parameters", "flattened", false},
	{"kibana.alert.rule.producer", "keyword", true},
	{"kibana.alert.rule.revision", "long", true},
	{"kibana.alert.rule.tags", "keyword", false},
	{"kibana.alert.rule.rule_type_id", "keyword", true},
	{"kibana.alert.rule.uuid", "keyword", true},
	{"kibana.alert.severity", "keyword", false},
	{"kibana.alert.severity_improving", "boolean", false},
	{"kibana.alert.start", "date", false},
	{"kibana.alert.status", "keyword", true},
	{"kibana.alert.time_range", "date_range", false},
	{"kibana.alert.url", "keyword", false},
	{"kibana.alert.uuid", "keyword", true},
	{"kibana.alert.workflow_status", "keyword", false},
	{"kibana.alert.workflow_tags", "keyword", false},
	{"kibana.alert.workflow_assignee_ids", "keyword", false},
	{"event.action", "keyword", false},
	{"event.kind", "keyword", false},
	{"event.original", "keyword", false},
	{"kibana.space_ids", "keyword", true},
	{"tags", "keyword", false},
	{"@timestamp", "date", true},
	{"kibana.version", "version", false},
	{"kibana.alert.index_pattern", "keyword", false},
}

// legacyFields is the framework's legacyAlertFieldMap: legacy_alert_field_map.ts at
// 1da3402043 (same directory), names from legacy_alerts_as_data.ts.
var legacyFields = []Field{
	{"kibana.alert.risk_score", "float", false},
	{"kibana.alert.rule.author", "keyword", false},
	{"kibana.alert.rule.created_at", "date", false},
	{"kibana.alert.rule.created_by", "keyword", false},
	{"kibana.alert.rule.description", "keyword", false},
	{"kibana.alert.rule.enabled", "keyword", false},
	{"kibana.alert.rule.from", "keyword", false},
	{"kibana.alert.rule.interval", "keyword", false},
	{"kibana.alert.rule.license", "keyword", false},
	{"kibana.alert.rule.note", "keyword", false},
	{"kibana.alert.rule.references", "keyword", false},
	{"kibana.alert.rule.rule_id", "keyword", false},
	{"kibana.alert.rule.rule_name_override", "keyword", false},
	{"kibana.alert.rule.to", "keyword", false},
	{"kibana.alert.rule.type", "keyword", false},
	{"kibana.alert.rule.updated_at", "date", false},
	{"kibana.alert.rule.updated_by", "keyword", false},
	{"kibana.alert.rule.version", "keyword", false},
	{"kibana.alert.severity", "keyword", false},
	{"kibana.alert.suppression.docs_count", "long", false},
	{"kibana.alert.suppression.end", "date", false},
	{"kibana.alert.suppression.terms.field", "keyword", false},
	{"kibana.alert.suppression.start", "date", false},
	{"kibana.alert.suppression.terms.value", "keyword", false},
	{"kibana.alert.system_status", "keyword", false},
	{"kibana.alert.workflow_reason", "keyword", false},
	{"kibana.alert.workflow_user", "keyword", false},
	{"kibana.alert.workflow_status_updated_at", "date", false},
	{"ecs.version", "keyword", false},
}

// securityAlertFields is the security solution's alertsFieldMap8190: elastic/kibana
// x-pack/solutions/security/plugins/security_solution/common/field_maps/8.0.0/alerts.ts
// (aa6f9a64c1), 8.4.0/alerts.ts (5cd38b39ab), 8.13.0/alerts.ts (x-pack/plugins/..., 1c0f6c339e),
// 8.16.0/alerts.ts (8db4b765fe), 8.18.0/alerts.ts (47daef8e01) and 8.19.0/alerts.ts
// (3ac857b6b4), names from field_names.ts (0113eec316). 8.16.0 redefines some
// original_event fields with the same types. The four fields 8.19.0 adds are named by
// constants that copy of field_names.ts does not define, and are left out.
var securityAlertFields = []Field{
	// 8.0.0
	{"kibana.alert.ancestors", "object", true},
	{"kibana.alert.ancestors.depth", "long", true},
	{"kibana.alert.ancestors.id", "keyword", true},
	{"kibana.alert.ancestors.index", "keyword", true},
	{"kibana.alert.ancestors.rule", "keyword", false},
	{"kibana.alert.ancestors.type", "keyword", true},
	{"kibana.alert.building_block_type", "keyword", false},
	{"kibana.alert.depth", "long", true},
	{"kibana.alert.group.id", "keyword", false},
	{"kibana.alert.group.index", "integer", false},
	{"kibana.alert.original_event.action", "keyword", true},
	{"kibana.alert.original_event.agent_id_status", "keyword", false},
	{"kibana.alert.original_event.category", "keyword", true},
	{"kibana.alert.original_event.code", "keyword", false},
	{"kibana.alert.original_event.created", "date", true},
	{"kibana.alert.original_event.dataset", "keyword", true},
	{"kibana.alert.original_event.duration", "keyword", false},
	{"kibana.alert.original_event.end", "date", false},
	{"kibana.alert.original_event.hash", "keyword", false},
	{"kibana.alert.original_event.id", "keyword", true},
	{"kibana.alert.original_event.ingested", "date", true},
	{"kibana.alert.original_event.kind", "keyword", true},
	{"kibana.alert.original_event.module", "keyword", true},
	{"kibana.alert.original_event.original", "keyword", true},
	{"kibana.alert.original_event.outcome", "keyword", true},
	{"kibana.alert.original_event.provider", "keyword", true},
	{"kibana.alert.original_event.reason", "keyword", false},
	{"kibana.alert.original_event.reference", "keyword", false},
	{"kibana.alert.original_event.risk_score", "float", false},
	{"kibana.alert.original_event.risk_score_norm", "float", false},
	{"kibana.alert.original_event.sequence", "long", true},
	{"kibana.alert.original_event.severity", "long", false},
	{"kibana.alert.original_event.start", "date", false},
	{"kibana.alert.original_event.timezone", "keyword", false},
	{"kibana.alert.original_event.type", "keyword", true},
	{"kibana.alert.original_event.url", "keyword", false},
	{"kibana.alert.original_time", "date", true},
	{"kibana.alert.reason", "keyword", false},
	{"kibana.alert.threshold_result.cardinality", "object", false},
	{"kibana.alert.threshold_result.cardinality.field", "keyword", false},
	{"kibana.alert.threshold_result.cardinality.value", "long", false},
	{"kibana.alert.threshold_result.count", "long", false},
	{"kibana.alert.threshold_result.from", "date", false},
	{"kibana.alert.threshold_result.terms", "object", false},
	{"kibana.alert.threshold_result.terms.field", "keyword", false},
	{"kibana.alert.threshold_result.terms.value", "keyword", false},
	// 8.4.0
	{"kibana.alert.new_terms", "keyword", false},
	// 8.13.0
	{"kibana.alert.host.criticality_level", "keyword", false},
	{"kibana.alert.user.criticality_level", "keyword", false},
	{"host.asset.criticality", "keyword", false},
	{"user.asset.criticality", "keyword", false},
	{"host.risk.calculated_level", "keyword", false},
	{"host.risk.calculated_score_norm", "float", false},
	{"user.risk.calculated_level", "keyword", false},
	{"user.risk.calculated_score_norm", "float", false},
	// 8.18.0
	{"service.asset.criticality", "keyword", false},
	{"service.risk.calculated_level", "keyword", false},
	{"service.risk.calculated_score_norm", "float", false},
}

// securityRuleFields is the security solution's rulesFieldMap: common/field_maps/8.0.0/rules.ts
// (x-pack/plugins/..., e677d9829d), the rule field map of every 8.x alerts index.
var securityRuleFields = []Field{
	{"kibana.alert.rule.building_block_type", "keyword", false},
	{"kibana.alert.rule.exceptions_list", "object", false},
	{"kibana.alert.rule.false_positives", "keyword", true},
	{"kibana.alert.rule.custom_highlighted_fields", "keyword", false},
	{"kibana.alert.rule.immutable", "keyword", false},
	{"kibana.alert.rule.max_signals", "long", true},
	{"kibana.alert.rule.threat.framework", "keyword", true},
	{"kibana.alert.rule.threat.tactic.id", "keyword", true},
	{"kibana.alert.rule.threat.tactic.name", "keyword", true},
	{"kibana.alert.rule.threat.tactic.reference", "keyword", true},
	{"kibana.alert.rule.threat.technique.id", "keyword", true},
	{"kibana.alert.rule.threat.technique.name", "keyword", true},
	{"kibana.alert.rule.threat.technique.reference", "keyword", true},
	{"kibana.alert.rule.threat.technique.subtechnique.id", "keyword", true},
	{"kibana.alert.rule.threat.technique.subtechnique.name", "keyword", true},
	{"kibana.alert.rule.threat.technique.subtechnique.reference", "keyword", true},
	{"kibana.alert.rule.timeline_id", "keyword", false},
	{"kibana.alert.rule.timeline_title", "keyword", false},
	{"kibana.alert.rule.timestamp_override", "keyword", false},
}

// writtenUnmapped are the fields the detection engine writes on every alert without a
// mapping: buildAlertFields in x-pack/solutions/security/plugins/security_solution/server/lib/
// detection_engine/rule_types/factories/utils/build_alert.ts (218b1320eb) ("These fields
// don't exist in the mappings": kibana.alert.rule.risk_score and severity), with the types
// the values have there.
var writtenUnmapped = []Field{
	{"kibana.alert.rule.actions", "object", false},
	{"kibana.alert.rule.indices", "keyword", false},
	{"kibana.alert.rule.namespace", "keyword", false},
	{"kibana.alert.rule.risk_score_mapping", "object", false},
	{"kibana.alert.rule.severity_mapping", "object", false},
	{"kibana.alert.rule.throttle", "keyword", false},
	{"kibana.alert.rule.meta", "flattened", false},
	{"kibana.alert.rule.risk_score", "float", false},
	{"kibana.alert.rule.severity", "keyword", false},
}

// ecsFields are the ECS fields the alerts index maps that a rarenet job's by-field and
// influencers can name (shared/event's Field names): elastic/ecs generated/csv/fields.csv
// (00106fb9ad). A machine_learning alert holds each influencer as its ECS field with the
// influencer's values (Kibana's transformAnomalyFieldsToEcs).
var ecsFields = []Field{
	{"agent.type", "keyword", false},
	{"destination.ip", "ip", false},
	{"destination.port", "long", false},
	{"event.action", "keyword", false},
	{"event.category", "keyword", false},
	{"event.dataset", "keyword", false},
	{"event.kind", "keyword", false},
	{"event.module", "keyword", false},
	{"event.outcome", "keyword", false},
	{"event.type", "keyword", false},
	{"host.hostname", "keyword", false},
	{"host.id", "keyword", false},
	{"host.name", "keyword", false},
	{"host.os.family", "keyword", false},
	{"network.transport", "keyword", false},
	{"network.type", "keyword", false},
	{"process.args", "keyword", false},
	{"process.executable", "keyword", false},
	{"process.name", "keyword", false},
	{"source.ip", "ip", false},
	{"user.id", "keyword", false},
	{"user.name", "keyword", false},
}

// recordFields are the anomaly record's fields, which Kibana copies into a machine_learning
// alert: elastic/elasticsearch x-pack/plugin/core/src/main/resources/org/elasticsearch/xpack/
// core/ml/anomalydetection/results_index_mappings.json (08a5d8bf12), the fields of a record.
var recordFields = []Field{
	{"job_id", "keyword", false},
	{"result_type", "keyword", false},
	{"timestamp", "date", false},
	{"bucket_span", "long", false},
	{"detector_index", "integer", false},
	{"is_interim", "boolean", false},
	{"record_score", "double", false},
	{"initial_record_score", "double", false},
	{"probability", "double", false},
	{"multi_bucket_impact", "double", false},
	{"function", "keyword", false},
	{"function_description", "keyword", false},
	{"field_name", "keyword", false},
	{"by_field_name", "keyword", false},
	{"by_field_value", "keyword", false},
	{"over_field_name", "keyword", false},
	{"over_field_value", "keyword", false},
	{"partition_field_name", "keyword", false},
	{"partition_field_value", "keyword", false},
	{"typical", "double", false},
	{"actual", "double", false},
	{"influencers", "nested", false},
	{"influencers.influencer_field_name", "keyword", false},
	{"influencers.influencer_field_values", "keyword", false},
}

// conditional8x are objects whose required fields apply only where the object is present:
// an alert has original_event fields only when its source document has an event (an anomaly
// record has none), and threat entries have techniques and subtechniques only when the rule
// maps them.
var conditional8x = []string{
	"kibana.alert.original_event",
	"kibana.alert.rule.threat",
	"kibana.alert.rule.threat.technique",
	"kibana.alert.rule.threat.technique.subtechnique",
}

// Fields8x is every field of the 8.x alert: the tables above, in that order (a name in two
// of them has the type of the first).
func Fields8x() []Field {
	var all []Field
	for _, t := range [][]Field{frameworkFields, legacyFields, securityAlertFields, securityRuleFields, writtenUnmapped, ecsFields, recordFields} {
		all = append(all, t...)
	}
	return all
}

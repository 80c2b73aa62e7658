// Package alertmap holds Kibana's alert field maps, transcribed as facts (field names, types,
// and whether Kibana marks them required), and checks a signal document against them: every
// required field present, every field of a type its mapping accepts, and nothing Kibana would
// not write outside kibana.alert.rule.parameters (a flattened field) unless under rarenet.*.
//
// The 8.x alert is checked against the union of what the alerts-as-data index of the
// security solution maps and what the detection engine writes:
//
//   - the framework's alertFieldMap (kbn-alerts-as-data-utils/src/field_maps/alert_field_map.ts)
//     and legacyAlertFieldMap (legacy_alert_field_map.ts), with the field names of
//     kbn-rule-data-utils (default_alerts_as_data.ts, legacy_alerts_as_data.ts,
//     technical_field_names.ts);
//   - the security solution's alertsFieldMap8190 (common/field_maps/8.19.0/alerts.ts and the
//     versions it spreads: 8.18.0, 8.16.0, 8.13.0, 8.4.0, 8.0.0) and rulesFieldMap
//     (8.0.0/rules.ts), with the names of common/field_maps/field_names.ts;
//   - the fields the detection engine writes without a mapping
//     (rule_types/factories/utils/build_alert.ts: kibana.alert.rule.risk_score, severity,
//     actions, indices, meta.*, ...);
//   - the ECS fields a rare job's influencers and by-field become (the alerts index maps ECS);
//   - the anomaly record's fields, which Kibana copies into a machine_learning alert
//     (Elasticsearch's anomaly results mapping, results_index_mappings.json).
//
// The 7.x signal is checked against the signal.* mapping of the 7.x signals index
// (detection_engine/routes/index/signals_mapping.json) and the rule fields build_rule.ts
// copied into signal.rule.
//
// fields8x.go and fields7x.go name each source file and the commit it was read at; the
// repository's docs/differences.md lists them too.
package alertmap

package alertmap

import (
	"encoding/json"
	"strings"
	"testing"
)

// alert8x is an 8.x machine_learning alert in the shape of the documents Kibana 8.19 writes
// (the fields of a real 8.19.12 security alert, with rarenet's values).
func alert8x() map[string]any {
	return map[string]any{
		"@timestamp":                                 "2026-03-23T15:09:47.402Z",
		"event.kind":                                 "signal",
		"kibana.version":                             "8.19.12",
		"kibana.space_ids":                           []any{"default"},
		"kibana.alert.uuid":                          "e583ae0b",
		"kibana.alert.instance.id":                   "e583ae0b",
		"kibana.alert.start":                         "2026-03-23T15:09:47.447Z",
		"kibana.alert.last_detected":                 "2026-03-23T15:09:47.447Z",
		"kibana.alert.intended_timestamp":            "2026-03-23T15:09:47.402Z",
		"kibana.alert.original_time":                 "2026-03-23T15:00:00Z",
		"kibana.alert.status":                        "active",
		"kibana.alert.workflow_status":               "open",
		"kibana.alert.workflow_tags":                 []any{},
		"kibana.alert.workflow_assignee_ids":         []any{},
		"kibana.alert.depth":                         1.0,
		"kibana.alert.reason":                        "a reason",
		"kibana.alert.severity":                      "low",
		"kibana.alert.risk_score":                    21.0,
		"kibana.alert.ancestors":                     []any{map[string]any{"id": "rec", "type": "event", "index": ".ml-anomalies-shared", "depth": 0.0}},
		"kibana.alert.rule.category":                 "Machine Learning Rule",
		"kibana.alert.rule.consumer":                 "siem",
		"kibana.alert.rule.producer":                 "siem",
		"kibana.alert.rule.rule_type_id":             "siem.mlRule",
		"kibana.alert.rule.uuid":                     "8f430f4d",
		"kibana.alert.rule.name":                     "a rule",
		"kibana.alert.rule.revision":                 0.0,
		"kibana.alert.rule.execution.uuid":           "94dde0f7",
		"kibana.alert.rule.execution.timestamp":      "2026-03-23T15:09:47.447Z",
		"kibana.alert.rule.execution.type":           "scheduled",
		"kibana.alert.rule.enabled":                  true,
		"kibana.alert.rule.version":                  1.0,
		"kibana.alert.rule.max_signals":              100.0,
		"kibana.alert.rule.false_positives":          []any{},
		"kibana.alert.rule.immutable":                false,
		"kibana.alert.rule.exceptions_list":          []any{},
		"kibana.alert.rule.risk_score":               21.0,
		"kibana.alert.rule.severity":                 "low",
		"kibana.alert.rule.meta.kibana_siem_app_url": "http://localhost:5601/app/security",
		"kibana.alert.rule.threat": []any{
			map[string]any{"framework": "MITRE ATT&CK", "tactic": map[string]any{"id": "TA0008", "name": "n", "reference": "r"}},
			map[string]any{"framework": "MITRE ATT&CK", "tactic": map[string]any{"id": "TA0011", "name": "n", "reference": "r"},
				"technique": []any{map[string]any{"id": "T1071", "name": "n", "reference": "r"}}},
		},
		"kibana.alert.rule.parameters": map[string]any{"anomaly_threshold": 50.0, "machine_learning_job_id": []any{"j"}, "anything": map[string]any{"at": "all"}},
		"job_id":                       "j",
		"record_score":                 63.5,
		"timestamp":                    1704085200000.0,
		"influencers":                  []any{map[string]any{"influencer_field_name": "host.name", "influencer_field_values": []any{"h1"}}},
		"host.name":                    []any{"h1"},
		"destination.ip":               []any{"203.0.113.7"},
		"rarenet.explanation":          map[string]any{"whatever": true},
	}
}

func TestCheck8x(t *testing.T) {
	if p := New8x().Check(alert8x()); len(p) > 0 {
		t.Fatalf("a Kibana-shaped alert departs: %v", p)
	}
	tests := []struct {
		name string
		edit func(d map[string]any)
		want string // a problem containing this; "" for none
	}{
		{"no revision", func(d map[string]any) { delete(d, "kibana.alert.rule.revision") }, "kibana.alert.rule.revision: required, missing"},
		{"no instance id", func(d map[string]any) { delete(d, "kibana.alert.instance.id") }, "kibana.alert.instance.id: required, missing"},
		{"null space ids", func(d map[string]any) { d["kibana.space_ids"] = nil }, "kibana.space_ids: required, missing"},
		{"revision type", func(d map[string]any) { d["kibana.alert.rule.revision"] = "first" }, "kibana.alert.rule.revision: want a long"},
		{"rule outside parameters", func(d map[string]any) { d["kibana.alert.rule.anomaly_threshold"] = 50.0 }, "kibana.alert.rule.anomaly_threshold: not a field"},
		{"unknown", func(d map[string]any) { d["score_reason"] = "x" }, "score_reason: not a field"},
		{"rarenet's own", func(d map[string]any) { d["rarenet.context"] = map[string]any{"a": []any{1.0}} }, ""},
		{"ancestor without index", func(d map[string]any) {
			d["kibana.alert.ancestors"] = []any{map[string]any{"id": "rec", "type": "event", "depth": 0.0}}
		}, "kibana.alert.ancestors.index: required, missing"},
		{"technique without id", func(d map[string]any) {
			d["kibana.alert.rule.threat"] = []any{map[string]any{"framework": "MITRE ATT&CK", "tactic": map[string]any{"id": "TA0011", "name": "n", "reference": "r"},
				"technique": []any{map[string]any{"name": "n", "reference": "r"}}}}
		}, "kibana.alert.rule.threat.technique.id: required, missing"},
		{"an original event, half", func(d map[string]any) { d["kibana.alert.original_event.kind"] = "event" }, "kibana.alert.original_event.action: required, missing"},
		{"not an ip", func(d map[string]any) { d["destination.ip"] = []any{"203.0.113"} }, "destination.ip: want a ip"},
		{"not a date", func(d map[string]any) { d["kibana.alert.original_time"] = "yesterday" }, "kibana.alert.original_time: want a date"},
		{"not a version", func(d map[string]any) { d["kibana.version"] = "8" }, "kibana.version: want a version"},
		{"object for a keyword", func(d map[string]any) { d["host.name"] = map[string]any{"a": 1.0} }, "host.name: want a keyword value, got an object"},
		{"score in an influencer", func(d map[string]any) {
			d["influencers"] = []any{map[string]any{"influencer_field_name": "host.name", "influencer_field_values": []any{"h1"}, "influencer_score": 3.0}}
		}, "influencers.influencer_score: not a field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := alert8x()
			tt.edit(d)
			p := New8x().Check(d)
			if tt.want == "" {
				if len(p) > 0 {
					t.Fatalf("problems %v", p)
				}
				return
			}
			if !strings.Contains(strings.Join(p, "\n"), tt.want) {
				t.Fatalf("problems %v, want one with %q", p, tt.want)
			}
		})
	}
}

// TestCheckNestedAsDotted: Elasticsearch reads dotted keys and nested objects alike.
func TestCheckNestedAsDotted(t *testing.T) {
	d := alert8x()
	delete(d, "host.name")
	delete(d, "kibana.alert.rule.revision")
	d["host"] = map[string]any{"name": []any{"h1"}}
	d["kibana"] = map[string]any{"alert": map[string]any{"rule": map[string]any{"revision": 3.0}}}
	if p := New8x().Check(d); len(p) > 0 {
		t.Fatalf("problems %v", p)
	}
}

func signal7x() map[string]any {
	parent := map[string]any{"id": "rec", "type": "event", "index": ".ml-anomalies-shared", "depth": 0.0}
	return map[string]any{
		"@timestamp": "2021-03-23T15:09:47.402Z",
		"event":      map[string]any{"kind": "signal"},
		"signal": map[string]any{
			"parent": parent, "parents": []any{parent}, "ancestors": []any{parent},
			"status": "open", "depth": 1.0, "reason": "a reason", "original_time": "2021-03-23T15:00:00Z",
			"rule": map[string]any{
				"id": "r", "rule_id": "r", "name": "n", "type": "machine_learning", "severity": "low", "risk_score": 21.0,
				"version": 1.0, "created_at": "2020-03-25T00:00:00Z", "updated_at": "2020-03-25T00:00:00Z",
				"anomaly_threshold": 50.0, "machine_learning_job_id": "j", "max_signals": 100.0, "enabled": true, "immutable": true,
				"exceptions_list": []any{}, "threat": []any{map[string]any{"framework": "MITRE ATT&CK", "tactic": map[string]any{"id": "TA0011", "name": "n", "reference": "r"}}},
			},
		},
		"record_score": 63.5,
		"host.name":    []any{"h1"},
	}
}

func TestCheck7x(t *testing.T) {
	if p := Check(signal7x()); len(p) > 0 {
		t.Fatalf("a 7.x-shaped signal departs: %v", p)
	}
	d := signal7x()
	d["signal"].(map[string]any)["id"] = "x"
	delete(d["signal"].(map[string]any)["rule"].(map[string]any), "created_at")
	got := strings.Join(Check(d), "\n")
	for _, want := range []string{"signal.id: not a field", "signal.rule.created_at: required, missing"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
}

// TestTables: every type is one Check knows, and no field is listed twice with two types.
func TestTables(t *testing.T) {
	for _, fields := range [][]Field{Fields8x(), Fields7x()} {
		seen := map[string]string{}
		for _, f := range fields {
			if prev, ok := seen[f.Name]; ok && prev != f.Type {
				t.Errorf("%s: %s and %s", f.Name, prev, f.Type)
			}
			seen[f.Name] = f.Type
			if !isObjectType(f.Type) && f.Type != "flattened" && f.Type != "unmapped" {
				if err := accepts(f.Type, nil); err != nil && strings.Contains(err.Error(), "unknown type") {
					t.Errorf("%s: %v", f.Name, err)
				}
			}
		}
	}
	if p := CheckJSON([]byte(`[1]`)); len(p) != 1 {
		t.Errorf("CheckJSON of an array: %v", p)
	}
	b, _ := json.Marshal(alert8x())
	if p := CheckJSON(b); len(p) > 0 {
		t.Errorf("CheckJSON: %v", p)
	}
}

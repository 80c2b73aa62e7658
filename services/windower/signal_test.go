package windower

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rarenet/rarenet/shared/record"
)

func TestSignalID(t *testing.T) {
	const (
		ruleID   = "52afbdc5-db15-485e-bc24-f5707f820c4b"
		recordID = "v3_linux_anomalous_network_activity_record_1704067200000_900_0_abc"
		// uuid v5 of ruleID NUL recordID in namespace 3a0c4b84-9f0e-5a43-8c1c-6d2b7e5f9a10,
		// computed once with Python's uuid.uuid5.
		want = "9371858b-b772-56d5-98df-59df31c748c6"
	)
	got := SignalID(ruleID, recordID)
	if got != want {
		t.Fatalf("SignalID = %s, want %s", got, want)
	}
	u, err := uuid.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if u.Version() != 5 || got[14] != '5' {
		t.Errorf("version %d (nibble %c), want 5", u.Version(), got[14])
	}
	if u.Variant() != uuid.RFC4122 {
		t.Errorf("variant %v, want RFC 4122", u.Variant())
	}
	others := []struct{ rule, rec string }{
		{"another-rule", recordID},
		{ruleID, recordID + "x"},
	}
	for _, o := range others {
		if SignalID(o.rule, o.rec) == want {
			t.Errorf("SignalID(%q, %q) collides with the pinned id", o.rule, o.rec)
		}
	}
}

func sampleRecord() record.Record {
	ts := time.Date(2024, 1, 1, 5, 0, 0, 0, time.UTC)
	return record.Record{
		ID:                 record.ID(job, ts, 15*time.Minute, 0, "nc"),
		JobID:              job,
		ResultType:         "record",
		Timestamp:          ts.UnixMilli(),
		BucketSpan:         900,
		Probability:        0.0011,
		RecordScore:        63.5,
		InitialRecordScore: 63.5,
		Function:           "rare",
		FunctionDesc:       "rare",
		ByFieldName:        "process.name",
		ByFieldValue:       "nc",
		Typical:            []float64{0.0011},
		Actual:             []float64{1},
		Influencers: []record.Influencer{
			{FieldName: "host.name", FieldValues: []string{"h1", "h2"}},
			{FieldName: "process.name", FieldValues: []string{"nc"}},
			{FieldName: "user.name", FieldValues: []string{"bob"}},
			{FieldName: "destination.ip", FieldValues: []string{"203.0.113.7"}},
		},
		Explanation: record.Explanation{FirstOccurrence: true, EventCount: 2},
		Examples:    []record.Example{{HostName: "h1", DestinationIP: "203.0.113.7", DestinationPort: 4444}},
		Context:     &record.Context{Destinations: []record.Destination{{IP: "203.0.113.7", Port: 4444, IPClass: "documentation", Service: "metasploit"}}},
	}
}

func TestSignal(t *testing.T) {
	rule := DefaultRule()
	r := sampleRecord()
	now := time.Date(2024, 1, 1, 6, 0, 1, 0, time.FixedZone("CET", 3600))
	runTime := time.Date(2024, 1, 1, 5, 45, 0, 0, time.UTC)
	doc := Signal(&rule, &r, now, runTime)

	// Round-trip through JSON, as subscribers see it.
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"@timestamp":                    "2024-01-01T05:00:01Z",
		"event.kind":                    "signal",
		"kibana.alert.uuid":             SignalID(rule.ID, r.ID),
		"kibana.alert.original_time":    "2024-01-01T05:00:00Z",
		"kibana.alert.workflow_status":  "open",
		"kibana.alert.severity":         "low",
		"kibana.alert.risk_score":       21.0,
		"kibana.alert.rule.rule_id":     "52afbdc5-db15-485e-bc24-f5707f820c4b",
		"kibana.alert.rule.name":        "Unusual Linux Network Activity",
		"kibana.alert.rule.type":        "machine_learning",
		"kibana.alert.rule.interval":    "15m",
		"kibana.alert.rule.from":        "now-45m",
		"kibana.alert.rule.max_signals": 100.0,
		"kibana.alert.rule.tags": []any{"Domain: Endpoint", "OS: Linux", "Data Source: Elastic Defend", "Data Source: Network Packet Capture",
			"Use Case: Threat Detection", "Rule Type: ML", "Rule Type: Machine Learning", "Resources: Investigation Guide"},
		"kibana.space_ids":                      []any{"default"},
		"kibana.version":                        KibanaVersion,
		"kibana.alert.depth":                    1.0,
		"kibana.alert.rule.execution.uuid":      ExecutionID(rule.ID, runTime),
		"kibana.alert.rule.immutable":           true,
		"kibana.alert.instance.id":              SignalID(rule.ID, r.ID),
		"kibana.alert.rule.revision":            0.0,
		"kibana.alert.rule.version":             209.0,
		"kibana.alert.rule.created_at":          "2020-03-25T00:00:00Z",
		"kibana.alert.rule.updated_at":          "2026-07-27T00:00:00Z",
		"kibana.alert.rule.enabled":             true,
		"kibana.alert.rule.execution.type":      "scheduled",
		"kibana.alert.rule.execution.timestamp": "2024-01-01T05:45:00Z",
		"kibana.alert.intended_timestamp":       "2024-01-01T05:45:00Z",
		"kibana.alert.last_detected":            "2024-01-01T05:00:01Z",
		"kibana.alert.workflow_tags":            []any{},
		"kibana.alert.workflow_assignee_ids":    []any{},
		"job_id":                                job,
		"result_type":                           "record",
		"timestamp":                             float64(r.Timestamp),
		"bucket_span":                           900.0,
		"record_score":                          63.5,
		"initial_record_score":                  63.5,
		"probability":                           0.0011,
		"function":                              "rare",
		"by_field_name":                         "process.name",
		"by_field_value":                        "nc",
		"typical":                               []any{0.0011},
		"actual":                                []any{1.0},
		"host.name":                             []any{"h1", "h2"},
		"process.name":                          []any{"nc"},
		"user.name":                             []any{"bob"},
		"destination.ip":                        []any{"203.0.113.7"},
		"rarenet.record_id":                     r.ID,
		"rarenet.rule_run":                      "2024-01-01T05:45:00Z",
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	// Kibana keeps a machine_learning rule's own settings in the parameters only.
	for _, k := range []string{"kibana.alert.rule.anomaly_threshold", "kibana.alert.rule.machine_learning_job_id"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s written outside kibana.alert.rule.parameters", k)
		}
	}
	params, _ := got["kibana.alert.rule.parameters"].(map[string]any)
	if s, _ := params["setup"].(string); !strings.HasPrefix(s, "## Setup") || params["version"] != 209.0 ||
		!reflect.DeepEqual(params["machine_learning_job_id"], []any{job}) {
		t.Errorf("parameters: setup %q, version %v, job %v", s, params["version"], params["machine_learning_job_id"])
	}
	for k, v := range map[string]any{"anomaly_threshold": 50.0, "from": "now-45m", "interval": "15m", "max_signals": 100.0,
		"risk_score": 21.0, "severity": "low", "type": "machine_learning"} {
		if !reflect.DeepEqual(params[k], v) {
			t.Errorf("parameters.%s = %#v, want %#v", k, params[k], v)
		}
	}
	if params["note"] != rule.Note || rule.Note == "" {
		t.Errorf("parameters.note %q, want the rule's note", params["note"])
	}
	threat, _ := got["kibana.alert.rule.threat"].([]any)
	if len(threat) != 5 {
		t.Fatalf("kibana.alert.rule.threat %#v, want the 5 tactics", got["kibana.alert.rule.threat"])
	}
	first := threat[0].(map[string]any)
	tactic := first["tactic"].(map[string]any)
	tech := first["technique"].([]any)[0].(map[string]any)
	if first["framework"] != "MITRE ATT&CK" || tactic["id"] != "TA0011" || tactic["name"] != "Command and Control" ||
		tech["id"] != "T1071" || tech["reference"] != "https://attack.mitre.org/techniques/T1071/" {
		t.Errorf("first threat %#v", first)
	}
	if !reflect.DeepEqual(params["threat"], got["kibana.alert.rule.threat"]) {
		t.Errorf("parameters.threat %#v differs from kibana.alert.rule.threat", params["threat"])
	}
	anc, _ := got["kibana.alert.ancestors"].([]any)
	if len(anc) != 1 || anc[0].(map[string]any)["id"] != r.ID || anc[0].(map[string]any)["index"] != ".ml-anomalies-shared" {
		t.Errorf("ancestors %#v", got["kibana.alert.ancestors"])
	}
	infl, _ := got["influencers"].([]any)
	if len(infl) != 4 || infl[0].(map[string]any)["influencer_field_name"] != "host.name" || len(infl[0].(map[string]any)) != 2 {
		t.Errorf("influencers %#v", got["influencers"])
	}
	for _, k := range []string{"rarenet.explanation", "rarenet.examples", "rarenet.context"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	reason, _ := got["kibana.alert.reason"].(string)
	for _, part := range []string{`process.name "nc"`, "for the first time", "on h1, h2", "as bob", "to 203.0.113.7", "2024-01-01T05:00:00Z", "record score 63.5"} {
		if !strings.Contains(reason, part) {
			t.Errorf("reason %q lacks %q", reason, part)
		}
	}
}

func TestSignalOptionalParts(t *testing.T) {
	rule, err := BuiltinRule(BuiltinV1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Signal(&rule, ptr(sampleRecord()), time.Unix(0, 0), time.Unix(0, 0))["kibana.alert.rule.parameters"].(map[string]any)["note"]; ok {
		t.Error("parameters.note set for a rule without a note")
	}
	rule.Note = "## Triage"
	r := sampleRecord()
	r.Examples, r.Context, r.Influencers = nil, nil, nil
	r.Explanation.FirstOccurrence = false
	doc := Signal(&rule, &r, time.Unix(0, 0), time.Unix(0, 0))
	for _, k := range []string{"rarenet.examples", "rarenet.context", "host.name"} {
		if _, ok := doc[k]; ok {
			t.Errorf("%s present without data", k)
		}
	}
	if p := doc["kibana.alert.rule.parameters"].(map[string]any); p["note"] != "## Triage" {
		t.Errorf("note %v", p["note"])
	}
	if reason := doc["kibana.alert.reason"].(string); !strings.Contains(reason, "rarely connects") {
		t.Errorf("reason %q", reason)
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15m"},
		{45 * time.Minute, "45m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "90m"},
		{30 * time.Second, "30s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := durationString(tt.d); got != tt.want {
				t.Errorf("durationString(%v) = %q", tt.d, got)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestSignalOfANewDestinationRecord: a record of the enhanced profile's partitioned
// new-destination detector names its partition and says its finding first.
func TestSignalOfANewDestinationRecord(t *testing.T) {
	rule := DefaultRule()
	r := sampleRecord()
	r.Context = nil
	r.DetectorIndex, r.PartitionFieldName, r.PartitionFieldValue = 2, "host.name", "h1"
	r.Explanation = record.Explanation{Detector: record.DetectorNewDestination, NewDestination: &record.NewDestination{
		Text: "nc on h1 connected to 203.0.113.7:4444, a service (4444/external) it never used there", IP: "203.0.113.7", Port: 4444,
		Service: "4444/external", Network: "203.0.113.0/24", New: "service"}}
	doc := Signal(&rule, &r, time.Unix(0, 0), time.Unix(0, 0))
	validateSignal(t, mustJSON(t, doc))
	if doc["partition_field_name"] != "host.name" || doc["partition_field_value"] != "h1" || doc["detector_index"] != 2 {
		t.Errorf("partition %v=%v, detector %v", doc["partition_field_name"], doc["partition_field_value"], doc["detector_index"])
	}
	if reason := doc["kibana.alert.reason"].(string); !strings.HasPrefix(reason, "Unusual network activity: nc on h1 connected to 203.0.113.7:4444") {
		t.Errorf("reason %q", reason)
	}
	if _, ok := Signal(&rule, ptr(sampleRecord()), time.Unix(0, 0), time.Unix(0, 0))["partition_field_name"]; ok {
		t.Error("a record of the reference's detector got partition fields")
	}
}

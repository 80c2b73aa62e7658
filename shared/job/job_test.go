package job

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBuiltins(t *testing.T) {
	four := "host.name,process.name,user.name,destination.ip"
	tests := []struct {
		name, id, influencers string
	}{
		{BuiltinV1, JobV1, four},
		{BuiltinV3, JobV3, four},
		// The _ea job of Kibana 9.4 adds the entity analytics fields (security_linux/ml/
		// v3_linux_anomalous_network_activity_ea.json, job_revision 4).
		{JobV3EA, JobV3EA, "host.name,host.id,process.name,user.name,user.id,destination.ip,event.module"},
		{JobV1, JobV1, four},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, d, err := Builtin(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if j.ID != tt.id || d.JobID != tt.id || j.BucketSpan != 15*time.Minute || j.Function != "rare" ||
				j.ByField != "process.name" || j.ModelMemoryLimit != "64mb" || j.ResultsIndex() != ".ml-anomalies-shared" ||
				strings.Join(j.Influencers, ",") != tt.influencers {
				t.Fatalf("job %+v, datafeed job %s", j, d.JobID)
			}
		})
	}
	if _, _, err := Builtin("v2"); !errors.Is(err, ErrNoSuchJob) || !strings.Contains(err.Error(), JobV3EA) {
		t.Errorf("Builtin(v2) = %v, want ErrNoSuchJob listing the built-ins", err)
	}
}

func TestParseDatafeed(t *testing.T) {
	d, err := ParseDatafeed([]byte(`{"job_id": "j", "query": {"term": {"a": "1"}}}`), "feed.json")
	if err != nil || d.JobID != "j" || string(d.Query) != `{"term": {"a": "1"}}` || d.Source != "feed.json" {
		t.Fatalf("ParseDatafeed = %+v, %v; want the query as written, named feed.json", d, err)
	}
	if _, err := ParseDatafeed([]byte(`{"query": `), "feed.json"); err == nil || !strings.HasPrefix(err.Error(), "feed.json: expected a datafeed") {
		t.Fatalf("err = %v, want it to name feed.json and say a datafeed was expected", err)
	}
}

func TestParseJobRejectsOtherDetectors(t *testing.T) {
	tests := map[string]string{
		"count":      `{"job_id":"j","analysis_config":{"bucket_span":"15m","detectors":[{"function":"count"}]}}`,
		"over field": `{"job_id":"j","analysis_config":{"bucket_span":"15m","detectors":[{"function":"rare","by_field_name":"a","over_field_name":"b"}]}}`,
		"two":        `{"job_id":"j","analysis_config":{"bucket_span":"15m","detectors":[{"function":"rare","by_field_name":"a"},{"function":"rare","by_field_name":"b"}]}}`,
		"bad span":   `{"job_id":"j","analysis_config":{"bucket_span":"15 minutes","detectors":[{"function":"rare","by_field_name":"a"}]}}`,
	}
	for name, js := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseJob([]byte(js), "job.json"); err == nil || !strings.Contains(err.Error(), "job.json") {
				t.Fatalf("err = %v, want an error naming job.json", err)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"15m": 15 * time.Minute, "900s": 15 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour, "500ms": 500 * time.Millisecond} {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "15", "m", "-5m", "15 m"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", s)
		}
	}
}

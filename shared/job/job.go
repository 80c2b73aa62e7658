// Package job reads anomaly detection jobs and their datafeeds in Elastic's JSON layout (the
// subset a rare job uses), and holds the reference's jobs as built-ins: the job tells the
// scorer what to model, the datafeed tells ingest which events it sees.
package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrUnsupportedJob is returned for a job rarenet cannot run: another function than rare, an
// over or partition field, several detectors.
var ErrUnsupportedJob = errors.New("job: unsupported anomaly detection job")

// Job is an anomaly detection job's analysis configuration.
type Job struct {
	ID               string
	Description      string
	BucketSpan       time.Duration
	Function         string
	ByField          string
	Influencers      []string
	ModelMemoryLimit string
	// ResultsIndexName is the job's results_index_name: Elasticsearch writes its results to
	// .ml-anomalies-custom-<name>, and to .ml-anomalies-shared when it is empty.
	ResultsIndexName string
}

// ResultsIndex is the index Elasticsearch writes the job's anomaly records to, which Kibana
// names as the ancestor of an alert.
func (j *Job) ResultsIndex() string { return ResultsIndex(j.ResultsIndexName) }

// ResultsIndex is the results index of a job whose results_index_name is name.
func ResultsIndex(name string) string {
	if name == "" || name == "shared" {
		return ".ml-anomalies-shared"
	}
	return ".ml-anomalies-custom-" + name
}

// Datafeed is a job's datafeed as written. Its query, in the Elasticsearch query DSL, is
// ingest's to evaluate (services/ingest/datafeed); the scorer never reads it.
type Datafeed struct {
	JobID string
	// Query is the datafeed's query, unparsed; empty when the datafeed has none (every
	// document matches).
	Query json.RawMessage
	// Source names the file it was read from, for messages.
	Source string
}

type jobJSON struct {
	JobID            string `json:"job_id"`
	Description      string `json:"description"`
	ResultsIndexName string `json:"results_index_name"`
	AnalysisConfig   struct {
		BucketSpan string `json:"bucket_span"`
		Detectors  []struct {
			Function           string `json:"function"`
			ByFieldName        string `json:"by_field_name"`
			OverFieldName      string `json:"over_field_name"`
			PartitionFieldName string `json:"partition_field_name"`
			FieldName          string `json:"field_name"`
		} `json:"detectors"`
		Influencers []string `json:"influencers"`
	} `json:"analysis_config"`
	AnalysisLimits struct {
		ModelMemoryLimit string `json:"model_memory_limit"`
	} `json:"analysis_limits"`
	DataDescription struct {
		TimeField string `json:"time_field"`
	} `json:"data_description"`
}

// ParseJob reads a job in Elastic's layout: as the anomaly detection API returns it (with
// job_id) or as a Kibana ML module ships it (without: the module's manifest names it). ID is
// then empty; LoadJob and Module.Job fill it in. name is used in messages (a file name).
func ParseJob(b []byte, name string) (Job, error) {
	var j jobJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Job{}, fmt.Errorf("%s: expected an anomaly detection job (JSON object): %w", name, err)
	}
	span, err := ParseDuration(j.AnalysisConfig.BucketSpan)
	if err != nil {
		return Job{}, fmt.Errorf("%s: analysis_config.bucket_span: %w", name, err)
	}
	if n := len(j.AnalysisConfig.Detectors); n != 1 {
		return Job{}, fmt.Errorf("%w: %s: analysis_config.detectors: expected one detector, got %d", ErrUnsupportedJob, name, n)
	}
	d := j.AnalysisConfig.Detectors[0]
	switch {
	case d.Function != "rare":
		return Job{}, fmt.Errorf("%w: %s: analysis_config.detectors[0].function: expected rare, got %q", ErrUnsupportedJob, name, d.Function)
	case d.ByFieldName == "":
		return Job{}, fmt.Errorf("%w: %s: analysis_config.detectors[0].by_field_name: expected a field", ErrUnsupportedJob, name)
	case d.OverFieldName != "" || d.PartitionFieldName != "" || d.FieldName != "":
		return Job{}, fmt.Errorf("%w: %s: analysis_config.detectors[0]: over_field_name, partition_field_name and field_name are not supported", ErrUnsupportedJob, name)
	}
	if tf := j.DataDescription.TimeField; tf != "" && tf != "@timestamp" {
		return Job{}, fmt.Errorf("%w: %s: data_description.time_field: expected @timestamp, got %q", ErrUnsupportedJob, name, tf)
	}
	return Job{
		ID: j.JobID, Description: j.Description, BucketSpan: span, Function: d.Function, ByField: d.ByFieldName,
		Influencers: j.AnalysisConfig.Influencers, ModelMemoryLimit: j.AnalysisLimits.ModelMemoryLimit,
		ResultsIndexName: j.ResultsIndexName,
	}, nil
}

// ParseDatafeed reads a datafeed in Elastic's layout. Its query is kept as written.
func ParseDatafeed(b []byte, name string) (Datafeed, error) {
	var d struct {
		JobID string          `json:"job_id"`
		Query json.RawMessage `json:"query"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Datafeed{}, fmt.Errorf("%s: expected a datafeed (JSON object): %w", name, err)
	}
	return Datafeed{JobID: d.JobID, Query: d.Query, Source: name}, nil
}

// ParseDuration reads an Elasticsearch time unit: "15m", "900s", "1h", "1d".
func ParseDuration(s string) (time.Duration, error) {
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	for _, u := range []string{"ms", "s", "m", "h", "d"} {
		if n, ok := strings.CutSuffix(s, u); ok {
			if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > 0 {
				return time.Duration(v) * units[u], nil
			}
		}
	}
	return 0, fmt.Errorf("expected a positive time like 15m, 900s or 1h, got %q", s)
}

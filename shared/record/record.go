// Package record defines the anomaly record: what the scorer writes for a rare process.name in
// a bucket, in the shape of Elastic's ML anomaly record (result_type "record"), plus rarenet's
// explanation and the enricher's context.
package record

import (
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Record is one anomaly record. The Elastic fields keep Elastic's names, so a signal can copy
// them as the detection engine does.
type Record struct {
	ID                 string       `json:"record_id"`
	JobID              string       `json:"job_id"`
	ResultType         string       `json:"result_type"`
	Timestamp          int64        `json:"timestamp"` // bucket start, Unix milliseconds
	BucketSpan         int64        `json:"bucket_span"`
	DetectorIndex      int          `json:"detector_index"`
	IsInterim          bool         `json:"is_interim"`
	Probability        float64      `json:"probability"`
	RecordScore        float64      `json:"record_score"`
	InitialRecordScore float64      `json:"initial_record_score"`
	Function           string       `json:"function"`
	FunctionDesc       string       `json:"function_description"`
	ByFieldName        string       `json:"by_field_name"`
	ByFieldValue       string       `json:"by_field_value"`
	Typical            []float64    `json:"typical"`
	Actual             []float64    `json:"actual"`
	Influencers        []Influencer `json:"influencers,omitempty"`
	Explanation        Explanation  `json:"rarenet_explanation"`
	Examples           []Example    `json:"rarenet_examples,omitempty"`
	Context            *Context     `json:"rarenet_context,omitempty"`
}

// Influencer is one influencer field with every value it had in the bucket for the record.
type Influencer struct {
	FieldName   string   `json:"influencer_field_name"`
	FieldValues []string `json:"influencer_field_values"`
}

// Explanation says why the record scored as it did, in the model's own numbers.
type Explanation struct {
	FirstOccurrence    bool     `json:"first_occurrence"`
	RelativeRarity     float64  `json:"relative_rarity"`
	Concentration      float64  `json:"concentration"`
	TotalConcentration float64  `json:"total_concentration"`
	DistinctValues     int      `json:"distinct_values"`
	RawScore           float64  `json:"raw_score"`
	Ceilings           Ceilings `json:"ceilings"`
	EventCount         int64    `json:"event_count"`
	BucketsModelled    int64    `json:"buckets_modelled"`
}

// Ceilings are the four bounds whose minimum is the record score.
type Ceilings struct {
	Noise       float64 `json:"noise"`
	Quantile    float64 `json:"quantile"`
	Ratio       float64 `json:"max_score_ratio"`
	Probability float64 `json:"probability_cap"`
	// Percentile is the raw score's percentile among past raw scores.
	Percentile float64 `json:"percentile"`
}

// Example is a sample event of the record, for the investigation guide's questions about
// arguments, working directory and destination.
type Example struct {
	Timestamp        time.Time `json:"@timestamp"`
	HostName         string    `json:"host.name,omitempty"`
	UserName         string    `json:"user.name,omitempty"`
	UserID           string    `json:"user.id,omitempty"`
	PID              int64     `json:"process.pid,omitempty"`
	Executable       string    `json:"process.executable,omitempty"`
	Args             []string  `json:"process.args,omitempty"`
	Title            string    `json:"process.title,omitempty"`
	WorkingDirectory string    `json:"process.working_directory,omitempty"`
	DestinationIP    string    `json:"destination.ip,omitempty"`
	DestinationPort  int       `json:"destination.port,omitempty"`
	Outcome          string    `json:"event.outcome,omitempty"`
	Source           string    `json:"source,omitempty"`
}

// Context is the enricher's answer to the investigation guide, per destination of the
// examples.
type Context struct {
	Destinations []Destination `json:"destinations,omitempty"`
}

// Destination is what is known of one destination without leaving the machine.
type Destination struct {
	IP      string `json:"ip"`
	Port    int    `json:"port,omitempty"`
	IPClass string `json:"ip_class"`
	Service string `json:"service,omitempty"`
	Note    string `json:"note,omitempty"`
}

// ID returns the stable id of the record of value in the bucket starting at bucketStart, in
// the layout of Elastic's record ids (job, "record", bucket start in ms, bucket span in s,
// detector index, hash of the by-field value). The same input always gives the same id,
// which is what lets every later stage de-duplicate.
func ID(jobID string, bucketStart time.Time, bucketSpan time.Duration, detector int, value string) string {
	b := make([]byte, 0, len(jobID)+64)
	b = append(b, jobID...)
	b = append(b, "_record_"...)
	b = strconv.AppendInt(b, bucketStart.UnixMilli(), 10)
	b = append(b, '_')
	b = strconv.AppendInt(b, int64(bucketSpan/time.Second), 10)
	b = append(b, '_')
	b = strconv.AppendInt(b, int64(detector), 10)
	b = append(b, '_')
	b = strconv.AppendUint(b, xxhash.Sum64String(value), 16)
	return string(b)
}

// BucketStart returns the start of the record's bucket.
func (r *Record) BucketStart() time.Time { return time.UnixMilli(r.Timestamp).UTC() }

package record

//go:generate go run github.com/tinylib/msgp@v1.6.5 -file summary.go -o summary_gen.go -tests=false -io=false

import "time"

// The types of this file travel between stages in msgpack as well as in JSON: bucket summaries
// (scorer to enricher, and inside the scorer from partitions to the model) are the bulk of
// the traffic after the events, once per bucket and process, and JSON cost more to decode
// than the model took to score them. Their codecs are generated (go generate; tinylib/msgp),
// with the JSON names as keys and times in UTC.

//msgp:tag json
//msgp:timezone utc

// ResultTypeBucketSummary is the result_type of a BucketSummary: what the scorer publishes on
// the anomalies subject for every closed bucket, before the bucket's records, so the enricher
// keeps the history of every process and not only of the rare ones.
const ResultTypeBucketSummary = "rarenet_bucket_summary"

// BucketSummary is what one closed bucket held, per by-field value. A bucket may be split
// into several summaries (each value in exactly one), to keep messages small.
type BucketSummary struct {
	ResultType string         `json:"result_type"`
	JobID      string         `json:"job_id"`
	Timestamp  int64          `json:"timestamp"`   // bucket start, Unix milliseconds
	BucketSpan int64          `json:"bucket_span"` // seconds
	Values     []ValueSummary `json:"values"`
}

// ValueSummary is one by-field value in a bucket: its events, hosts, users (user.name, or
// uid=<id>) and destinations, each list bounded by the scorer.
type ValueSummary struct {
	Value        string     `json:"value"`
	EventCount   int64      `json:"event_count"`
	Hosts        []string   `json:"hosts,omitempty"`
	Users        []string   `json:"users,omitempty"`
	Destinations []Endpoint `json:"destinations,omitempty"`
	// SourcedEvents counts the events an authenticated source vouched for (an HTTP token, or
	// a raw subject naming its source: event Origin.AuthSource); HostSources are the hosts and
	// sources of those events, the smallest pairs by host then source, bounded by the
	// scorer. Both are empty for input no source vouched for.
	SourcedEvents int64        `json:"sourced_events,omitempty"`
	HostSources   []HostSource `json:"host_sources,omitempty"`
}

// HostSource is a host and an authenticated source that reported it.
type HostSource struct {
	Host   string `json:"host"`
	Source string `json:"source"`
}

// Endpoint is an address and port.
type Endpoint struct {
	IP   string `json:"ip"`
	Port int    `json:"port,omitempty"`
}

// Influencer is one influencer field with every value it had in the bucket for the record.
type Influencer struct {
	FieldName   string   `json:"influencer_field_name"`
	FieldValues []string `json:"influencer_field_values"`
	// Score is the influencer score of each value: every value present in the record's
	// bucket gets full influence, as in ml-cpp, so it is the record's score.
	Score float64 `json:"influencer_score,omitempty"`
}

// Example is a sample event of the record, for the investigation guide's questions about
// arguments, working directory and destination.
type Example struct {
	Timestamp        time.Time `json:"@timestamp"`
	HostName         string    `json:"host.name,omitempty"`
	UserName         string    `json:"user.name,omitempty"`
	UserID           string    `json:"user.id,omitempty"`
	PID              int64     `json:"process.pid,omitempty"`
	ParentPID        int64     `json:"process.parent.pid,omitempty"`
	Executable       string    `json:"process.executable,omitempty"`
	Args             []string  `json:"process.args,omitempty"`
	Title            string    `json:"process.title,omitempty"`
	WorkingDirectory string    `json:"process.working_directory,omitempty"`
	DestinationIP    string    `json:"destination.ip,omitempty"`
	DestinationPort  int       `json:"destination.port,omitempty"`
	Outcome          string    `json:"event.outcome,omitempty"`
	Source           string    `json:"source,omitempty"`
}

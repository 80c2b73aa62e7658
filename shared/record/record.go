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
	ID                 string  `json:"record_id"`
	JobID              string  `json:"job_id"`
	ResultType         string  `json:"result_type"`
	Timestamp          int64   `json:"timestamp"` // bucket start, Unix milliseconds
	BucketSpan         int64   `json:"bucket_span"`
	DetectorIndex      int     `json:"detector_index"`
	IsInterim          bool    `json:"is_interim"`
	Probability        float64 `json:"probability"`
	RecordScore        float64 `json:"record_score"`
	InitialRecordScore float64 `json:"initial_record_score"`
	Function           string  `json:"function"`
	FunctionDesc       string  `json:"function_description"`
	ByFieldName        string  `json:"by_field_name"`
	ByFieldValue       string  `json:"by_field_value"`
	// PartitionFieldName and PartitionFieldValue are set by detectors partitioned by a field
	// (the enhanced profile's rare-on-this-host detector: host.name).
	PartitionFieldName  string       `json:"partition_field_name,omitempty"`
	PartitionFieldValue string       `json:"partition_field_value,omitempty"`
	Typical             []float64    `json:"typical"`
	Actual              []float64    `json:"actual"`
	Influencers         []Influencer `json:"influencers,omitempty"`
	Explanation         Explanation  `json:"rarenet_explanation"`
	Examples            []Example    `json:"rarenet_examples,omitempty"`
	Context             *Context     `json:"rarenet_context,omitempty"`
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
	// Detector names the detector that wrote the record when it is one the enhanced profile
	// adds: DetectorRareOnHost or DetectorNewDestination (also told by detector_index 1 and
	// 2). Empty for the reference's fleet-wide rare detector.
	Detector string `json:"detector,omitempty"`
	// NewDestination is what a new-destination record found new, and against what.
	NewDestination *NewDestination `json:"new_destination,omitempty"`
}

// Detector names, for Explanation.Detector.
const (
	DetectorRareOnHost     = "rare-on-host"
	DetectorNewDestination = "new-destination"
)

// NewDestination explains a new-destination record: a process common on its host connected
// to a destination it never used there.
type NewDestination struct {
	// Text is the finding in one sentence.
	Text string `json:"text"`
	// IP and Port are the new destination (the smallest address of its key in the bucket).
	IP   string `json:"ip"`
	Port int    `json:"port,omitempty"`
	// Service is the port and "internal" or "external" ("443/external"); Network the /24 (or
	// IPv6 /48) of an external address; New says which of the two was never used:
	// "service" or "network".
	Service string `json:"service"`
	Network string `json:"network,omitempty"`
	New     string `json:"new"`
	// KnownServices are the services the process used on the host before; KnownNetworks the
	// networks it used for Service before.
	KnownServices []string `json:"known_services"`
	KnownNetworks []string `json:"known_networks,omitempty"`
	// ActiveBuckets is how many buckets the process connected in on the host before this
	// one; NovelBuckets how many of them, after its warm-up, brought a new destination.
	ActiveBuckets int64 `json:"active_buckets"`
	NovelBuckets  int64 `json:"novel_buckets"`
	// HostNew says no process of the host used Service before: a port (internal or external)
	// new to the whole host, which judges a process with little history of its own there.
	HostNew bool `json:"host_new,omitempty"`
	// NewUsers are the users the process ran as in the bucket, anywhere, and never before.
	NewUsers []string `json:"new_users,omitempty"`
	// NewHostUsers are the users the process ran as on the host in the bucket and never
	// there before (when none is new to the process anywhere).
	NewHostUsers []string `json:"new_host_users,omitempty"`
	// Others are further new destinations of the process on the host in the same bucket.
	Others []Endpoint `json:"others,omitempty"`
	// AlsoOn are the other hosts on which the same destination was new to the process in the
	// same bucket: one change on several hosts (a provider moving) gives one record.
	AlsoOn []string `json:"also_on,omitempty"`
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

// Context is the enricher's answer to the investigation guide: why the record fired, in plain
// words and numbers; each destination (class, service, organisation, place, name, and whether
// the process went there before); the users; the history of execution; the process detail.
// History-derived parts are nil when the enricher holds no history for the record's bucket.
type Context struct {
	Why          *Why          `json:"why,omitempty"`
	Destinations []Destination `json:"destinations,omitempty"`
	Users        *Users        `json:"users,omitempty"`
	History      *History      `json:"history,omitempty"`
	Processes    []Process     `json:"processes,omitempty"`
	// Adjustments are the enhanced profile's changes to record_score, in order; the model's
	// own score stays in initial_record_score.
	Adjustments []Adjustment `json:"adjustments,omitempty"`
}

// Adjustment is one change the enhanced profile made to a record's score, and why.
type Adjustment struct {
	Reason string  `json:"reason"`
	Factor float64 `json:"factor"`
}

// Destination is what is known of one destination of the record.
type Destination struct {
	IP      string `json:"ip"`
	Port    int    `json:"port,omitempty"`
	IPClass string `json:"ip_class"`
	Service string `json:"service,omitempty"`
	Note    string `json:"note,omitempty"`
	// AS and Geo come from MaxMind-format databases, when given, for public addresses only.
	AS  *AS  `json:"as,omitempty"`
	Geo *Geo `json:"geo,omitempty"`
	// ReverseDNS is set when reverse lookups are enabled.
	ReverseDNS *ReverseDNS `json:"reverse_dns,omitempty"`
	// IPSeenBefore and PortSeenBefore say whether this process connected to this address or
	// this port in any earlier bucket of the history; nil without history.
	IPSeenBefore   *bool      `json:"ip_seen_before,omitempty"`
	IPFirstSeen    *time.Time `json:"ip_first_seen,omitempty"`
	PortSeenBefore *bool      `json:"port_seen_before,omitempty"`
	PortFirstSeen  *time.Time `json:"port_first_seen,omitempty"`
}

// AS is the autonomous system of an address, in ECS's shape (destination.as.number,
// destination.as.organization.name).
type AS struct {
	Number       uint32         `json:"number"`
	Organization ASOrganization `json:"organization,omitzero"`
	// Database names the database that answered, and the date of its data.
	Database *GeoIPDatabase `json:"database,omitempty"`
}

// ASOrganization is ECS's as.organization.
type ASOrganization struct {
	Name string `json:"name,omitempty"`
}

// Geo is the place of an address (ECS destination.geo.*).
type Geo struct {
	CountryISOCode string `json:"country_iso_code,omitempty"`
	CountryName    string `json:"country_name,omitempty"`
	CityName       string `json:"city_name,omitempty"`
	ContinentCode  string `json:"continent_code,omitempty"`
	// Database names the database that answered, and the date of its data.
	Database *GeoIPDatabase `json:"database,omitempty"`
}

// GeoIPDatabase says which database answered a lookup: its name (the MaxMind database type,
// or the package it was built from) and the date of its data (YYYY-MM-DD), so an analyst can
// judge how current the answer is.
type GeoIPDatabase struct {
	Name string `json:"name"`
	Date string `json:"date,omitempty"`
}

// ReverseDNS is the outcome of a PTR lookup: the names, or why there are none (not-found,
// timeout, error, busy: every lookup slot was taken for the whole time allowed).
type ReverseDNS struct {
	Names  []string `json:"names,omitempty"`
	Status string   `json:"status"`
}

// Users answers "is this their workflow?": the users of the record and, from the history,
// the users the process ran as before the record's bucket.
type Users struct {
	// Current are the record's users (user.name, or uid=<id> when only the id is known).
	Current []string `json:"current"`
	// New are the current users the process never ran as before.
	New []string `json:"new"`
	// Before are the users it ran as before, most recent first (at most 20), of BeforeCount.
	Before      []string `json:"before,omitempty"`
	BeforeCount int      `json:"before_count"`
}

// History is the process's history of execution before the record's bucket, fleet-wide.
type History struct {
	// Since is the first bucket the history holds; Buckets the buckets from Since up to the
	// record's (excluded); ActiveBuckets those in which the process connected.
	Since         time.Time `json:"since"`
	Buckets       int64     `json:"buckets"`
	ActiveBuckets int64     `json:"active_buckets"`
	// New is true when the process never connected before, anywhere.
	New       bool       `json:"new"`
	FirstSeen *time.Time `json:"first_seen,omitempty"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	// Hosts is the history of each of the record's hosts.
	Hosts []HostHistory `json:"hosts,omitempty"`
	// Prevalence: HostCount hosts ran it (before or in this bucket) of FleetHostCount hosts
	// known.
	HostCount      int `json:"host_count"`
	FleetHostCount int `json:"fleet_host_count"`
	// Schedule is a recognised schedule of the process's runs, with its evidence.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Recurrence, in the enhanced profile, is the process recurring on each of the record's
	// hosts at a regular rate, whatever the time of day (a timer with a random delay, a cron
	// job at a per-host minute), with each host's evidence.
	Recurrence *Recurrence `json:"recurrence,omitempty"`
	// Elsewhere, in the enhanced profile, is the process doing what it did on other hosts
	// before: the same users, ports and networks.
	Elsewhere *Elsewhere `json:"elsewhere,omitempty"`
	// Sources are the authenticated sources (HTTP tokens, NATS sources bound to their
	// subject) that reported the process before this bucket, earliest first; absent when
	// none did. OnlySource is the one source of the whole of its history, when other
	// sources (or input no source vouched for) report the fleet: a history one source alone
	// wrote, which may be poisoned (docs/security.md, "Poisoning").
	Sources    []string `json:"sources,omitempty"`
	OnlySource string   `json:"only_source,omitempty"`
}

// Elsewhere is a process doing on the record's hosts what it did on other hosts before.
type Elsewhere struct {
	Description string `json:"description"`
	// Hosts counts the other hosts that ran it before.
	Hosts    int      `json:"hosts"`
	Users    []string `json:"users"`
	Ports    []int    `json:"ports"`
	Networks []string `json:"networks"`
}

// Recurrence is a process that recurs on every one of the record's hosts at a regular rate.
type Recurrence struct {
	Description string           `json:"description"`
	Hosts       []HostRecurrence `json:"hosts"`
	// FleetHosts counts the other hosts on which it recurs at the same rate.
	FleetHosts int `json:"fleet_hosts"`
}

// HostRecurrence is the evidence of a recurrence on one host: about one run per Period
// (Every), its recent runs (the record's last), and whether the host's own runs are enough
// ("host") or other hosts' recurrence at the same rate makes up for a short history ("fleet").
type HostRecurrence struct {
	Host     string      `json:"host"`
	Period   string      `json:"period"`
	Every    string      `json:"every"`
	Runs     []time.Time `json:"runs"`
	Evidence string      `json:"evidence"`
}

// HostHistory is the process's history on one host.
type HostHistory struct {
	Name          string     `json:"name"`
	New           bool       `json:"new"`
	FirstSeen     *time.Time `json:"first_seen,omitempty"`
	ActiveBuckets int64      `json:"active_buckets"`
	// FirstSources are the authenticated sources of the process's first bucket on the host
	// (this bucket when it is new there); NewSources are those of them that had never
	// reported the host before, which something else had reported: a source speaking for a
	// host anew with a process new there.
	FirstSources []string `json:"first_sources,omitempty"`
	NewSources   []string `json:"new_sources,omitempty"`
}

// Schedule is a recognised period (hourly, daily, weekly, monthly, quarterly): the runs that
// show it, the record's bucket last.
type Schedule struct {
	Period      string      `json:"period"`
	Description string      `json:"description"`
	Runs        []time.Time `json:"runs"`
}

// Process is one distinct process of the record's example events.
type Process struct {
	Host             string   `json:"host,omitempty"`
	User             string   `json:"user,omitempty"`
	PID              int64    `json:"pid,omitempty"`
	ParentPID        int64    `json:"parent_pid,omitempty"`
	Executable       string   `json:"executable,omitempty"`
	Args             []string `json:"args,omitempty"`
	Title            string   `json:"title,omitempty"`
	WorkingDirectory string   `json:"working_directory,omitempty"`
	// Notes are what an analyst should not miss (a temporary directory, a deleted or
	// masquerading executable).
	Notes []string `json:"notes,omitempty"`
}

// Why says why the record fired: one sentence in plain words, its clauses, and the numbers
// behind them.
type Why struct {
	Text  string   `json:"text"`
	Facts []string `json:"facts"`
	// ActiveBuckets of Buckets earlier buckets had the process (from the history, or the
	// model's buckets when there is none); Hosts of FleetHosts ran it (0 without history).
	ActiveBuckets   int64   `json:"active_buckets"`
	Buckets         int64   `json:"buckets"`
	Hosts           int     `json:"hosts"`
	FleetHosts      int     `json:"fleet_hosts"`
	FirstOccurrence bool    `json:"first_occurrence"`
	Probability     float64 `json:"probability"`
	RecordScore     float64 `json:"record_score"`
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

package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// JobsKey is the key of ScorerBucket under which the scorer announces the anomaly detection
// job it runs, so that a windower started apart from it can tell whether its rule's jobs are
// produced at all. Every scorer replica writes it when it starts; the last one wins, and all
// replicas of a deployment run the same job.
const JobsKey = "jobs"

// ErrNoJobs is returned by ReadJobs when no scorer has announced its job yet.
var ErrNoJobs = errors.New("stream: no scorer has announced its job")

// Jobs is the scorer's announcement.
type Jobs struct {
	// Jobs are the ids of the jobs the scorer's records carry (record.JobID).
	Jobs []JobInfo `json:"jobs"`
	// Holder names the scorer replica that wrote it.
	Holder string `json:"holder,omitempty"`
}

// JobInfo describes one announced job.
type JobInfo struct {
	ID          string   `json:"id"`
	BucketSpan  string   `json:"bucket_span"`
	ByField     string   `json:"by_field"`
	Influencers []string `json:"influencers,omitempty"`
	// ResultsIndex is the index Elasticsearch would write the job's records to
	// (.ml-anomalies-shared, or .ml-anomalies-custom-<results_index_name>).
	ResultsIndex string `json:"results_index"`
}

// IDs lists the announced job ids.
func (j Jobs) IDs() []string {
	ids := make([]string, len(j.Jobs))
	for i, job := range j.Jobs {
		ids[i] = job.ID
	}
	return ids
}

// AnnounceJobs writes the scorer's announcement.
func AnnounceJobs(ctx context.Context, kv jetstream.KeyValue, j Jobs) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, JobsKey, b); err != nil {
		return fmt.Errorf("stream: announce the scorer's jobs: %w", err)
	}
	return nil
}

// ReadJobs reads the scorer's announcement; ErrNoJobs when there is none yet.
func ReadJobs(ctx context.Context, kv jetstream.KeyValue) (Jobs, error) {
	e, err := kv.Get(ctx, JobsKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Jobs{}, ErrNoJobs
	}
	if err != nil {
		return Jobs{}, fmt.Errorf("stream: read the scorer's jobs: %w", err)
	}
	var j Jobs
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return Jobs{}, fmt.Errorf("stream: the scorer's jobs announcement (%s.%s) is not valid: %w", ScorerBucket, JobsKey, err)
	}
	return j, nil
}

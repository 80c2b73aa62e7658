package scorer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rarenet/rarenet/shared/job"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// ErrNoJob is returned by ResolveJob when the configuration names no job rarenet can run.
var ErrNoJob = errors.New("scorer: no such job")

// RuleJob is the job the built-in rule names: v3_linux_anomalous_network_activity_ea, the
// default of a scorer started on its own.
func RuleJob() Job {
	j, err := BuiltinJob(job.JobV3EA)
	if err != nil {
		panic(err) // embedded and tested
	}
	return j
}

// BuiltinJob is the scorer's job for a built-in job id (job.BuiltinJobIDs).
func BuiltinJob(id string) (Job, error) {
	j, _, err := job.BuiltinJob(id)
	if err != nil {
		return Job{}, fmt.Errorf("%w: %w", ErrNoJob, err)
	}
	return FromJob(j), nil
}

// ResolveJob settles the job the configuration names and replaces Job with it: JobFile (its
// id from JobID, the module manifest beside it, or its file name), the job of ModuleDir that
// JobID names, or the built-in job JobID names. With none of them Job is kept. BucketSpan,
// when set, replaces the job's. The warm-up, the normaliser and the enhanced detectors are kept.
func (c *Config) ResolveJob() error {
	var j job.Job
	var err error
	switch {
	case c.JobFile != "" && c.ModuleDir != "":
		return fmt.Errorf("scorer: give --job FILE or --module DIR, not both")
	case c.JobFile != "":
		j, err = job.LoadJob(c.JobFile, c.JobID)
	case c.ModuleDir != "":
		j, err = c.moduleJob()
	case c.JobID != "" && c.JobID != c.Job.ID:
		j, _, err = job.BuiltinJob(c.JobID)
		if err != nil {
			err = fmt.Errorf("%w: --job-id %s names no built-in job; give its definition with --job FILE or --module DIR: %w", ErrNoJob, c.JobID, err)
		}
	default:
		j = job.Job{ID: c.Job.ID}
	}
	if err != nil {
		return err
	}
	if j.Function != "" { // a job was read
		keep := c.Job
		c.Job = FromJob(j)
		c.Job.WarmupBuckets, c.Job.Normalizer, c.Job.HostRarity, c.Job.NewDestinations, c.Job.DestinationKey =
			keep.WarmupBuckets, keep.Normalizer, keep.HostRarity, keep.NewDestinations, keep.DestinationKey
	}
	c.JobFile, c.ModuleDir, c.JobID = "", "", c.Job.ID
	if c.BucketSpan > 0 {
		c.Job.BucketSpan = c.BucketSpan
	}
	return nil
}

func (c *Config) moduleJob() (job.Job, error) {
	m, err := job.LoadModule(c.ModuleDir)
	if err != nil {
		return job.Job{}, err
	}
	if c.JobID == "" {
		return job.Job{}, fmt.Errorf("%w: module %s holds %s: name the one to run with --job-id", ErrNoJob, c.ModuleDir, strings.Join(m.JobIDs(), ", "))
	}
	return m.Job(c.JobID)
}

// announce tells windowers started apart which job this scorer runs (stream.JobsKey).
func (s *Service) announce(ctx context.Context) error {
	j := s.cfg.Job
	a := stream.Jobs{Holder: s.holder, Jobs: []stream.JobInfo{{ID: j.ID, BucketSpan: j.BucketSpan.String(), ByField: j.ByField,
		Influencers: j.Influencers, ResultsIndex: job.ResultsIndex(j.ResultsIndexName)}}}
	return natsutil.Retry(ctx, func(ctx context.Context) error { return stream.AnnounceJobs(ctx, s.kv, a) })
}

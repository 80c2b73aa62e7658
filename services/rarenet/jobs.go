package rarenet

import (
	"fmt"

	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/job"
)

// SelectJob lets the rule decide the job, as in Kibana a machine_learning rule names its
// job: unless --job or --job-id chose one, the scorer runs the job of the rule's
// machine_learning_job_id, built in or from --module. A job from --module brings the module's datafeed for it too,
// unless --datafeed or --datafeed-file is given (explicit reports whether a flag was given).
// A rule naming a job the scorer does not run is an error (windower.ErrJobNotProduced).
func SelectJob(o *Options, explicit func(flag string) bool) error {
	if err := o.Windower.LoadRule(); err != nil {
		return err
	}
	rule := &o.Windower.Rule
	s := &o.Scorer
	module := s.ModuleDir
	// The rule names the job, among the built-ins or in --module; a --job file names itself.
	if s.JobFile == "" && s.JobID == "" {
		if len(rule.JobIDs) != 1 {
			return fmt.Errorf("rule %s (%s) names %d jobs; rarenet's scorer runs one: choose it with --job-id", rule.Name, rule.Source, len(rule.JobIDs))
		}
		s.JobID = rule.JobIDs[0]
	}
	if err := s.ResolveJob(); err != nil {
		return fmt.Errorf("rule %s (%s) names machine_learning_job_id %v: %w", rule.Name, rule.Source, rule.JobIDs, err)
	}
	if err := windower.CheckJobs(rule, []string{s.Job.ID}); err != nil {
		return err
	}
	if module != "" && !explicit("datafeed") && !explicit("datafeed-file") {
		m, err := job.LoadModule(module)
		if err != nil {
			return err
		}
		if o.Ingest.DatafeedFile, err = m.DatafeedPath(s.Job.ID); err != nil {
			return err
		}
	}
	return nil
}

// checkJobs refuses, before anything starts, a pipeline whose rule names a job its scorer
// does not run. Split deployments check the same at the windower, against the scorer's
// announcement.
func checkJobs(o *Options) error {
	if err := o.Windower.LoadRule(); err != nil {
		return err
	}
	if err := o.Scorer.ResolveJob(); err != nil {
		return err
	}
	return windower.CheckJobs(&o.Windower.Rule, []string{o.Scorer.Job.ID})
}

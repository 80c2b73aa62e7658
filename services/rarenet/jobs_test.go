package rarenet

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/windower"
	"github.com/rarenet/rarenet/shared/job"
)

// options registers the stages' flags as `rarenet replay` does and parses args.
func options(t *testing.T, args ...string) (*Options, func(string) bool) {
	t.Helper()
	var o Options
	fset := flag.NewFlagSet("", flag.ContinueOnError)
	for _, register := range []func(*flag.FlagSet){o.Scorer.RegisterFlags, o.Ingest.RegisterFlags, o.Windower.RegisterFlags} {
		stage := flag.NewFlagSet("", flag.ContinueOnError)
		register(stage)
		stage.VisitAll(func(f *flag.Flag) {
			if fset.Lookup(f.Name) == nil {
				fset.Var(f.Value, f.Name, f.Usage)
			}
		})
	}
	if err := fset.Parse(args); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return &o, func(n string) bool { return set[n] }
}

func TestSelectJob(t *testing.T) {
	dir := t.TempDir()
	fsys, err := job.BuiltinFS()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(fsys, "security_linux")
	if err != nil {
		t.Fatal(err)
	}
	module := filepath.Join(dir, "security_linux")
	if err := os.CopyFS(module, sub); err != nil {
		t.Fatal(err)
	}
	// The rule as detection-rules shipped it in 2020: the job as a string, no version.
	rule2020 := filepath.Join(dir, "ml_linux_anomalous_network_activity.toml")
	b, err := os.ReadFile("../windower/rules/v1.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rule2020, []byte(strings.Replace(string(b), "version = 1\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	custom := filepath.Join(dir, "custom.toml")
	if err := os.WriteFile(custom, []byte(strings.Replace(string(b), `"linux_anomalous_network_activity_ecs"`, `"my_rare_job"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args          []string
		job, datafeed string
		influencers   int
		wantErr       string
		notProduced   bool
	}{
		{nil, job.JobV3EA, "", 7, "", false},
		{[]string{"--rule-builtin", "v1"}, job.JobV1, "", 4, "", false},
		{[]string{"--rule", rule2020}, job.JobV1, "", 4, "", false},
		{[]string{"--module", module}, job.JobV3EA, filepath.Join(module, "ml", "datafeed_"+job.JobV3EA+".json"), 7, "", false},
		{[]string{"--module", module, "--datafeed", "v3"}, job.JobV3EA, "", 7, "", false},
		{[]string{"--job", filepath.Join(module, "ml", job.JobV3EA+".json")}, job.JobV3EA, "", 7, "", false},
		// The silent zero of the issue: a rule on one job, a scorer on another.
		{[]string{"--job-id", job.JobV3}, "", "", 0, "names machine_learning_job_id v3_linux_anomalous_network_activity_ea", true},
		{[]string{"--rule", custom}, "", "", 0, "give its definition with --job FILE or --module DIR", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, explicit := options(t, tt.args...)
			err := SelectJob(o, explicit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, windower.ErrJobNotProduced) != tt.notProduced {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Scorer.Job.ID != tt.job || len(o.Scorer.Job.Influencers) != tt.influencers || o.Ingest.DatafeedFile != tt.datafeed {
				t.Errorf("job %+v, datafeed file %q", o.Scorer.Job, o.Ingest.DatafeedFile)
			}
		})
	}
}

// TestStartRefusesAJobNoScorerRuns: a pipeline put together in code is checked as well.
func TestStartRefusesAJobNoScorerRuns(t *testing.T) {
	o, _ := options(t, "--rule-builtin", "v1", "--job-id", job.JobV3EA)
	_, err := Start(context.Background(), *o, slog.New(slog.DiscardHandler))
	if !errors.Is(err, windower.ErrJobNotProduced) {
		t.Fatalf("Start = %v, want ErrJobNotProduced", err)
	}
}

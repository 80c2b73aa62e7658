package scorer

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/job"
	"github.com/rarenet/rarenet/shared/stream"
)

// moduleDir writes a folder in the layout of Kibana's security_linux module (manifest.json,
// ml/ job and datafeed files without job_id): the built-in one.
func moduleDir(t *testing.T) string {
	t.Helper()
	fsys, err := job.BuiltinFS()
	if err != nil {
		t.Fatal(err)
	}
	sub, err := fs.Sub(fsys, "security_linux")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "security_linux")
	if err := os.CopyFS(dir, sub); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestResolveJob(t *testing.T) {
	dir := moduleDir(t)
	eaFile := filepath.Join(dir, "ml", job.JobV3EA+".json")
	seven := "host.name,host.id,process.name,user.name,user.id,destination.ip,event.module"
	tests := []struct {
		args            []string
		id, influencers string
		span            time.Duration
		wantErr         string
	}{
		{nil, job.JobV3EA, seven, 15 * time.Minute, ""},
		{[]string{"--job-id", job.JobV1}, job.JobV1, "host.name,process.name,user.name,destination.ip", 15 * time.Minute, ""},
		{[]string{"--job-id", job.JobV3, "--bucket-span", "5m"}, job.JobV3, "host.name,process.name,user.name,destination.ip", 5 * time.Minute, ""},
		// A module's job file, as Kibana ships it: no job_id; the manifest above ml/ names it.
		{[]string{"--job", eaFile}, job.JobV3EA, seven, 15 * time.Minute, ""},
		{[]string{"--job", eaFile, "--job-id", "mine"}, "mine", seven, 15 * time.Minute, ""},
		{[]string{"--module", dir, "--job-id", job.JobV3EA}, job.JobV3EA, seven, 15 * time.Minute, ""},
		{[]string{"--module", dir}, "", "", 0, "name the one to run with --job-id"},
		{[]string{"--module", dir, "--job-id", "v3_linux_rare_sudo_user"}, "", "", 0, "has no job"},
		{[]string{"--job-id", "v3_linux_rare_sudo_user"}, "", "", 0, "names no built-in job"},
		{[]string{"--job", eaFile, "--module", dir}, "", "", 0, "not both"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fset := flag.NewFlagSet("", flag.ContinueOnError)
			var c Config
			c.RegisterFlags(fset)
			if err := fset.Parse(append(tt.args, "--warmup-buckets", "3")); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Job.ID != tt.id || strings.Join(c.Job.Influencers, ",") != tt.influencers || c.Job.BucketSpan != tt.span ||
				c.Job.ByField != "process.name" || c.Job.WarmupBuckets != 3 || c.JobID != tt.id {
				t.Errorf("job %+v (job id %s)", c.Job, c.JobID)
			}
		})
	}
	if _, err := BuiltinJob("nope"); !errors.Is(err, ErrNoJob) {
		t.Errorf("BuiltinJob(nope) = %v", err)
	}
}

// TestScorerAnnouncesItsJob: a windower started apart reads which job the scorer runs.
func TestScorerAnnouncesItsJob(t *testing.T) {
	h := startScorer(t)
	kv, err := h.js.KeyValue(h.ctx, stream.ScorerBucket)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		jobs, err := stream.ReadJobs(h.ctx, kv)
		if err == nil {
			if strings.Join(jobs.IDs(), ",") != DefaultJob().ID || jobs.Jobs[0].ResultsIndex != ".ml-anomalies-shared" ||
				jobs.Jobs[0].ByField != "process.name" || jobs.Jobs[0].BucketSpan != "15m0s" || jobs.Holder == "" {
				t.Fatalf("announced %+v", jobs)
			}
			return
		}
		if !errors.Is(err, stream.ErrNoJobs) || time.Now().After(deadline) {
			t.Fatalf("ReadJobs: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

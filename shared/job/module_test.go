package job

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kibanaModule writes, in a temporary folder, a module in the layout of Kibana's
// security_linux (manifest.json, ml/<job>.json without job_id, ml/datafeed_<job>.json with
// the JOB_ID placeholder): the built-in one, plus a job of another function, as real modules
// hold many jobs rarenet cannot run.
func kibanaModule(t *testing.T) string {
	t.Helper()
	sub, err := fs.Sub(builtins, "builtin/security_linux") // as BuiltinFS has it
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "security_linux")
	if err := os.CopyFS(dir, sub); err != nil {
		t.Fatal(err)
	}
	man, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	man = []byte(strings.Replace(string(man), `"jobs": [`,
		`"jobs": [`+"\n"+`    {"id": "v3_linux_counting_job", "file": "v3_linux_counting_job.json"},`, 1))
	write(t, filepath.Join(dir, "manifest.json"), string(man))
	write(t, filepath.Join(dir, "ml", "v3_linux_counting_job.json"),
		`{"description": "a count job", "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "high_count"}]}}`)
	return dir
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadModule(t *testing.T) {
	dir := kibanaModule(t)
	m, err := LoadModule(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "security_linux_v3" || strings.Join(m.JobIDs(), ",") != "v3_linux_counting_job,"+JobV3+","+JobV3EA {
		t.Fatalf("module %s, jobs %v", m.ID, m.JobIDs())
	}
	j, err := m.Job(JobV3EA)
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != JobV3EA || len(j.Influencers) != 7 {
		t.Errorf("job %+v", j)
	}
	d, err := m.Datafeed(JobV3EA)
	if err != nil {
		t.Fatal(err)
	}
	if d.JobID != JobV3EA || !json.Valid(d.Query) || !strings.HasSuffix(d.Source, "datafeed_"+JobV3EA+".json") {
		t.Errorf("datafeed %+v, want the query of %s's datafeed file", d, JobV3EA)
	}
	if _, err := m.Job("v3_linux_counting_job"); !errors.Is(err, ErrUnsupportedJob) || !strings.Contains(err.Error(), "v3_linux_counting_job.json") {
		t.Errorf("count job: %v, want ErrUnsupportedJob naming the file", err)
	}
	if _, err := m.Job("nope"); !errors.Is(err, ErrNoSuchJob) || !strings.Contains(err.Error(), JobV3EA) {
		t.Errorf("missing job: %v, want ErrNoSuchJob listing the jobs", err)
	}
	if _, err := m.Datafeed("v3_linux_counting_job"); !errors.Is(err, ErrNoSuchJob) {
		t.Errorf("missing datafeed: %v", err)
	}
	if p, err := m.DatafeedPath(JobV3EA); err != nil || p != filepath.Join(dir, "ml", "datafeed_"+JobV3EA+".json") {
		t.Errorf("DatafeedPath = %s, %v", p, err)
	}
	if _, err := LoadDatafeed(filepath.Join(dir, "ml", "datafeed_"+JobV3EA+".json")); err != nil {
		t.Errorf("the module's datafeed file as --datafeed-file: %v", err)
	}
}

func TestLoadModuleErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadModule(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("no manifest: %v", err)
	}
	write(t, filepath.Join(dir, "manifest.json"), `{"id": "m", "jobs": []}`)
	if _, err := LoadModule(dir); err == nil || !strings.Contains(err.Error(), "jobs: expected at least one job") {
		t.Errorf("no jobs: %v", err)
	}
	write(t, filepath.Join(dir, "manifest.json"), `{"id": "m", "jobs": [{"id": "a", "file": "a.json"}]}`)
	m, err := LoadModule(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Job("a"); err == nil || !strings.Contains(err.Error(), "job a") {
		t.Errorf("missing job file: %v", err)
	}
}

// TestLoadJobID: a module job file has no job_id; its id comes from --job-id, the manifest
// beside it, or its file name.
func TestLoadJobID(t *testing.T) {
	dir := kibanaModule(t)
	file := filepath.Join(dir, "ml", JobV3EA+".json")
	copied := filepath.Join(t.TempDir(), "my_job.json")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	write(t, copied, string(b))
	api := filepath.Join(t.TempDir(), "exported.json")
	write(t, api, `{"job_id": "from_the_api", "analysis_config": {"bucket_span": "15m", "detectors": [{"function": "rare", "by_field_name": "process.name"}]}}`)
	tests := []struct{ path, id, want string }{
		{file, "", JobV3EA},          // the manifest in the folder above ml/
		{file, "renamed", "renamed"}, // --job-id wins
		{copied, "", "my_job"},       // no manifest: the file name
		{api, "", "from_the_api"},    // the API's job_id
		{api, "renamed", "renamed"},
	}
	for _, tt := range tests {
		j, err := LoadJob(tt.path, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if j.ID != tt.want {
			t.Errorf("LoadJob(%s, %q).ID = %q, want %q", filepath.Base(tt.path), tt.id, j.ID, tt.want)
		}
	}
	if _, err := LoadJob(filepath.Join(dir, "nope.json"), ""); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestResultsIndex(t *testing.T) {
	for name, want := range map[string]string{"": ".ml-anomalies-shared", "shared": ".ml-anomalies-shared", "mine": ".ml-anomalies-custom-mine"} {
		if got := ResultsIndex(name); got != want {
			t.Errorf("ResultsIndex(%q) = %s, want %s", name, got, want)
		}
	}
}

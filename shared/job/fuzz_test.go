package job

import (
	"io/fs"
	"testing"
	"testing/fstest"
)

// FuzzParseJob: no job file crashes the parser; an accepted job is a rare detector with a
// by-field and a positive bucket span.
func FuzzParseJob(f *testing.F) {
	fsys, err := BuiltinFS()
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"security_linux/ml/v3_linux_anomalous_network_activity_ea.json", "siem_auditbeat/ml/linux_anomalous_network_activity_ecs.json"} {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"analysis_config":{"bucket_span":"15m","detectors":[{"function":"count"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := ParseJob(data, "fuzz.json")
		if err == nil && (j.Function != "rare" || j.ByField == "" || j.BucketSpan <= 0) {
			t.Fatalf("accepted %+v", j)
		}
		_, _ = ParseDatafeed(data, "fuzz.json")
	})
}

// FuzzLoadModule: no manifest crashes the module reader.
func FuzzLoadModule(f *testing.F) {
	fsys, err := BuiltinFS()
	if err != nil {
		f.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "security_linux/manifest.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"jobs": [{"id": "a", "file": "../../etc/passwd"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := loadModule(fstest.MapFS{"m/manifest.json": {Data: data}}, "m", "m")
		if err != nil {
			return
		}
		for _, id := range m.JobIDs() {
			_, _ = m.Job(id)
			_, _ = m.Datafeed(id)
		}
	})
}

package job

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadJob reads a job file: one the anomaly detection API returned (with its job_id) or one
// of a Kibana ML module (without). Its id is, in this order: id when not empty, the file's
// job_id, the id that the module's manifest.json (beside the file, or in the folder above its
// ml folder) gives the file, or the file's name without .json.
func LoadJob(path, id string) (Job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Job{}, fmt.Errorf("job: %w", err)
	}
	j, err := ParseJob(b, path)
	if err != nil {
		return Job{}, err
	}
	switch {
	case id != "":
		j.ID = id
	case j.ID != "":
	default:
		if j.ID, err = manifestID(path); err != nil {
			return Job{}, err
		}
		if j.ID == "" {
			j.ID = strings.TrimSuffix(filepath.Base(path), ".json")
		}
	}
	return j, nil
}

// manifestID looks for a Kibana module manifest naming the job file path, and returns the id
// it gives it ("" when there is no manifest, or it does not list the file).
func manifestID(path string) (string, error) {
	dir := filepath.Dir(path)
	for _, m := range []string{filepath.Join(dir, "manifest.json"), filepath.Join(dir, "..", "manifest.json")} {
		b, err := os.ReadFile(m)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("job: %w", err)
		}
		var man manifestJSON
		if err := json.Unmarshal(b, &man); err != nil {
			return "", fmt.Errorf("job: %s (the module manifest beside %s): %w", m, path, err)
		}
		for _, j := range man.Jobs {
			if j.File == filepath.Base(path) {
				return j.ID, nil
			}
		}
	}
	return "", nil
}

// LoadDatafeed reads a datafeed file.
func LoadDatafeed(path string) (Datafeed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Datafeed{}, fmt.Errorf("job: %w", err)
	}
	return ParseDatafeed(b, path)
}

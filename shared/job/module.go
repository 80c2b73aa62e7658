package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoSuchJob is returned when a module, the built-ins or a manifest hold no job of the
// requested id.
var ErrNoSuchJob = errors.New("job: no such job")

// Module is a Kibana ML module as Kibana ships it (x-pack/.../data_recognizer/modules/<name>):
// a manifest.json naming the jobs and datafeeds, whose files lie in the ml folder beside it.
// Module job files carry no job_id (the manifest's jobs[].id names them) and datafeeds carry
// the placeholders JOB_ID and INDEX_PATTERN_NAME; both are read as they are.
type Module struct {
	// ID and Title are the manifest's.
	ID, Title string
	// Jobs and Datafeeds are the manifest's lists, in its order.
	Jobs      []ModuleJob
	Datafeeds []ModuleDatafeed

	fsys fs.FS
	dir  string // in fsys
	name string // for messages: the folder as the user gave it
	root string // the folder on disk, for modules LoadModule read
}

// ModuleJob is an entry of a manifest's jobs list.
type ModuleJob struct {
	ID   string `json:"id"`
	File string `json:"file"`
}

// ModuleDatafeed is an entry of a manifest's datafeeds list.
type ModuleDatafeed struct {
	ID    string `json:"id"`
	File  string `json:"file"`
	JobID string `json:"job_id"`
}

type manifestJSON struct {
	ID        string           `json:"id"`
	Title     string           `json:"title"`
	Jobs      []ModuleJob      `json:"jobs"`
	Datafeeds []ModuleDatafeed `json:"datafeeds"`
}

// LoadModule reads the Kibana ML module in dir (its manifest.json; jobs and datafeeds are read
// when asked for, since a module may also hold jobs rarenet cannot run).
func LoadModule(dir string) (*Module, error) {
	m, err := loadModule(os.DirFS(dir), ".", dir)
	if err != nil {
		return nil, err
	}
	m.root = dir
	return m, nil
}

func loadModule(fsys fs.FS, dir, name string) (*Module, error) {
	file := path.Join(dir, "manifest.json")
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("job: module %s: %w", name, err)
	}
	var m manifestJSON
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("job: module %s: manifest.json: expected a Kibana ML module manifest (JSON object with jobs and datafeeds): %w", name, err)
	}
	if len(m.Jobs) == 0 {
		return nil, fmt.Errorf("job: module %s: manifest.json: jobs: expected at least one job", name)
	}
	for i, j := range m.Jobs {
		if j.ID == "" || j.File == "" {
			return nil, fmt.Errorf("job: module %s: manifest.json: jobs[%d]: expected an id and a file, got %+v", name, i, j)
		}
	}
	for i, d := range m.Datafeeds {
		if d.JobID == "" || d.File == "" {
			return nil, fmt.Errorf("job: module %s: manifest.json: datafeeds[%d]: expected a job_id and a file, got %+v", name, i, d)
		}
	}
	return &Module{ID: m.ID, Title: m.Title, Jobs: m.Jobs, Datafeeds: m.Datafeeds, fsys: fsys, dir: dir, name: name}, nil
}

// JobIDs lists the ids of the module's jobs, in the manifest's order.
func (m *Module) JobIDs() []string {
	ids := make([]string, len(m.Jobs))
	for i, j := range m.Jobs {
		ids[i] = j.ID
	}
	return ids
}

// Job reads the job of the given id; its ID is the manifest's.
func (m *Module) Job(id string) (Job, error) {
	i := slices.IndexFunc(m.Jobs, func(j ModuleJob) bool { return j.ID == id })
	if i < 0 {
		return Job{}, fmt.Errorf("%w: module %s has no job %q (it has %s)", ErrNoSuchJob, m.name, id, strings.Join(m.JobIDs(), ", "))
	}
	file := path.Join(m.dir, "ml", m.Jobs[i].File)
	b, err := fs.ReadFile(m.fsys, file)
	if err != nil {
		return Job{}, fmt.Errorf("job: module %s: job %s: %w", m.name, id, err)
	}
	j, err := ParseJob(b, m.display(file))
	if err != nil {
		return Job{}, err
	}
	j.ID = id
	return j, nil
}

// Datafeed reads the datafeed of the job of the given id.
func (m *Module) Datafeed(jobID string) (Datafeed, error) {
	i := slices.IndexFunc(m.Datafeeds, func(d ModuleDatafeed) bool { return d.JobID == jobID })
	if i < 0 {
		return Datafeed{}, fmt.Errorf("%w: module %s has no datafeed for job %q", ErrNoSuchJob, m.name, jobID)
	}
	file := path.Join(m.dir, "ml", m.Datafeeds[i].File)
	b, err := fs.ReadFile(m.fsys, file)
	if err != nil {
		return Datafeed{}, fmt.Errorf("job: module %s: datafeed of %s: %w", m.name, jobID, err)
	}
	d, err := ParseDatafeed(b, m.display(file))
	if err != nil {
		return Datafeed{}, err
	}
	d.JobID = jobID
	return d, nil
}

// DatafeedPath is the path on disk of the datafeed file of the job of the given id, for a
// module LoadModule read.
func (m *Module) DatafeedPath(jobID string) (string, error) {
	i := slices.IndexFunc(m.Datafeeds, func(d ModuleDatafeed) bool { return d.JobID == jobID })
	switch {
	case i < 0:
		return "", fmt.Errorf("%w: module %s has no datafeed for job %q", ErrNoSuchJob, m.name, jobID)
	case m.root == "":
		return "", fmt.Errorf("job: module %s is not a folder on disk", m.name)
	}
	return filepath.Join(m.root, "ml", m.Datafeeds[i].File), nil
}

// display names a file of the module in messages as the user would find it.
func (m *Module) display(file string) string {
	if m.name == "" {
		return file
	}
	rel, _ := strings.CutPrefix(file, m.dir+"/")
	if m.dir == "." {
		rel = file
	}
	return path.Join(m.name, rel)
}

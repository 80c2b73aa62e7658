package job

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

// builtins holds, in Kibana's module layout, every job the rule "Unusual Linux Network
// Activity" has named, with its datafeed: written by rarenet from the facts of Kibana's
// modules siem_auditbeat and security_linux (see docs/differences.md for the files and
// commits read).
//
//go:embed builtin
var builtins embed.FS

// The ids of the built-in jobs: every job the rule has named.
const (
	// JobV1 is the job of stack 7.7 (siem_auditbeat module, Auditbeat).
	JobV1 = "linux_anomalous_network_activity_ecs"
	// JobV3 is the job of 8.3 to 9.3 (security_linux module: Auditbeat, Auditd Manager,
	// Elastic Defend).
	JobV3 = "v3_linux_anomalous_network_activity"
	// JobV3EA is the job of 9.4 on: JobV3 with the entity analytics influencers (host.id,
	// user.id, event.module). The rule names it today.
	JobV3EA = "v3_linux_anomalous_network_activity_ea"
)

// Names of built-in datafeeds, for --datafeed: each also answers to its job's id.
const (
	BuiltinV1 = "v1" // the datafeed of JobV1
	BuiltinV3 = "v3" // the datafeed of JobV3, newest copy
)

// builtinModule names the module folder of each built-in job.
var builtinModule = map[string]string{JobV1: "siem_auditbeat", JobV3: "security_linux", JobV3EA: "security_linux"}

// BuiltinJobIDs lists the built-in jobs' ids, oldest first.
func BuiltinJobIDs() []string { return []string{JobV1, JobV3, JobV3EA} }

// BuiltinJob returns a built-in job and its datafeed by the job's id.
func BuiltinJob(id string) (Job, Datafeed, error) {
	dir, ok := builtinModule[id]
	if !ok {
		return Job{}, Datafeed{}, fmt.Errorf("%w: %q is not a built-in job (built in: %s)", ErrNoSuchJob, id, strings.Join(BuiltinJobIDs(), ", "))
	}
	m, err := BuiltinModule(dir)
	if err != nil {
		return Job{}, Datafeed{}, err
	}
	j, err := m.Job(id)
	if err != nil {
		return Job{}, Datafeed{}, err
	}
	d, err := m.Datafeed(id)
	return j, d, err
}

// BuiltinModule returns a built-in module: siem_auditbeat or security_linux.
func BuiltinModule(name string) (*Module, error) {
	sub, err := BuiltinFS()
	if err != nil {
		return nil, err
	}
	return loadModule(sub, name, "built-in "+name)
}

// Builtin returns a built-in job and its datafeed by datafeed name (v1, v3) or job id.
func Builtin(name string) (Job, Datafeed, error) {
	switch name {
	case BuiltinV1:
		name = JobV1
	case BuiltinV3:
		name = JobV3
	}
	return BuiltinJob(name)
}

// BuiltinFS is the built-in modules' folder (siem_auditbeat/, security_linux/), in Kibana's
// layout, for tests and tools that copy it.
func BuiltinFS() (fs.FS, error) { return fs.Sub(builtins, "builtin") }

package sense

import (
	"strconv"
	"time"
)

// ECS values of the sensor's events.
const (
	Module    = "rarenet_sense"
	Dataset   = "rarenet_sense.connect"
	AgentType = "rarenet-sense"
)

// document is one connect as ECS: the fields the ECS decoder reads (as `rarenet collect`
// and Auditbeat write them), plus what only a kernel hook knows (thread id, container,
// cgroup, network namespace, the error) for whoever reads rarenet.raw.ecs itself.
type document struct {
	Timestamp   time.Time  `json:"@timestamp"`
	Event       docEvent   `json:"event"`
	Agent       docAgent   `json:"agent"`
	Host        docHost    `json:"host"`
	Process     docProcess `json:"process"`
	User        docUser    `json:"user,omitzero"`
	Group       docGroup   `json:"group,omitzero"`
	Source      docAddr    `json:"source,omitzero"`
	Destination docAddr    `json:"destination"`
	Network     docNetwork `json:"network"`
	Container   docID      `json:"container,omitzero"`
	Error       docError   `json:"error,omitzero"`
	Rarenet     docRarenet `json:"rarenet"`
}

type docEvent struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Action   string   `json:"action"`
	Outcome  string   `json:"outcome"`
	Module   string   `json:"module"`
	Dataset  string   `json:"dataset"`
}

type docAgent struct {
	Type string `json:"type"`
}

type docHost struct {
	Name string `json:"name,omitempty"`
	OS   docOS  `json:"os"`
}

type docOS struct {
	Type string `json:"type"`
}

type docProcess struct {
	Name             string    `json:"name"`
	PID              uint32    `json:"pid"`
	Thread           docThread `json:"thread"`
	Executable       string    `json:"executable,omitempty"`
	Args             []string  `json:"args,omitempty"`
	WorkingDirectory string    `json:"working_directory,omitempty"`
	Parent           docParent `json:"parent,omitzero"`
}

type docThread struct {
	ID uint32 `json:"id"`
}

type docParent struct {
	PID uint32 `json:"pid,omitempty"`
}

type docUser struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type docGroup struct {
	ID string `json:"id"`
}

type docAddr struct {
	IP   string `json:"ip,omitempty"`
	Port uint16 `json:"port,omitempty"`
}

type docNetwork struct {
	Type      string `json:"type"`
	Transport string `json:"transport,omitempty"`
	Direction string `json:"direction"`
	Family    string `json:"family"`
}

type docID struct {
	ID string `json:"id,omitempty"`
}

type docError struct {
	Code string `json:"code,omitempty"`
}

// docRarenet holds the sensor's own fields, under rarenet.sense.
type docRarenet struct {
	Sense docSense `json:"sense"`
}

type docSense struct {
	Probe    string `json:"probe"`
	Hook     string `json:"hook"`
	Result   int32  `json:"result"`
	CgroupID uint64 `json:"cgroup_id,omitempty"`
	NetNS    uint32 `json:"netns,omitempty"`
}

// newDocument builds the ECS document of r.
func newDocument(r *Record, at time.Time, host, probe, userName string, p *process) document {
	netType, family := "ipv4", "inet"
	if r.Family == afInet6 {
		netType, family = "ipv6", "inet6"
	}
	d := document{
		Timestamp: at.UTC(),
		Event: docEvent{
			Kind: "event", Category: []string{"network"}, Type: []string{"connection", "start"},
			Action: "connected-to", Outcome: r.Outcome(), Module: Module, Dataset: Dataset,
		},
		Agent: docAgent{Type: AgentType},
		Host:  docHost{Name: host, OS: docOS{Type: "linux"}},
		Process: docProcess{
			Name: r.Comm, PID: r.TGID, Thread: docThread{ID: r.PID},
			Executable: p.exe, Args: p.args, WorkingDirectory: p.cwd,
			Parent: docParent{PID: r.PPID},
		},
		User:        docUser{ID: strconv.FormatUint(uint64(r.UID), 10), Name: userName},
		Group:       docGroup{ID: strconv.FormatUint(uint64(r.GID), 10)},
		Destination: docAddr{IP: r.Dest.Addr().Unmap().String(), Port: r.Dest.Port()},
		Network:     docNetwork{Type: netType, Transport: r.Transport(), Direction: "egress", Family: family},
		Container:   docID{ID: p.container},
		Error:       docError{Code: r.Errno()},
		Rarenet: docRarenet{Sense: docSense{
			Probe: probe, Hook: r.HookName(), Result: r.Ret, CgroupID: r.CgroupID, NetNS: r.NetNS,
		}},
	}
	if src := r.Source.Addr().Unmap(); src.IsValid() && !src.IsUnspecified() || r.Source.Port() != 0 {
		d.Source = docAddr{Port: r.Source.Port()}
		if src.IsValid() && !src.IsUnspecified() {
			d.Source.IP = src.String()
		}
	}
	return d
}

// Package event defines the normalized network event that every input format is decoded
// into: one ECS-shaped document per outbound connection attempt, whatever the sensor.
//
// Field names follow the Elastic Common Schema so that the job's datafeed filter, the
// influencers and the signal documents use the names security teams already know.
package event

import (
	"slices"
	"strconv"
	"time"
)

// Event is one outbound network connection attempt by a Linux process.
type Event struct {
	Timestamp   time.Time `json:"@timestamp"`
	Event       Meta      `json:"event"`
	Agent       Agent     `json:"agent,omitzero"`
	Host        Host      `json:"host,omitzero"`
	Process     Process   `json:"process,omitzero"`
	User        User      `json:"user,omitzero"`
	Source      Endpoint  `json:"source,omitzero"`
	Destination Endpoint  `json:"destination,omitzero"`
	Network     Network   `json:"network,omitzero"`
	// Origin says where the event was read from, for explanations and dead letters.
	Origin Origin `json:"rarenet,omitzero"`
}

// Meta is the ECS event.* group.
type Meta struct {
	Kind     string   `json:"kind,omitempty"`
	Category []string `json:"category,omitempty"`
	Type     []string `json:"type,omitempty"`
	Action   string   `json:"action,omitempty"`
	Outcome  string   `json:"outcome,omitempty"`
	Module   string   `json:"module,omitempty"`
	Dataset  string   `json:"dataset,omitempty"`
}

// Agent is the ECS agent.* group: the shipper that wrote the event.
type Agent struct {
	Type string `json:"type,omitempty"`
}

// Host is the ECS host.* group.
type Host struct {
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
	OS   OS     `json:"os,omitzero"`
}

// OS is the ECS host.os.* group.
type OS struct {
	Type   string `json:"type,omitempty"`
	Family string `json:"family,omitempty"`
}

// Process is the ECS process.* group. Name is the kernel's comm where the source is
// auditd (at most 15 bytes), which is what the reference job models.
type Process struct {
	Name             string   `json:"name,omitempty"`
	PID              int64    `json:"pid,omitempty"`
	Executable       string   `json:"executable,omitempty"`
	Args             []string `json:"args,omitempty"`
	Title            string   `json:"title,omitempty"`
	WorkingDirectory string   `json:"working_directory,omitempty"`
	Parent           Parent   `json:"parent,omitzero"`
}

// Parent is the ECS process.parent.* group.
type Parent struct {
	PID int64 `json:"pid,omitempty"`
}

// User is the ECS user.* group. A raw audit log read away from its host carries only the
// numeric id unless a name map is given.
type User struct {
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
}

// Endpoint is the ECS source.* or destination.* group.
type Endpoint struct {
	IP   string `json:"ip,omitempty"`
	Port int    `json:"port,omitempty"`
	// Path is set for AF_UNIX sockets, which are not network activity but are kept so
	// `normalize --all` can say why they were filtered.
	Path string `json:"path,omitempty"`
}

// Network is the ECS network.* group. Type is ipv4 or ipv6; Family keeps the socket
// address family name (inet, inet6, unix, netlink) for sources that report it.
type Network struct {
	Type      string `json:"type,omitempty"`
	Transport string `json:"transport,omitempty"`
	Direction string `json:"direction,omitempty"`
	Family    string `json:"family,omitempty"`
}

// Origin records where an event came from: the input, its position, and, when the datafeed
// filter dropped it, why.
type Origin struct {
	Source   string `json:"source,omitempty"`
	Line     int64  `json:"line,omitempty"`
	Format   string `json:"format,omitempty"`
	Filtered string `json:"filtered,omitempty"`
	// AuthSource is the source that vouched for the event: the name of the HTTP token it was
	// posted with, or of the source its raw subject names (rarenet.raw.<format>.<source>, a
	// subject the NATS accounts give to that source's user alone). Source says the same for
	// such input, but any publisher may write any Source in a header; AuthSource is set only
	// by ingest, from the subject. Empty for input that proves nothing of its sender (files
	// replayed, rarenet.raw.<format>).
	AuthSource string `json:"auth_source,omitempty"`
}

// Clone returns a deep copy of e: decoders reuse their events, so a receiver that keeps one
// beyond the call that delivered it keeps a clone.
func (e *Event) Clone() *Event {
	c := *e
	c.Event.Category = slices.Clone(e.Event.Category)
	c.Event.Type = slices.Clone(e.Event.Type)
	c.Process.Args = slices.Clone(e.Process.Args)
	return &c
}

// Field returns the value of a keyword field by its ECS name, for the datafeed filter and
// the influencers. Unknown names give "".
func (e *Event) Field(name string) string {
	switch name {
	case "process.name":
		return e.Process.Name
	case "host.name":
		return e.Host.Name
	case "host.id":
		return e.Host.ID
	case "host.os.type":
		return e.Host.OS.Type
	case "host.os.family", "os.family":
		return e.Host.OS.Family
	case "user.name":
		return e.User.Name
	case "user.id":
		return e.User.ID
	case "destination.ip":
		return e.Destination.IP
	case "destination.port":
		if e.Destination.Port == 0 {
			return ""
		}
		return strconv.Itoa(e.Destination.Port)
	case "event.action":
		return e.Event.Action
	case "event.module":
		return e.Event.Module
	case "event.dataset":
		return e.Event.Dataset
	case "event.outcome":
		return e.Event.Outcome
	case "agent.type":
		return e.Agent.Type
	case "process.executable":
		return e.Process.Executable
	case "network.type":
		return e.Network.Type
	case "network.transport":
		return e.Network.Transport
	}
	return ""
}

// FieldValues returns every value of a field, so array fields such as event.category can be
// matched by a term query the way Elasticsearch matches them.
func (e *Event) FieldValues(name string) []string {
	switch name {
	case "event.category":
		return e.Event.Category
	case "event.type":
		return e.Event.Type
	case "process.args":
		return e.Process.Args
	}
	if v := e.Field(name); v != "" {
		return []string{v}
	}
	return nil
}

// Connection returns the event.* group of an outbound connection attempt as every decoder
// writes it: kind event, category network, type connection and start (which both the v1 and
// the v3 datafeed vocabularies recognise), with the source's own action. Each call returns
// fresh slices, so events never share them.
func Connection(action string) Meta {
	return Meta{Kind: "event", Category: []string{"network"}, Type: []string{"connection", "start"}, Action: action}
}

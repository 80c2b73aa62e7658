package tetragon

import "github.com/rarenet/rarenet/services/ingest/format/internal/field"

// envelope is one line of the export: exactly one event kind is set, with the node and
// time. Numbers are field.Values because protojson writes 64-bit integers as strings.
type envelope struct {
	ProcessConnect *connect `json:"process_connect"`
	ProcessKprobe  *kprobe  `json:"process_kprobe"`
	NodeName       string   `json:"node_name"`
	Time           string   `json:"time"`
}

// process is Tetragon's Process message, the fields the event needs.
type process struct {
	PID       field.Value `json:"pid"`
	UID       field.Value `json:"uid"`
	CWD       string      `json:"cwd"`
	Binary    string      `json:"binary"`
	Arguments string      `json:"arguments"`
}

// connect is the legacy process_connect event.
type connect struct {
	Process         process     `json:"process"`
	Parent          process     `json:"parent"`
	SourceIP        field.Value `json:"source_ip"`
	SourcePort      field.Value `json:"source_port"`
	DestinationIP   field.Value `json:"destination_ip"`
	DestinationPort field.Value `json:"destination_port"`
	Protocol        string      `json:"protocol"`
}

// kprobe is a process_kprobe event; only tcp_connect ones are read.
type kprobe struct {
	Process      process     `json:"process"`
	Parent       process     `json:"parent"`
	FunctionName string      `json:"function_name"`
	Args         []kprobeArg `json:"args"`
}

// kprobeArg is one argument of a kprobe; only sock_arg matters here.
type kprobeArg struct {
	SockArg *sockArg `json:"sock_arg"`
}

// sockArg is Tetragon's KprobeSock: the socket of a tcp_connect call.
type sockArg struct {
	Family   string      `json:"family"`
	Protocol string      `json:"protocol"`
	Saddr    field.Value `json:"saddr"`
	Daddr    field.Value `json:"daddr"`
	Sport    field.Value `json:"sport"`
	Dport    field.Value `json:"dport"`
}

package ecs

import (
	"slices"
	"strings"
)

// field numbers the ECS fields the decoder reads, in the order the mapping evaluates them:
// the first type error in that order is the one a reject names.
type field uint8

const (
	fTimestamp field = iota
	fEventKind
	fEventCategory
	fEventType
	fEventAction
	fEventOutcome
	fEventModule
	fEventDataset
	fAgentType
	fHostName
	fHostID
	fHostOSType
	fHostOSFamily
	fProcessName
	fProcessPID
	fProcessExecutable
	fProcessArgs
	fProcessTitle
	fProcessWorkingDirectory
	fProcessParentPID
	fUserName
	fUserID
	fSourceIP
	fSourcePort
	fDestinationIP
	fDestinationPort
	fNetworkType
	fNetworkTransport
	fNetworkDirection
	fProcessPPID // Auditbeat 7.x's spelling of the parent's pid
	numFields
)

// fieldNames are the dotted ECS names of the fields, by field.
var fieldNames = [numFields]string{
	fTimestamp:               "@timestamp",
	fEventKind:               "event.kind",
	fEventCategory:           "event.category",
	fEventType:               "event.type",
	fEventAction:             "event.action",
	fEventOutcome:            "event.outcome",
	fEventModule:             "event.module",
	fEventDataset:            "event.dataset",
	fAgentType:               "agent.type",
	fHostName:                "host.name",
	fHostID:                  "host.id",
	fHostOSType:              "host.os.type",
	fHostOSFamily:            "host.os.family",
	fProcessName:             "process.name",
	fProcessPID:              "process.pid",
	fProcessExecutable:       "process.executable",
	fProcessArgs:             "process.args",
	fProcessTitle:            "process.title",
	fProcessWorkingDirectory: "process.working_directory",
	fProcessParentPID:        "process.parent.pid",
	fUserName:                "user.name",
	fUserID:                  "user.id",
	fSourceIP:                "source.ip",
	fSourcePort:              "source.port",
	fDestinationIP:           "destination.ip",
	fDestinationPort:         "destination.port",
	fNetworkType:             "network.type",
	fNetworkTransport:        "network.transport",
	fNetworkDirection:        "network.direction",
	fProcessPPID:             "process.ppid",
}

// node is one segment of the field names' tree: the root, a group such as process or
// process.parent, or a field.
type node struct {
	name     string  // the segment
	depth    uint8   // segments from the root to this node
	field    int8    // the field this node names, or -1 for a group
	children []uint8 // indexes in fieldTree.nodes
	// slots finds a child by a hash of its name: slots[slot(seg, seed)] is the child's
	// index plus one, or 0. The seed is chosen so that no two children share a slot.
	slots [1 << slotBits]uint8
	seed  uint32
}

const slotBits = 5

// slot hashes a segment's length and first and last bytes (Fibonacci hashing).
func slot(seg []byte, seed uint32) int {
	x := uint32(len(seg))<<16 | uint32(seg[0])<<8 | uint32(seg[len(seg)-1])
	return int(((x ^ seed) * 0x9E3779B1) >> (32 - slotBits))
}

// fieldTree is the tree of the field names' segments. It is built once and only read.
type fieldTree struct {
	nodes []node
}

// maxNodes bounds the tree so a node set fits a uint64 (see walker.object).
const maxNodes = 64

// tree holds the fields the decoder reads; immutable after package initialisation.
var tree = newFieldTree(fieldNames[:])

func newFieldTree(names []string) *fieldTree {
	t := &fieldTree{nodes: []node{{field: -1}}}
	for f, name := range names {
		n := 0
		for seg := range strings.SplitSeq(name, ".") {
			c := slices.IndexFunc(t.nodes[n].children, func(c uint8) bool { return t.nodes[c].name == seg })
			if c >= 0 {
				c = int(t.nodes[n].children[c])
			} else {
				c = len(t.nodes)
				t.nodes = append(t.nodes, node{name: seg, depth: t.nodes[n].depth + 1, field: -1})
				t.nodes[n].children = append(t.nodes[n].children, uint8(c))
			}
			n = c
		}
		t.nodes[n].field = int8(f)
	}
	if len(t.nodes) > maxNodes {
		panic("ecs: too many field name segments for a uint64 node set")
	}
	for i := range t.nodes {
		t.nodes[i].hashChildren(t.nodes)
	}
	return t
}

// hashChildren fills n's slots, trying seeds until its children's names land apart.
func (n *node) hashChildren(nodes []node) {
	for seed := uint32(0); seed < 1<<16; seed++ {
		n.slots, n.seed = [1 << slotBits]uint8{}, seed
		clash := false
		for _, c := range n.children {
			s := slot([]byte(nodes[c].name), n.seed)
			clash = clash || n.slots[s] != 0
			n.slots[s] = c + 1
		}
		if !clash {
			return
		}
	}
	panic("ecs: no seed separates the children of " + n.name)
}

// child returns the child of node n named seg, or -1.
func (t *fieldTree) child(n int, seg []byte) int {
	if len(seg) == 0 {
		return -1
	}
	nd := &t.nodes[n]
	c := int(nd.slots[slot(seg, nd.seed)]) - 1
	if c < 0 || t.nodes[c].name != string(seg) {
		return -1
	}
	return c
}

// resolve follows a key, which may itself be dotted, from node n: the node it names, or -1
// when no field lies under it. A key with an empty segment ("a..b", ".a") names nothing, as
// no field name has one. Most keys are one segment, so the whole key is tried as a child
// first; segment names have no dots, so a dotted key never matches there.
func (t *fieldTree) resolve(n int, key []byte) int {
	if c := t.child(n, key); c >= 0 {
		return c
	}
	start := 0
	for i, c := range key {
		if c == '.' {
			if n = t.child(n, key[start:i]); n < 0 {
				return -1
			}
			start = i + 1
		}
	}
	if start == 0 {
		return -1 // no dot: the child lookup above was the only one
	}
	return t.child(n, key[start:])
}

// A spelling says which dots of a field name were crossed as nested objects rather than
// written inside a key: bit i stands for the dot after the name's (i+1)-th segment. So
// {"process.parent.pid":1} is 0b00, {"process":{"parent":{"pid":1}}} 0b11 and
// {"process.parent":{"pid":1}} 0b10.
type spelling uint8

// precedes reports whether spelling a wins over b under the rule lookup has always had:
// the whole key first, then the shorter prefix as an object before longer ones,
// recursively. Equivalently: compare the spellings as ascending lists of the dots crossed
// as objects, lexicographically, a list before its extensions. At the lowest dot where
// they differ, the spelling that crosses it wins unless the other crosses no later dot
// (then the other is a prefix of it).
func (a spelling) precedes(b spelling) bool {
	diff := a ^ b
	if diff == 0 {
		return false
	}
	low := diff & -diff
	with, without := a, b
	if a&low == 0 {
		with, without = b, a
	}
	laterInWithout := without&^(low|(low-1)) != 0
	return (with == a) == laterInWithout
}

// Package datafeed is the job's datafeed filter: which normalized events the rare model sees.
// It is a small bool query (must, must_not, should) of term clauses, the subset of the
// Elasticsearch query DSL that the reference datafeeds use.
package datafeed

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rarenet/rarenet/shared/event"
)

// Clause matches an event. Term clauses match when the field holds any of the values;
// Any clauses (a bool should) match when one of their clauses does, All clauses (a nested
// bool must) when all of them do.
type Clause struct {
	Field  string
	Values []string
	Any    []Clause
	All    []Clause
}

// Term is a term (or terms) query on a keyword field.
func Term(field string, values ...string) Clause { return Clause{Field: field, Values: values} }

// AnyOf is a bool query whose should clauses need one match.
func AnyOf(cs ...Clause) Clause { return Clause{Any: cs} }

// AllOf is a bool query whose must clauses all need to match.
func AllOf(cs ...Clause) Clause { return Clause{All: cs} }

func (c Clause) match(ev *event.Event) bool {
	if c.Any != nil {
		return slices.ContainsFunc(c.Any, func(s Clause) bool { return s.match(ev) })
	}
	if c.All != nil {
		return !slices.ContainsFunc(c.All, func(s Clause) bool { return !s.match(ev) })
	}
	return slices.ContainsFunc(c.Values, func(v string) bool { return ev.HasValue(c.Field, v) })
}

func (c Clause) String() string {
	if c.Any != nil || c.All != nil {
		sub, sep := c.Any, " or "
		if c.All != nil {
			sub, sep = c.All, " and "
		}
		parts := make([]string, len(sub))
		for i, s := range sub {
			parts[i] = s.String()
		}
		return "(" + strings.Join(parts, sep) + ")"
	}
	if len(c.Values) == 1 {
		return c.Field + ": " + c.Values[0]
	}
	return c.Field + ": [" + strings.Join(c.Values, ", ") + "]"
}

// Filter is a datafeed query plus the job's by-field: the reference's rare detector ignores
// documents without it.
type Filter struct {
	Name    string
	Must    []Clause
	MustNot []Clause
	// ByField is the detector's by_field_name; events without it are dropped.
	ByField string
	// NotNetwork drops connects that are not network activity (AF_UNIX, netlink) and all
	// loopback and unspecified destinations, not only the reference's listed addresses.
	// rarenet's deliberate difference from the reference, on by default.
	NotNetwork bool
}

// Reason returns why the filter drops ev, or "" when ev passes.
func (f *Filter) Reason(ev *event.Event) string {
	if f.ByField != "" && ev.Field(f.ByField) == "" {
		return "no " + f.ByField + " (the rare detector ignores documents without its by-field)"
	}
	for _, c := range f.Must {
		if !c.match(ev) {
			return "datafeed " + f.Name + ": does not match must " + c.String()
		}
	}
	for _, c := range f.MustNot {
		if c.match(ev) {
			return "datafeed " + f.Name + ": matches must_not " + c.String()
		}
	}
	if f.NotNetwork {
		if r := notNetwork(ev); r != "" {
			return r
		}
	}
	return ""
}

// notNetwork explains why an event that passed the query is still not network activity.
func notNetwork(ev *event.Event) string {
	switch ev.Network.Family {
	case "unix", "netlink":
		return fmt.Sprintf("not network activity: %s socket", ev.Network.Family)
	}
	ip := ev.Destination.IP
	if ip == "" {
		return "not network activity: no destination.ip"
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return fmt.Sprintf("destination.ip %q is not an IP address", ip)
	}
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "not network activity: loopback destination " + ip
	case a.IsUnspecified():
		return "not network activity: unspecified destination " + ip
	}
	return ""
}

// Reference exclusions, from the prebuilt jobs' datafeeds (see docs/reference-elastic.md).
var (
	v1Loopback = []string{"127.0.0.1", "127.0.0.53", "::1"}
	v3Loopback = []string{"127.0.0.1", "127.0.0.53", "::", "::1"}
	agents     = []string{"elastic-agent", "metricbeat", "filebeat", "packetbeat", "winlogbeat"}
)

// V1 is the datafeed of linux_anomalous_network_activity_ecs (stack 7.7, Auditbeat), as
// shipped.
func V1() Filter {
	return Filter{
		Name:    "v1",
		Must:    []Clause{Term("event.action", "connected-to"), Term("agent.type", "auditbeat")},
		MustNot: []Clause{Term("destination.ip", v1Loopback...)},
		ByField: "process.name",
	}
}

// V3 is the datafeed of v3_linux_anomalous_network_activity (Auditbeat, Auditd Manager,
// Elastic Defend), newest copy, as shipped.
func V3() Filter {
	return Filter{
		Name: "v3",
		Must: []Clause{
			Term("event.category", "network"),
			Term("event.type", "start"),
			AnyOf(Term("host.os.type", "linux"), Term("host.os.family", "debian", "redhat", "suse", "ubuntu")),
		},
		MustNot: []Clause{
			Term("destination.ip", v3Loopback...),
			Term("user.name", "jenkins"),
			Term("process.name", agents...),
		},
		ByField: "process.name",
	}
}

// Default is rarenet's datafeed: network connections in either generation's vocabulary
// (v1's event.action, v3's event.category/event.type), with v3's exclusions, and with
// non-network sockets, all loopback and unspecified destinations dropped. It takes raw
// auditd, which has no agent.type, and ECS from any of the reference's shippers.
func Default() Filter {
	v3 := V3()
	return Filter{
		Name: "rarenet",
		Must: []Clause{AnyOf(
			Term("event.action", "connected-to", "connection_attempted"),
			AllOf(Term("event.category", "network"), Term("event.type", "start")),
		)},
		MustNot:    v3.MustNot,
		ByField:    "process.name",
		NotNetwork: true,
	}
}

// ByName returns a built-in filter: "rarenet" (default), "v1" or "v3".
func ByName(name string) (Filter, error) {
	switch name {
	case "", "rarenet", "default":
		return Default(), nil
	case "v1":
		return V1(), nil
	case "v3":
		return V3(), nil
	}
	return Filter{}, fmt.Errorf("datafeed: unknown filter %q (want rarenet, v1 or v3)", name)
}

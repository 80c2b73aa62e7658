// Package datafeed is the job's datafeed filter: which normalized events the rare model sees.
// The query is the datafeed's, in Elastic's query DSL (query.go); the filter adds the
// detector's by-field and, in rarenet's own datafeed, what is not network activity.
package datafeed

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/job"
)

// Filter is a datafeed query plus the job's by-field: the reference's rare detector ignores
// documents without it.
type Filter struct {
	Name  string
	Query Query
	// ByField is the detector's by_field_name; events without it are dropped.
	ByField string
	// NotNetwork drops connects that are not network activity (AF_UNIX, netlink, no
	// destination address) and all loopback and unspecified destinations, not only the
	// reference's listed addresses. rarenet's deliberate difference from the reference, on by
	// default.
	NotNetwork bool

	match *Matcher // Query compiled, on first use
	// lastNetwork is the last destination address found to be network activity: events of
	// a batch share theirs, and parsing it each time was a tenth of ingest's work.
	lastNetwork string
}

// Drops reports whether the filter drops ev; Reason says why. It builds no string, so the
// ingest stage, which only counts what is dropped, does not pay for the explanations (they
// were a twentieth of a replay's CPU). It compiles the query on first use, so a Filter is not
// safe for concurrent use.
func (f *Filter) Drops(ev *event.Event) bool { return f.check(ev) != kept }

// Reason returns why the filter drops ev, or "" when ev passes.
func (f *Filter) Reason(ev *event.Event) string {
	switch f.check(ev) {
	case kept:
		return ""
	case noByField:
		return "no " + f.ByField + " (the rare detector ignores documents without its by-field)"
	case queryMiss:
		return "datafeed " + f.Name + ": " + f.Query.Explain(ev)
	case socketFamily:
		return fmt.Sprintf("not network activity: %s socket", ev.Network.Family)
	case noDestination:
		return "not network activity: no destination.ip"
	case badDestination:
		return fmt.Sprintf("destination.ip %q is not an IP address", ev.Destination.IP)
	case loopback:
		return "not network activity: loopback destination " + ev.Destination.IP
	default: // unspecified
		return "not network activity: unspecified destination " + ev.Destination.IP
	}
}

// verdict is what check found: kept, or why the event is dropped.
type verdict uint8

const (
	kept verdict = iota
	noByField
	queryMiss
	socketFamily
	noDestination
	badDestination
	loopback
	unspecified
)

func (f *Filter) check(ev *event.Event) verdict {
	if f.ByField != "" && ev.Field(f.ByField) == "" {
		return noByField
	}
	if f.match == nil {
		f.match = f.Query.Compile()
	}
	// The compiled query answers without allocating; only a dropped event is explained.
	if !f.match.Match(ev) {
		return queryMiss
	}
	if f.NotNetwork {
		// Past the socket family, the answer depends on the address alone.
		if fam := ev.Network.Family; fam != "unix" && fam != "netlink" && ev.Destination.IP != "" && ev.Destination.IP == f.lastNetwork {
			return kept // the destination of an event before, which was network activity
		}
		v := notNetwork(ev)
		if v == kept {
			f.lastNetwork = ev.Destination.IP
		}
		return v
	}
	return kept
}

// notNetwork tells why an event that passed the query is still not network activity.
func notNetwork(ev *event.Event) verdict {
	switch ev.Network.Family {
	case "unix", "netlink":
		return socketFamily
	}
	ip := ev.Destination.IP
	if ip == "" {
		return noDestination
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return badDestination
	}
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return loopback
	case a.IsUnspecified():
		return unspecified
	}
	return kept
}

// FromJob is the filter of a job's datafeed, as shipped.
func FromJob(name string, j job.Job, d job.Datafeed) (Filter, error) {
	return fromFeed(name, j.ByField, d)
}

// fromFeed is the filter of datafeed d for a detector by byField. A datafeed without a query
// matches every document; errors name the datafeed's file.
func fromFeed(name, byField string, d job.Datafeed) (Filter, error) {
	q := Query{All: true}
	if len(d.Query) > 0 {
		var err error
		if q, err = ParseQuery(d.Query); err != nil {
			return Filter{}, fmt.Errorf("%s: %w", d.Source, err)
		}
	}
	return Filter{Name: name, Query: q, ByField: byField}, nil
}

// builtin is a built-in filter; the built-ins are embedded and tested, so an error panics.
func builtin(name string) Filter {
	j, d, err := job.Builtin(name)
	if err != nil {
		panic(err)
	}
	f, err := FromJob(name, j, d)
	if err != nil {
		panic(err)
	}
	return f
}

// V1 is the datafeed of linux_anomalous_network_activity_ecs (stack 7.7, Auditbeat), as
// shipped.
func V1() Filter { return builtin(job.BuiltinV1) }

// V3 is the datafeed of v3_linux_anomalous_network_activity (Auditbeat, Auditd Manager,
// Elastic Defend), newest copy, as shipped.
func V3() Filter { return builtin(job.BuiltinV3) }

// Default is rarenet's datafeed: network connections in either generation's vocabulary
// (v1's event.action, v3's event.category/event.type) on Linux hosts as v3 tells them, with
// v3's exclusions, and with non-network sockets, all loopback and unspecified destinations
// dropped. It takes raw auditd, which has no agent.type, and ECS from any of the reference's
// shippers; Elastic Defend's Windows and macOS connects stay out of the Linux model.
func Default() Filter {
	v3 := V3()
	return Filter{
		Name: "rarenet",
		Query: Query{
			Must: []Query{
				AnyOf(
					Term("event.action", "connected-to", "connection_attempted"),
					AllOf(Term("event.category", "network"), Term("event.type", "start")),
				),
				linuxHosts(v3.Query),
			},
			MustNot: v3.Query.MustNot,
		},
		ByField:    "process.name",
		NotNetwork: true,
	}
}

// linuxHosts is the clause of the v3 datafeed, as shipped, that keeps Linux hosts
// (host.os.type linux, or one of the Linux host.os.family values).
func linuxHosts(v3 Query) Query {
	for _, c := range v3.Must {
		if strings.Contains(c.String(), "host.os.type") {
			return c
		}
	}
	panic("datafeed: the built-in v3 datafeed has no host.os clause") // embedded and tested
}

// ByName returns a built-in filter: "rarenet" (default), "v1", "v3", or the id of a
// built-in job (its datafeed as shipped).
func ByName(name string) (Filter, error) {
	switch name {
	case "", "rarenet", "default":
		return Default(), nil
	}
	j, d, err := job.Builtin(name)
	if err != nil {
		return Filter{}, fmt.Errorf("datafeed: unknown filter %q (want rarenet, v1, v3 or a built-in job: %s)",
			name, strings.Join(job.BuiltinJobIDs(), ", "))
	}
	return FromJob(name, j, d)
}

// Load returns the filter of a datafeed file in Elastic's layout, for a job whose detector is
// by byField.
func Load(path, byField string) (Filter, error) {
	d, err := job.LoadDatafeed(path)
	if err != nil {
		return Filter{}, err
	}
	return fromFeed(path, byField, d)
}

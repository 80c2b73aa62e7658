package enricher

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// maxUsersBefore bounds the users listed as seen before.
const maxUsersBefore = 20

// Inputs is everything the context of a record is built from, gathered beforehand so that
// Build itself is a pure function of them.
type Inputs struct {
	// Entry and Fleet are the history (as stored, possibly ahead of the record: Build reads
	// it as of the record's bucket). A nil Fleet, or one that starts after the record's
	// bucket, means no history.
	Entry *Entry
	Fleet *Fleet
	// GeoIP may be nil; RDNS is nil when reverse DNS is off.
	GeoIP *GeoIP
	RDNS  map[string]record.ReverseDNS
	// Recurrence looks for the process recurring on each of the record's hosts, and doing
	// what it did on other hosts (enhanced profile; Entry.Runs must be kept).
	Recurrence bool
}

// Build assembles the record's context: destinations, users, history, processes, and why it
// fired. The same record and inputs always give the same context.
func Build(r *record.Record, in Inputs) *record.Context {
	c := &record.Context{}
	k := r.Timestamp
	hist := in.Fleet.Covers(k)
	entry := in.Entry
	if entry == nil {
		entry = &Entry{}
	}
	if d := Contextualize(r); d != nil {
		c.Destinations = d.Destinations
	}
	for i := range c.Destinations {
		d := &c.Destinations[i]
		// Only public addresses: the free databases hold rows for documentation ranges too
		// (ip-location-db's country database answers AU for 198.51.100.0/24).
		if d.IPClass == ClassPublic {
			d.AS, d.Geo = in.GeoIP.Lookup(d.IP)
		}
		if rd, ok := in.RDNS[d.IP]; ok {
			d.ReverseDNS = &rd
		}
		if !hist {
			continue
		}
		d.IPSeenBefore, d.IPFirstSeen = seenFlag(entry.IPs, d.IP, k)
		if d.Port > 0 {
			d.PortSeenBefore, d.PortFirstSeen = seenFlag(entry.Ports, strconv.Itoa(d.Port), k)
		}
	}
	hosts, users := recordHosts(r), recordUsers(r)
	if hist {
		c.Users = buildUsers(entry, users, k)
		c.History = buildHistory(entry, in.Fleet, hosts, k, time.Duration(r.BucketSpan)*time.Second)
		if in.Recurrence {
			c.History.Recurrence = RecogniseRecurrence(entry, recurrenceHosts(r, hosts), k, time.Duration(r.BucketSpan)*time.Second)
			c.History.Elsewhere = RecogniseElsewhere(entry, c, recurrenceHosts(r, hosts), k)
		}
	}
	c.Processes = Processes(r)
	c.Why = buildWhy(r, c, hosts)
	return c
}

func seenFlag(m map[string]*Seen, item string, k int64) (*bool, *time.Time) {
	s := seenBefore(m, item, k)
	seen := s != nil
	if !seen {
		return &seen, nil
	}
	t := msTime(s.First)
	return &seen, &t
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// recurrenceHosts are the hosts whose runs a record is about: a partitioned record's host,
// or all of the record's hosts.
func recurrenceHosts(r *record.Record, hosts []string) []string {
	if r.PartitionFieldName == "host.name" {
		return []string{r.PartitionFieldValue}
	}
	return hosts
}

// recordHosts are the record's hosts: its host.name influencer and its examples' hosts.
func recordHosts(r *record.Record) []string {
	var hs []string
	for _, inf := range r.Influencers {
		if inf.FieldName == "host.name" {
			hs = append(hs, inf.FieldValues...)
		}
	}
	for _, e := range r.Examples {
		if e.HostName != "" {
			hs = append(hs, e.HostName)
		}
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}

// recordUsers are the record's users, named as the history names them.
func recordUsers(r *record.Record) []string {
	var us []string
	for _, inf := range r.Influencers {
		if inf.FieldName == "user.name" {
			us = append(us, inf.FieldValues...)
		}
	}
	for _, e := range r.Examples {
		if u := userKey(e.UserName, e.UserID); u != "" {
			us = append(us, u)
		}
	}
	slices.Sort(us)
	return slices.Compact(us)
}

func buildUsers(e *Entry, current []string, k int64) *record.Users {
	u := &record.Users{Current: current, New: []string{}}
	if u.Current == nil {
		u.Current = []string{}
	}
	for _, name := range current {
		if seenBefore(e.Users, name, k) == nil {
			u.New = append(u.New, name)
		}
	}
	var before []string
	for name, s := range e.Users {
		if s.First < k {
			before = append(before, name)
		}
	}
	slices.SortFunc(before, func(a, b string) int {
		return cmp.Or(cmp.Compare(e.Users[b].Last, e.Users[a].Last), cmp.Compare(a, b))
	})
	u.BeforeCount = len(before)
	u.Before = before[:min(len(before), maxUsersBefore)]
	return u
}

func buildHistory(e *Entry, f *Fleet, hosts []string, k int64, span time.Duration) *record.History {
	h := &record.History{
		Since:          msTime(f.First),
		Buckets:        f.BucketsBefore(k),
		ActiveBuckets:  e.ActiveBefore(k),
		New:            !e.SeenBefore(k),
		HostCount:      countBefore(e.Hosts, k, hosts),
		FleetHostCount: countBefore(f.Hosts, k, hosts),
		Schedule:       RecogniseSchedule(e.runsThrough(k), span),
	}
	if !h.New {
		first, last := msTime(e.First), msTime(e.LastBefore(k))
		h.FirstSeen, h.LastSeen = &first, &last
	}
	for _, name := range hosts {
		hh := record.HostHistory{Name: name, New: true}
		if s := seenBefore(e.Hosts, name, k); s != nil {
			first := msTime(s.First)
			hh.New, hh.FirstSeen, hh.ActiveBuckets = false, &first, s.bucketsBefore(k)
		}
		hh.FirstSources, hh.NewSources = hostSources(e, f, name, k)
		h.Hosts = append(h.Hosts, hh)
	}
	sources, _ := e.sourcesBefore(k)
	for _, src := range sources {
		if src != unvouched {
			h.Sources = append(h.Sources, src)
		}
	}
	h.OnlySource = onlySource(e, f, k)
	return h
}

// buildWhy writes why the record fired, from the model and the context:
// "perl connected in 0 of 672 earlier buckets; first seen in this bucket on web-03; 1 of 24
// hosts; 185.220.101.47:443 (https), public, AS60729 Example, NL, never before".
func buildWhy(r *record.Record, c *record.Context, hosts []string) *record.Why {
	w := &record.Why{FirstOccurrence: r.Explanation.FirstOccurrence, Probability: r.Probability, RecordScore: r.RecordScore}
	name := r.ByFieldValue
	var facts []string
	// A new-destination record's news is the destination, not the process: say it first.
	if nd := r.Explanation.NewDestination; nd != nil {
		facts = append(facts, nd.Text)
	}
	if h := c.History; h != nil {
		w.ActiveBuckets, w.Buckets, w.Hosts, w.FleetHosts = h.ActiveBuckets, h.Buckets, h.HostCount, h.FleetHostCount
		facts = append(facts, fmt.Sprintf("%s connected in %d of %d earlier buckets", name, h.ActiveBuckets, h.Buckets))
		var newOn []string
		for _, hh := range h.Hosts {
			if hh.New {
				newOn = append(newOn, hh.Name)
			}
		}
		switch {
		case h.New && len(hosts) > 0:
			facts = append(facts, "first seen in this bucket on "+strings.Join(hosts, ", "))
		case h.New:
			facts = append(facts, "first seen in this bucket")
		case len(newOn) > 0:
			facts = append(facts, "first seen "+h.FirstSeen.Format(timeLayout)+" elsewhere, new on "+strings.Join(newOn, ", "))
		default:
			facts = append(facts, "first seen "+h.FirstSeen.Format(timeLayout)+", last "+h.LastSeen.Format(timeLayout))
		}
		facts = append(facts, sourceFacts(h, r.Timestamp)...)
		facts = append(facts, fmt.Sprintf("%d of %d hosts", h.HostCount, h.FleetHostCount))
	} else {
		w.Buckets = max(r.Explanation.BucketsModelled-1, 0)
		w.Hosts = len(hosts)
		if r.Explanation.FirstOccurrence {
			facts = append(facts, fmt.Sprintf("%s connected in 0 of %d earlier buckets (first occurrence in the model)", name, w.Buckets))
		} else {
			facts = append(facts, fmt.Sprintf("%s rarely connects: probability %.3g in %d modelled buckets", name, r.Probability, r.Explanation.BucketsModelled))
		}
		if len(hosts) > 0 {
			facts = append(facts, "on "+strings.Join(hosts, ", "))
		}
	}
	if u := c.Users; u != nil && len(u.New) > 0 {
		facts = append(facts, "first time as "+strings.Join(u.New, ", "))
	}
	if h := c.History; h != nil && h.Schedule != nil {
		facts = append(facts, "schedule: "+h.Schedule.Description)
	}
	if len(c.Destinations) > 0 {
		f := destinationFact(&c.Destinations[0])
		if n := len(c.Destinations) - 1; n > 0 {
			f += fmt.Sprintf(" (and %d more)", n)
		}
		facts = append(facts, f)
	}
	for _, p := range c.Processes {
		if len(p.Notes) > 0 {
			facts = append(facts, p.Notes[0])
			break
		}
	}
	w.Facts = facts
	w.Text = strings.Join(facts, "; ")
	return w
}

// destinationFact says one destination in a line: "185.220.101.47:443 (https), public,
// AS60729 Example, NL, never before".
func destinationFact(d *record.Destination) string {
	var b strings.Builder
	if d.Port > 0 {
		b.WriteString(net.JoinHostPort(d.IP, strconv.Itoa(d.Port))) // [2001:db8::1]:53
		if d.Service != "" {
			b.WriteString(" (" + d.Service + ")")
		}
	} else {
		b.WriteString(d.IP)
	}
	b.WriteString(", " + d.IPClass)
	if d.IPClass == ClassDocumentation {
		if rfc := DocumentationRFC(d.IP); rfc != "" {
			b.WriteString(" address (" + rfc + ")")
		}
	}
	if d.Note != "" {
		b.WriteString(", " + d.Note)
	}
	if d.AS != nil {
		fmt.Fprintf(&b, ", AS%d", d.AS.Number)
		if d.AS.Organization.Name != "" {
			b.WriteString(" " + d.AS.Organization.Name)
		}
	}
	if d.Geo != nil {
		place := d.Geo.CountryISOCode
		if d.Geo.CityName != "" {
			place = d.Geo.CityName + " " + place
		}
		if place != "" {
			b.WriteString(", " + place)
		}
	}
	if d.ReverseDNS != nil && len(d.ReverseDNS.Names) > 0 {
		b.WriteString(", " + d.ReverseDNS.Names[0])
	}
	if d.IPSeenBefore != nil && !*d.IPSeenBefore {
		b.WriteString(", never before")
	}
	return b.String()
}

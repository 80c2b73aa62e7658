package enricher

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/rarenet/rarenet/shared/record"
)

// Elsewhere (enhanced profile): a process doing on a host what it already did on other
// hosts, as the same user, to the same ports and networks. A job or a tool spreading over
// the fleet (a weekly job that anacron starts on each host on its own day, a backup added to
// one host after another) is rare at first on each host, while an intruder reusing a common
// name does something the fleet never saw: runs it as another user, or calls out to a port
// or an address no host of it used (the reused-name attacks of docs/quality.md). Networks are
// compared by /24 (an IPv6 /48), as the new-destination detector compares them: a service's
// few addresses. It needs elsewhereHosts other hosts, and each network and port used in as
// many buckets, so that one host's habit, or one intruder's first call, is not yet the
// fleet's. An intruder using the same name, user, port and network on a third host after
// two is scored down: the first two were signalled.

// elsewhereHosts is how many other hosts must have run the process before.
const elsewhereHosts = 2

// RecogniseElsewhere returns the evidence that the record's process, as of bucket k, did
// what it does now on other hosts before, or nil. c holds the record's destinations and
// users, built from the history.
func RecogniseElsewhere(e *Entry, c *record.Context, hosts []string, k int64) *record.Elsewhere {
	if e == nil || !e.SeenBefore(k) || c.Users == nil || len(c.Users.Current) == 0 || len(c.Users.New) > 0 || len(c.Destinations) == 0 {
		return nil
	}
	others := 0
	for h, s := range e.Hosts {
		if s.First < k && !slices.Contains(hosts, h) {
			others++
		}
	}
	if others < elsewhereHosts {
		return nil
	}
	// A network or port is known once used in as many buckets as hosts are needed: one
	// intruder's first call to an address is not yet the fleet's habit.
	buckets := map[string]int64{}
	for ip, s := range e.IPs {
		if s.First < k {
			buckets[networkOf(ip)] += s.bucketsBefore(k)
		}
	}
	el := &record.Elsewhere{Hosts: others, Users: slices.Clone(c.Users.Current)}
	for _, d := range c.Destinations {
		n := networkOf(d.IP)
		if n == "" || buckets[n] < elsewhereHosts {
			return nil
		}
		if p := seenBefore(e.Ports, strconv.Itoa(d.Port), k); d.Port > 0 && (p == nil || p.bucketsBefore(k) < elsewhereHosts) {
			return nil
		}
		if !slices.Contains(el.Networks, n) {
			el.Networks = append(el.Networks, n)
		}
		if d.Port > 0 && !slices.Contains(el.Ports, d.Port) {
			el.Ports = append(el.Ports, d.Port)
		}
	}
	slices.Sort(el.Networks)
	slices.Sort(el.Ports)
	ports := make([]string, len(el.Ports))
	for i, p := range el.Ports {
		ports[i] = strconv.Itoa(p)
	}
	el.Description = fmt.Sprintf("did the same on %d other hosts before: as %s, to port %s of %s", others,
		strings.Join(el.Users, ", "), strings.Join(ports, ", "), strings.Join(el.Networks, ", "))
	return el
}

// networkOf is the /24 of an IPv4 address or the /48 of an IPv6 one, "" for no address.
func networkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

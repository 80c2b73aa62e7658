package sim

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// A Scenario is a family of fleets described in a file (TOML): the fleet's size and history,
// its roles and their daemons, the pool of scheduled jobs and how each may be scheduled, the
// software a rollout may install, the attack tools, and how often hosts reboot or are
// rebuilt. Each seed draws one fleet from it: which jobs run, their periods, random delays,
// hosts and per-host phases, the rollout, the provider that moves, the attacks
// (docs/quality.md). scenarios/*.toml are the project's own.
type Scenario struct {
	Name string `toml:"name"`
	// Hosts, Days, Warmup and Attacks (per class) size the fleet; Seeds are the seeds the
	// quality harness measures.
	Hosts   int      `toml:"hosts"`
	Days    int      `toml:"days"`
	Warmup  Duration `toml:"warmup"`
	Attacks int      `toml:"attacks"`
	Seeds   []uint64 `toml:"seeds"`
	// Start is the history's first instant (default 2026-03-02T00:00:00Z, a Monday).
	Start time.Time `toml:"start"`
	// Jobs is how many jobs of the pool each seed runs, [min, max].
	Jobs [2]int `toml:"jobs"`
	// RebootsPerWeek is each host's mean number of reboots a week (kernel updates, crashes);
	// Rebuilds is how many hosts are rebuilt during the history (same name, new machine id).
	RebootsPerWeek float64 `toml:"reboots_per_week"`
	Rebuilds       int     `toml:"rebuilds"`

	Common []Daemon `toml:"common"` // daemons of every host
	Roles  []Role   `toml:"role"`   // hosts take roles in turn
	Pool   []Job    `toml:"job"`
	Agents []Agent  `toml:"agent"`
	Tools  []Tool   `toml:"tool"`
}

// Role is a kind of host and the daemons it runs.
type Role struct {
	Name    string   `toml:"name"`
	Daemons []Daemon `toml:"daemon"`
}

// Daemon is a process that uses the network as part of a role's normal operation.
type Daemon struct {
	Name string `toml:"name"`
	Exe  string `toml:"exe"`
	User string `toml:"user"`
	UID  int    `toml:"uid"`
	// Ports are the ports of its internal peers.
	Ports []int `toml:"ports"`
	// Every is the share of buckets in which it connects: 1 for a daemon always at work, 0.1
	// for a tool an operator runs now and then.
	Every float64 `toml:"every"`
	// Reach is how it reaches outside the fleet: "" (internal peers only), "service" (a few
	// addresses of one provider), "cdn" (any of a content network's many networks), "pool"
	// (a few NTP pool servers per host, replaced now and then).
	Reach string `toml:"reach"`
	// CDN names the content network of reach "cdn" (hosts of one CDN share its networks).
	CDN string `toml:"cdn"`
	// ExtPort is the port of its external peers; ExtShare the share of its connections that go
	// outside.
	ExtPort  int     `toml:"ext_port"`
	ExtShare float64 `toml:"ext_share"`
}

// Schedule kinds: how a job's runs are timed, each as a real scheduler does it.
const (
	// ScheduleTimer is a systemd timer on a calendar (OnCalendar=) with RandomizedDelaySec=:
	// each elapse waits a fresh uniform delay, or with FixedRandomDelay=yes one delay per
	// machine; Persistent=true runs a missed elapse at boot (systemd.timer(5)).
	ScheduleTimer = "timer"
	// ScheduleCron is a cron entry whose minute (and hour) are per host, as Puppet's
	// fqdn_rand() or Ansible's random(seed=inventory_hostname) write them, with cronie's
	// RANDOM_DELAY (minutes, drawn per run; crontab(5)); a run missed while down is lost.
	ScheduleCron = "cron"
	// ScheduleAnacron is a job of anacron: once per period, after START_HOURS_RANGE opens or
	// after boot when the period has passed, with the job's delay and RANDOM_DELAY
	// (anacrontab(5)).
	ScheduleAnacron = "anacron"
	// ScheduleBoot is a systemd timer relative to boot: OnBootSec= then OnUnitActiveSec=
	// (systemd-tmpfiles-clean.timer: 15min, then 1d): its phase moves with every reboot.
	ScheduleBoot = "boot"
)

// Host selections of a job.
const (
	HostsAll  = "all"  // every host
	HostsRole = "role" // every host of one role
	HostsSome = "some" // a random third to four fifths of the fleet
	HostsFew  = "few"  // two to four hosts of one role, each on its own clock
	HostsOne  = "one"  // a single host
)

// Job is a scheduled process of the pool: it connects only when it runs. Each list or range
// is drawn from per seed.
type Job struct {
	Name string `toml:"name"`
	Exe  string `toml:"exe"`
	User string `toml:"user"`
	UID  int    `toml:"uid"`
	Port int    `toml:"port"`
	// Dest is "external" (its provider's addresses) or "internal" (a fleet server).
	Dest string `toml:"dest"`
	// Schedule kinds, periods ("1h", "12h", "24h", "168h", or "monthly") and host selections
	// to draw from.
	Schedule []string `toml:"schedule"`
	Period   []string `toml:"period"`
	Hosts    []string `toml:"hosts"`
	// Delay is the range of the random delay: RandomizedDelaySec= of a timer, RANDOM_DELAY of
	// cron or anacron, [min, max].
	Delay [2]Duration `toml:"delay"`
	// Connections is how many connections a run makes, [min, max], over up to Lasts.
	Connections [2]int   `toml:"connections"`
	Lasts       Duration `toml:"lasts"`
}

// Agent is software a rollout installs, then runs in every bucket.
type Agent struct {
	Name string `toml:"name"`
	Exe  string `toml:"exe"`
	Port int    `toml:"port"`
}

// Tool is an attack tool the fleet never ran, with the arguments an intruder gives it.
type Tool struct {
	Name string   `toml:"name"`
	Exe  string   `toml:"exe"`
	Port int      `toml:"port"`
	Args []string `toml:"args"`
}

// Duration is a time.Duration written as Go writes it ("90m", "12h") in a scenario file.
type Duration struct{ time.Duration }

// UnmarshalText reads a duration such as "12h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

//go:embed scenarios/*.toml
var scenarioFiles embed.FS

// DefaultScenario is the name of the built-in scenario DefaultSpec draws from.
const DefaultScenario = "default"

// ErrScenario is wrapped by every error about a scenario's content.
var ErrScenario = errors.New("invalid scenario")

// BuiltinScenarios are the names of the scenarios shipped in scenarios/, default first.
func BuiltinScenarios() []string {
	entries, _ := scenarioFiles.ReadDir("scenarios")
	var names []string
	for _, e := range entries {
		if n := strings.TrimSuffix(e.Name(), ".toml"); n != DefaultScenario {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return append([]string{DefaultScenario}, names...)
}

// Builtin returns a scenario shipped in scenarios/ by name ("default", ...).
func Builtin(name string) (*Scenario, error) {
	b, err := scenarioFiles.ReadFile("scenarios/" + name + ".toml")
	if err != nil {
		return nil, fmt.Errorf("sim: no built-in scenario %q (have %s)", name, strings.Join(BuiltinScenarios(), ", "))
	}
	return ParseScenario("scenarios/"+name+".toml", b)
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseScenario(filepath.Base(path), b)
}

// ParseScenario decodes a scenario; name is the file's, for messages. Unknown keys are an
// error (a misspelt key would otherwise silently change nothing).
func ParseScenario(name string, b []byte) (*Scenario, error) {
	var s Scenario
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrScenario, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: %w: unknown keys %s", name, ErrScenario, strings.Join(keys, ", "))
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrScenario, err)
	}
	return &s, nil
}

// validate checks what the generator relies on, naming the field at fault.
func (s *Scenario) validate() error {
	if s.Start.IsZero() {
		s.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	}
	s.Start = s.Start.UTC()
	switch {
	case s.Hosts < 1:
		return errors.New("hosts: want at least 1")
	case s.Days < 2:
		return errors.New("days: want at least 2")
	case s.Warmup.Duration < 0 || s.Warmup.Duration > time.Duration(s.Days-1)*24*time.Hour:
		return fmt.Errorf("warmup: want from 0 to days-1 (%dd), got %s", s.Days-1, s.Warmup)
	case s.Attacks < 0:
		return errors.New("attacks: must not be negative")
	case len(s.Roles) == 0:
		return errors.New("role: want at least one")
	case len(s.Pool) == 0:
		return errors.New("job: want at least one")
	case s.Jobs[0] < 1 || s.Jobs[1] < s.Jobs[0]:
		return fmt.Errorf("jobs: want [min, max] with 1 <= min <= max, got %v", s.Jobs)
	case len(s.Agents) == 0:
		return errors.New("agent: want at least one")
	case len(s.Tools) == 0:
		return errors.New("tool: want at least one")
	case s.RebootsPerWeek < 0 || s.Rebuilds < 0 || s.Rebuilds > s.Hosts:
		return errors.New("reboots_per_week and rebuilds: want 0 or more, rebuilds at most hosts")
	}
	check := func(where string, d Daemon) error {
		switch {
		case d.Name == "" || d.Exe == "":
			return fmt.Errorf("%s: name and exe are required", where)
		case len(d.Ports) == 0:
			return fmt.Errorf("%s %s: ports: want at least one", where, d.Name)
		case d.Every <= 0 || d.Every > 1:
			return fmt.Errorf("%s %s: every: want (0, 1], got %v", where, d.Name, d.Every)
		case !slices.Contains([]string{"", reachService, reachCDN, reachPool}, d.Reach):
			return fmt.Errorf("%s %s: reach: want \"\", service, cdn or pool, got %q", where, d.Name, d.Reach)
		case d.Reach != "" && (d.ExtPort <= 0 || d.ExtShare <= 0 || d.ExtShare > 1):
			return fmt.Errorf("%s %s: reach %s needs ext_port and ext_share in (0, 1]", where, d.Name, d.Reach)
		case d.Reach == reachCDN && d.CDN == "":
			return fmt.Errorf("%s %s: reach cdn needs cdn (the content network's name)", where, d.Name)
		}
		return nil
	}
	for _, d := range s.Common {
		if err := check("common", d); err != nil {
			return err
		}
	}
	for _, r := range s.Roles {
		if r.Name == "" || len(r.Daemons) == 0 {
			return fmt.Errorf("role %q: name and at least one daemon are required", r.Name)
		}
		for _, d := range r.Daemons {
			if err := check("role "+r.Name+" daemon", d); err != nil {
				return err
			}
		}
	}
	for i := range s.Pool {
		j := &s.Pool[i]
		if err := j.validate(); err != nil {
			return fmt.Errorf("job %s: %w", j.Name, err)
		}
	}
	return nil
}

func (j *Job) validate() error {
	if j.Name == "" || j.Exe == "" || j.Port <= 0 {
		return errors.New("name, exe and port are required")
	}
	if j.User == "" {
		j.User = "root"
	}
	if j.Dest == "" {
		j.Dest = "external"
	}
	if j.Dest != "external" && j.Dest != "internal" {
		return fmt.Errorf("dest: want external or internal, got %q", j.Dest)
	}
	if len(j.Schedule) == 0 || len(j.Period) == 0 || len(j.Hosts) == 0 {
		return errors.New("schedule, period and hosts: want at least one of each")
	}
	for _, s := range j.Schedule {
		if !slices.Contains([]string{ScheduleTimer, ScheduleCron, ScheduleAnacron, ScheduleBoot}, s) {
			return fmt.Errorf("schedule: want timer, cron, anacron or boot, got %q", s)
		}
	}
	for _, p := range j.Period {
		if _, err := parsePeriod(p); err != nil {
			return err
		}
	}
	for _, h := range j.Hosts {
		if !slices.Contains([]string{HostsAll, HostsRole, HostsSome, HostsFew, HostsOne}, h) {
			return fmt.Errorf("hosts: want all, role, some, few or one, got %q", h)
		}
	}
	if j.Delay[0].Duration < 0 || j.Delay[1].Duration < j.Delay[0].Duration {
		return fmt.Errorf("delay: want [min, max] with 0 <= min <= max, got [%s, %s]", j.Delay[0], j.Delay[1])
	}
	if j.Connections == [2]int{} {
		j.Connections = [2]int{1, 3}
	}
	if j.Connections[0] < 1 || j.Connections[1] < j.Connections[0] {
		return fmt.Errorf("connections: want [min, max] with 1 <= min <= max, got %v", j.Connections)
	}
	if j.Lasts.Duration <= 0 {
		j.Lasts.Duration = 2 * time.Minute
	}
	return nil
}

// monthly is the period of a job run once a month, on a day of the month.
const monthly = -1

// parsePeriod reads a job period: a duration, or "monthly".
func parsePeriod(p string) (time.Duration, error) {
	if p == "monthly" {
		return monthly, nil
	}
	d, err := time.ParseDuration(p)
	if err != nil || d < time.Hour {
		return 0, fmt.Errorf("period: want a duration of at least 1h or \"monthly\", got %q", p)
	}
	return d, nil
}

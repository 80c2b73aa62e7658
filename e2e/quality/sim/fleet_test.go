package sim

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func smallSpec(seed uint64) Spec {
	s := DefaultSpec(seed)
	s.Hosts, s.Days, s.Warmup, s.Attacks = 8, 5, 48*time.Hour, 3
	return s
}

func TestSimulateIsDeterministic(t *testing.T) {
	a, b := Simulate(smallSpec(3)), Simulate(smallSpec(3))
	if !reflect.DeepEqual(a.Events, b.Events) || !reflect.DeepEqual(a.Labels, b.Labels) {
		t.Fatal("the same seed gave another fleet")
	}
}

// TestBuiltinScenarios: every scenario shipped parses, and the second is unlike the default:
// other roles, other jobs, a longer history.
func TestBuiltinScenarios(t *testing.T) {
	names := BuiltinScenarios()
	if len(names) < 2 || names[0] != DefaultScenario {
		t.Fatalf("built-in scenarios %v: want the default first and at least one more", names)
	}
	def, err := Builtin(DefaultScenario)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names[1:] {
		sc, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		roles := func(s *Scenario) []string {
			var out []string
			for _, r := range s.Roles {
				out = append(out, r.Name)
			}
			return out
		}
		jobs := func(s *Scenario) []string {
			var out []string
			for _, j := range s.Pool {
				out = append(out, j.Name)
			}
			return out
		}
		shared := 0
		for _, j := range jobs(sc) {
			if slices.Contains(jobs(def), j) {
				shared++
			}
		}
		if slices.ContainsFunc(roles(sc), func(r string) bool { return slices.Contains(roles(def), r) }) ||
			shared*2 > len(sc.Pool) || sc.Days <= def.Days || len(sc.Seeds) == 0 {
			t.Errorf("%s: roles %v, %d of %d jobs the default's, %d days: want other roles, mostly other jobs, a longer history",
				name, roles(sc), shared, len(sc.Pool), sc.Days)
		}
	}
}

// TestParseScenarioErrors: a bad scenario is refused with the file and the field at fault.
func TestParseScenarioErrors(t *testing.T) {
	good, err := scenarioFiles.ReadFile("scenarios/default.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, from, to, want string
	}{
		{"unknown key", `hosts = 24`, "hosts = 24\nhots = 3", "unknown keys hots"},
		{"bad period", `period = ["12h"]`, `period = ["fortnightly"]`, `period: want a duration`},
		{"bad schedule", `schedule = ["timer", "cron"]`, `schedule = ["systemd"]`, `schedule: want timer, cron, anacron or boot`},
		{"bad reach", `reach = "pool"`, `reach = "anycast"`, `reach: want`},
		{"warm-up too long", `warmup = "72h"`, `warmup = "400h"`, `warmup: want from 0`},
		{"not toml", `hosts = 24`, `hosts = = 24`, `invalid scenario`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Replace(good, []byte(tt.from), []byte(tt.to), 1)
			_, err := ParseScenario("x.toml", b)
			if err == nil || !errors.Is(err, ErrScenario) || !strings.Contains(err.Error(), "x.toml") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an ErrScenario naming x.toml and %q", err, tt.want)
			}
		})
	}
}

// TestBenignBehavioursVaryWithTheSeed: the jobs (which, how scheduled, their delays and
// hosts) and the rollout are drawn per seed, yet every seed keeps the same kinds of
// behaviour, and over a few seeds every kind of schedule shows.
func TestBenignBehavioursVaryWithTheSeed(t *testing.T) {
	distinct := map[string]bool{}
	kinds := map[string]bool{}
	for seed := range uint64(6) {
		f := Simulate(smallSpec(seed + 1))
		var jobs []string
		classes := map[string]int{}
		for _, l := range f.Labels {
			classes[l.Class]++
			if l.Class == ClassSchedule {
				kinds[l.Kind] = true
				if !slices.Contains(jobs, l.Name+" "+l.Detail) {
					jobs = append(jobs, l.Name+" "+l.Detail)
				}
			}
		}
		slices.Sort(jobs)
		distinct[strings.Join(jobs, "\n")] = true
		if len(jobs) < 3 || classes[ClassRollout] < 3 || classes[ClassDestinationChange] == 0 || classes[ClassLoopback] != 1 {
			t.Errorf("seed %d: jobs %v, classes %v: a kind of benign behaviour is missing", seed+1, jobs, classes)
		}
		for _, c := range []string{ClassNeverSeenTool, ClassReusedName, ClassNewDestination} {
			if classes[c] != 3 {
				t.Errorf("seed %d: %d attacks of class %s, want 3", seed+1, classes[c], c)
			}
		}
	}
	if len(distinct) != 6 {
		t.Errorf("6 seeds gave %d distinct sets of jobs", len(distinct))
	}
	if len(kinds) != 4 {
		t.Errorf("schedule kinds over 6 seeds: %v, want timer, cron, anacron and boot", kinds)
	}
}

// testGen is a generator over the default scenario's hosts, without events.
func testGen(t *testing.T, seed uint64, hosts, days int) *gen {
	t.Helper()
	s := DefaultSpec(seed)
	s.Hosts, s.Days = hosts, days
	g := &gen{Fleet: &Fleet{Spec: s}, sc: s.Scenario, rng: rand.New(rand.NewPCG(seed, 1))}
	for i := range hosts {
		role := g.sc.Roles[i%len(g.sc.Roles)].Name
		g.Hosts = append(g.Hosts, Host{fmt.Sprintf("%s-%02d", role, i/len(g.sc.Roles)+1), role})
	}
	g.end = s.Start.Add(time.Duration(days) * 24 * time.Hour)
	g.lives()
	return g
}

// TestTimerRunsWanderWithinTheirDelay: a twice-daily timer with RandomizedDelaySec=12h runs
// once per elapse, within its delay, at times of day spread over the whole day, differently
// on each host; with FixedRandomDelay=yes each host keeps its own offset.
func TestTimerRunsWanderWithinTheirDelay(t *testing.T) {
	g := testGen(t, 4, 4, 10)
	g.sc.RebootsPerWeek = 0
	for h := range g.life {
		g.life[h] = hostLife{boots: g.life[h].boots[:1]}
	}
	s := schedule{kind: ScheduleTimer, period: 12 * time.Hour, delay: 12 * time.Hour}
	hours := map[int]bool{}
	var first [][]time.Time
	for h := range 4 {
		runs := g.timerRuns(s, h)
		if len(runs) < 19 || len(runs) > 20 {
			t.Fatalf("host %d: %d runs in 10 days, want one per elapse", h, len(runs))
		}
		for _, r := range runs {
			hours[r.Hour()] = true
			if off := r.Sub(r.Truncate(12 * time.Hour)); off < 0 || off >= 12*time.Hour {
				t.Fatalf("run %s outside its elapse's delay", r)
			}
		}
		first = append(first, runs[:3])
	}
	if len(hours) < 20 || reflect.DeepEqual(first[0], first[1]) {
		t.Errorf("runs in %d hours of the day, hosts alike %v: want the whole day, each host its own", len(hours), first[0][0] == first[1][0])
	}
	s.fixed, s.delay = true, 3*time.Hour
	runs := g.timerRuns(s, 0)
	for i := 1; i < len(runs); i++ {
		if gap := runs[i].Sub(runs[i-1]); gap != 12*time.Hour {
			t.Fatalf("FixedRandomDelay=yes: gap %s, want 12h", gap)
		}
	}
}

// TestCronRunsAtEachHostsMinute: a cron line written with fqdn_rand runs at each host's own
// minute; a run due while the host is down is lost.
func TestCronRunsAtEachHostsMinute(t *testing.T) {
	g := testGen(t, 5, 6, 6)
	s := schedule{kind: ScheduleCron, period: 24 * time.Hour, hour: 3}
	minutes := map[int]bool{}
	for h := range 6 {
		runs := g.cronRuns(s, h)
		for _, r := range runs {
			if r.Minute() != runs[0].Minute() || r.Hour() != 3 || g.life[h].down(r) {
				t.Fatalf("host %d: run %s, first %s: want every run at the host's minute past 03:00, up", h, r, runs[0])
			}
		}
		minutes[runs[0].Minute()] = true
	}
	if len(minutes) < 4 {
		t.Errorf("6 hosts ran at %d distinct minutes, want each its own", len(minutes))
	}
}

// TestBootTimerMovesWithReboots: OnBootSec=15min, OnUnitActiveSec=1d runs 15 minutes after
// each boot, then a day after each run.
func TestBootTimerMovesWithReboots(t *testing.T) {
	g := testGen(t, 6, 1, 10)
	boot := g.Spec.Start.Add(50 * time.Hour)
	g.life[0] = hostLife{boots: []time.Time{g.Spec.Start.Add(-5 * time.Hour), boot},
		downs: [][2]time.Time{{boot.Add(-10 * time.Minute), boot}}}
	runs := g.bootRuns(schedule{kind: ScheduleBoot, period: 24 * time.Hour}, 0)
	if !slices.ContainsFunc(runs, func(r time.Time) bool { return r.Sub(boot) >= 15*time.Minute && r.Sub(boot) < 16*time.Minute }) {
		t.Fatalf("runs %v: none 15 minutes after the boot at %s", runs, boot)
	}
	if first := g.Spec.Start.Add(-5*time.Hour + 15*time.Minute + 24*time.Hour); runs[0].Sub(first) < 0 || runs[0].Sub(first) > time.Minute {
		t.Errorf("first run %s: want %s, 15 minutes after the boot before the history, plus a day", runs[0], first)
	}
}

// TestAnacronRunsOncePerPeriodAndCatchesUp: a daily anacron job runs once a day after 03:05,
// and after a boot the same day when the host was down at that time.
func TestAnacronRunsOncePerPeriodAndCatchesUp(t *testing.T) {
	g := testGen(t, 8, 1, 6)
	day2 := g.Spec.Start.Add(48 * time.Hour)
	boot := day2.Add(9 * time.Hour)
	g.life[0] = hostLife{boots: []time.Time{g.Spec.Start.Add(-5 * time.Hour), boot},
		downs: [][2]time.Time{{day2.Add(2 * time.Hour), boot}}}
	runs := g.anacronRuns(schedule{kind: ScheduleAnacron, period: 24 * time.Hour, delay: 45 * time.Minute}, 0)
	days := map[int]int{}
	for _, r := range runs {
		days[r.YearDay()]++
	}
	for d, n := range days {
		if n != 1 {
			t.Fatalf("day %d: %d runs, want 1", d, n)
		}
	}
	if !slices.ContainsFunc(runs, func(r time.Time) bool { return r.After(boot) && r.Before(boot.Add(2*time.Hour)) }) {
		t.Errorf("runs %v: no catch-up after the boot at %s", runs, boot)
	}
}

// TestReusedNameAttacks: each uses a name common in the fleet, on a host that never ran it
// or ran it only as other users (before the attack), to a port the host never used outside.
func TestReusedNameAttacks(t *testing.T) {
	for seed := range uint64(4) {
		f := Simulate(smallSpec(seed + 11))
		kinds := map[string]int{}
		for _, l := range f.Labels {
			if l.Class != ClassReusedName {
				continue
			}
			kinds[l.Kind]++
			host := l.Hosts[0]
			var attack *Event
			usersBefore := map[string]bool{}
			hosts := map[string]bool{}
			for i, e := range f.Events {
				if e.Name == l.Name {
					hosts[e.Host] = true
				}
				if e.Host == host && e.Time.Equal(l.Start) && e.Name == l.Name {
					attack = &f.Events[i]
				}
			}
			if attack == nil {
				t.Fatalf("%s: no event at the label's start", l.ID)
			}
			for _, e := range f.Events {
				if e.Host != host || !e.Time.Before(l.Start) {
					continue
				}
				if e.Name == l.Name {
					usersBefore[e.User] = true
				}
				if e.Port == attack.Port && isExternal(e.DestIP) {
					t.Errorf("%s: %s used port %d outside before", l.ID, host, e.Port)
				}
			}
			switch {
			case len(hosts) < max(2, len(f.Hosts)/4):
				t.Errorf("%s: %s runs on %d hosts: not common", l.ID, l.Name, len(hosts))
			case l.Kind == KindNewOnHost && len(usersBefore) > 0:
				t.Errorf("%s: %s ran %s before", l.ID, host, l.Name)
			case l.Kind == KindNewUser && (len(usersBefore) == 0 || usersBefore[attack.User]):
				t.Errorf("%s: %s ran %s before as %v; attack as %s", l.ID, host, l.Name, usersBefore, attack.User)
			}
		}
		if kinds[KindNewOnHost] == 0 || kinds[KindNewUser] == 0 {
			t.Errorf("seed %d: reused-name kinds %v, want both", seed+11, kinds)
		}
	}
}

// TestNewDestinationAttacks: each goes through a process its host ran before, to an address
// that process never used there, and appears in both output formats.
func TestNewDestinationAttacks(t *testing.T) {
	f := Simulate(smallSpec(2))
	var ecs, audit bytes.Buffer
	if err := WriteECS(&ecs, f.Events); err != nil {
		t.Fatal(err)
	}
	if err := WriteAuditd(&audit, f.Events); err != nil {
		t.Fatal(err)
	}
	for _, l := range f.Labels {
		if l.Class != ClassNewDestination {
			continue
		}
		host := l.Hosts[0]
		var before int
		var attack *Event
		for i, e := range f.Events {
			if e.Host != host || e.Name != l.Name {
				continue
			}
			if e.Time.Before(l.Start) {
				before++
			} else if attack == nil && e.Time.Equal(l.Start) {
				attack = &f.Events[i]
			}
		}
		if attack == nil || before == 0 {
			t.Fatalf("%s: attack %v, %d connections before: want a process the host ran", l.ID, attack, before)
		}
		for _, e := range f.Events {
			if e.Host == host && e.Name == l.Name && e.Time.Before(l.Start) && e.DestIP == attack.DestIP {
				t.Errorf("%s: %s used %s before the attack", l.ID, l.Name, e.DestIP)
			}
		}
		ip := netip.MustParseAddr(attack.DestIP).As4()
		if !strings.Contains(ecs.String(), `"ip":"`+attack.DestIP+`"`) ||
			!strings.Contains(audit.String(), strings.ToUpper(hex.EncodeToString(ip[:]))) {
			t.Errorf("%s: the attack's destination %s is missing from an output format", l.ID, attack.DestIP)
		}
	}
}

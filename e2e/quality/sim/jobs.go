package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// schedule is one job as a seed draws it from the pool: how it is scheduled and where.
type schedule struct {
	job    Job
	kind   string
	period time.Duration // or monthly
	delay  time.Duration // RandomizedDelaySec= or RANDOM_DELAY
	fixed  bool          // FixedRandomDelay=yes
	hosts  []int
	// The calendar: hour, minute, weekday and day of the month of its elapses; cron draws
	// the hour and minute per host instead when perHost is set.
	hour, minute, weekday, mday int
	perHostHour                 bool
	selection                   string
}

// scheduled draws the seed's jobs from the pool and generates every run on every host,
// each labelled.
func (g *gen) scheduled() {
	n := g.sc.Jobs[0] + g.rng.IntN(g.sc.Jobs[1]-g.sc.Jobs[0]+1)
	for ji, i := range g.rng.Perm(len(g.sc.Pool))[:min(n, len(g.sc.Pool))] {
		s := g.drawSchedule(g.sc.Pool[i])
		for _, h := range s.hosts {
			runs := g.runs(s, h)
			for k, t := range runs {
				g.run(s, ji, h, k, t)
			}
		}
	}
}

func (g *gen) drawSchedule(j Job) schedule {
	s := schedule{job: j, kind: j.Schedule[g.rng.IntN(len(j.Schedule))]}
	s.period, _ = parsePeriod(j.Period[g.rng.IntN(len(j.Period))])
	s.delay = j.Delay[0].Duration + time.Duration(g.rng.Int64N(int64(j.Delay[1].Duration-j.Delay[0].Duration)+1))
	switch {
	case s.kind == ScheduleAnacron && s.period != monthly && s.period < 24*time.Hour:
		s.kind = ScheduleCron // anacron counts in days
	case s.kind == ScheduleBoot && s.period == monthly:
		s.kind = ScheduleTimer
	}
	s.fixed = s.kind == ScheduleTimer && g.rng.IntN(3) == 0
	s.hour, s.minute, s.weekday, s.mday = g.rng.IntN(24), []int{0, 0, 15, 30, g.rng.IntN(60)}[g.rng.IntN(5)], g.rng.IntN(7), 1+g.rng.IntN(28)
	s.perHostHour = g.rng.IntN(2) == 0
	s.selection = j.Hosts[g.rng.IntN(len(j.Hosts))]
	s.hosts = g.pickHosts(s.selection)
	// A monthly job whose day is outside a short history runs on a day within it, so that
	// every history sees it.
	if s.period == monthly {
		start, end := g.Spec.Start, g.end
		inside := false
		for t := time.Date(start.Year(), start.Month(), s.mday, 0, 0, 0, 0, time.UTC); t.Before(end); t = t.AddDate(0, 1, 0) {
			inside = inside || !t.Before(start)
		}
		if !inside {
			s.mday = start.AddDate(0, 0, g.rng.IntN(max(g.Spec.Days-1, 1))).Day()
		}
	}
	return s
}

// pickHosts draws the hosts of a job.
func (g *gen) pickHosts(selection string) []int {
	role := g.sc.Roles[g.rng.IntN(len(g.sc.Roles))].Name
	var out []int
	switch selection {
	case HostsAll:
		return g.hostsOf("")
	case HostsRole:
		return g.hostsOf(role)
	case HostsFew:
		of := g.hostsOf(role)
		for _, i := range g.rng.Perm(len(of))[:min(len(of), 2+g.rng.IntN(3))] {
			out = append(out, of[i])
		}
	case HostsOne:
		out = []int{g.rng.IntN(len(g.Hosts))}
	default: // some
		n := max(1, len(g.Hosts)*(30+g.rng.IntN(51))/100)
		out = g.rng.Perm(len(g.Hosts))[:n]
	}
	slices.Sort(out)
	return out
}

// run generates one run of a job on a host, from t: a few connections within the run's
// length, and its label.
func (g *gen) run(s schedule, ji, h, k int, t time.Time) {
	j := s.job
	n := j.Connections[0] + g.rng.IntN(j.Connections[1]-j.Connections[0]+1)
	offsets := make([]time.Duration, n)
	for i := range offsets {
		if i > 0 {
			offsets[i] = time.Duration(g.rng.Int64N(int64(j.Lasts.Duration)))
		}
	}
	slices.Sort(offsets)
	emitted := false
	for _, off := range offsets {
		ip := fmt.Sprintf("10.200.%d.%d", ji, 1+g.rng.IntN(4))
		if j.Dest == "external" {
			ip = fmt.Sprintf("%s.%d", g.ext.provider["job:"+j.Name], 1+g.rng.IntN(4))
		}
		emitted = g.emit(h, Event{Time: t.Add(off).Truncate(time.Millisecond), Name: j.Name, Exe: j.Exe, User: j.User, UID: j.UID,
			PID: 20000 + 97*ji + k, DestIP: ip, Port: j.Port, Args: []string{j.Exe}, Cwd: "/", Outcome: "success"}) || emitted
	}
	if emitted {
		g.Labels = append(g.Labels, Label{ID: fmt.Sprintf("schedule-%s-%s-%d", j.Name, g.Hosts[h].Name, k), Class: ClassSchedule, Kind: s.kind,
			Name: j.Name, Hosts: []string{g.Hosts[h].Name}, Start: t.Truncate(time.Millisecond), Detail: s.describe(len(g.Hosts))})
	}
}

// describe says how the job is scheduled: "timer every 12h, RandomizedDelaySec=7h12m, on 5
// hosts (few)".
func (s schedule) describe(fleet int) string {
	var b strings.Builder
	b.WriteString(s.kind)
	if s.period == monthly {
		fmt.Fprintf(&b, " monthly on day %d", s.mday)
	} else {
		fmt.Fprintf(&b, " every %s", s.period)
	}
	switch s.kind {
	case ScheduleTimer, ScheduleBoot:
		fmt.Fprintf(&b, ", RandomizedDelaySec=%s", s.delay.Round(time.Minute))
		if s.fixed {
			b.WriteString(", FixedRandomDelay=yes")
		}
	default:
		fmt.Fprintf(&b, ", RANDOM_DELAY=%s", s.delay.Round(time.Minute))
	}
	fmt.Fprintf(&b, ", on %d of %d hosts (%s)", len(s.hosts), fleet, s.selection)
	return b.String()
}

// runs returns when a job runs on host h within the history.
func (g *gen) runs(s schedule, h int) []time.Time {
	switch s.kind {
	case ScheduleCron:
		return g.cronRuns(s, h)
	case ScheduleAnacron:
		return g.anacronRuns(s, h)
	case ScheduleBoot:
		return g.bootRuns(s, h)
	}
	return g.timerRuns(s, h)
}

// elapses returns a calendar's instants from a period before the history to its end: hour
// and minute of the day, plus the weekday of a weekly one or the day of a monthly one.
func (g *gen) elapses(period time.Duration, hour, minute, weekday, mday int) []time.Time {
	start := g.Spec.Start
	day0 := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	var out []time.Time
	switch {
	case period == monthly:
		for t := time.Date(start.Year(), start.Month()-1, mday, hour, minute, 0, 0, time.UTC); t.Before(g.end); t = t.AddDate(0, 1, 0) {
			out = append(out, t)
		}
	case period < 24*time.Hour && (24*time.Hour)%period == 0:
		first := day0.Add(-24*time.Hour + time.Duration(hour)*time.Hour%period + time.Duration(minute)*time.Minute)
		for t := first; t.Before(g.end); t = t.Add(period) {
			out = append(out, t)
		}
	default: // days: on the weekday for a whole number of weeks
		first := day0.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
		if period%(7*24*time.Hour) == 0 {
			first = first.Add(time.Duration((weekday-int(day0.Weekday())+7)%7) * 24 * time.Hour)
		}
		for first.After(start.Add(-period)) {
			first = first.Add(-period)
		}
		for t := first; t.Before(g.end); t = t.Add(period) {
			out = append(out, t)
		}
	}
	return out
}

// fixedDelay is a host's FixedRandomDelay= offset: one per machine id, so new after a
// rebuild.
func (g *gen) fixedDelay(s schedule) [2]time.Duration {
	if s.delay <= 0 {
		return [2]time.Duration{}
	}
	return [2]time.Duration{time.Duration(g.rng.Int64N(int64(s.delay))), time.Duration(g.rng.Int64N(int64(s.delay)))}
}

// timerRuns: each elapse waits RandomizedDelaySec= (a fresh uniform delay, or the machine's
// fixed one); an elapse missed while the host was off runs at boot (Persistent=true).
func (g *gen) timerRuns(s schedule, h int) []time.Time {
	l := &g.life[h]
	fixed := g.fixedDelay(s)
	var runs []time.Time
	for _, e := range g.elapses(s.period, s.hour, s.minute, s.weekday, s.mday) {
		d := time.Duration(0)
		switch {
		case s.fixed && !l.rebuilt.IsZero() && !e.Before(l.rebuilt):
			d = fixed[1]
		case s.fixed:
			d = fixed[0]
		case s.delay > 0:
			d = time.Duration(g.rng.Int64N(int64(s.delay)))
		}
		t := e.Add(d)
		if l.down(t) {
			t = l.bootBefore(t.Add(4 * time.Hour)).Add(time.Minute + time.Duration(g.rng.Int64N(int64(2*time.Minute))))
		}
		if !t.Before(g.Spec.Start) && (len(runs) == 0 || t.After(runs[len(runs)-1])) {
			runs = append(runs, t)
		}
	}
	return runs
}

// cronRuns: the host's own minute (and hour), plus RANDOM_DELAY per run; a run due while the
// host is off is lost.
func (g *gen) cronRuns(s schedule, h int) []time.Time {
	hour, minute := s.hour, g.rng.IntN(60) // fqdn_rand(60)
	if s.perHostHour {
		hour = g.rng.IntN(24) // fqdn_rand(24)
	}
	var runs []time.Time
	for _, e := range g.elapses(s.period, hour, minute, s.weekday, s.mday) {
		t := e
		if s.delay > 0 {
			t = t.Add(time.Duration(g.rng.Int64N(int64(s.delay))))
		}
		if !t.Before(g.Spec.Start) && !g.life[h].down(t) {
			runs = append(runs, t)
		}
	}
	return runs
}

// anacronRuns: anacron starts when START_HOURS_RANGE opens (03:00) and after every boot, and
// runs a job whose period in days has passed since its last run (or whose month has changed,
// for @monthly), after the job's delay (5, 25 or 45 minutes, cronie's anacrontab) plus
// RANDOM_DELAY.
func (g *gen) anacronRuns(s schedule, h int) []time.Time {
	l := &g.life[h]
	days := int(s.period / (24 * time.Hour))
	base := map[int]time.Duration{1: 5 * time.Minute, 7: 25 * time.Minute}[days]
	if s.period == monthly || base == 0 {
		base = 45 * time.Minute
	}
	var starts []time.Time
	day0 := time.Date(g.Spec.Start.Year(), g.Spec.Start.Month(), g.Spec.Start.Day(), 3, 1, 0, 0, time.UTC)
	for t := day0; t.Before(g.end); t = t.Add(24 * time.Hour) {
		starts = append(starts, t)
	}
	for _, b := range l.boots[1:] {
		if hr := b.Hour(); hr >= 3 && hr < 22 {
			starts = append(starts, b.Add(time.Minute))
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	// The last run before the history: some day within the last period.
	lastDay := g.Spec.Start.AddDate(0, 0, -1-g.rng.IntN(max(days, 28*btoi(s.period == monthly), 1)))
	due := func(t time.Time) bool {
		if s.period == monthly {
			return t.Year() != lastDay.Year() || t.Month() != lastDay.Month()
		}
		return dayNumber(t)-dayNumber(lastDay) >= days
	}
	var runs []time.Time
	for _, st := range starts {
		if l.down(st) || !due(st) {
			continue
		}
		t := st.Add(base)
		if s.delay > 0 {
			t = t.Add(time.Duration(g.rng.Int64N(int64(s.delay))))
		}
		if l.down(t) || !t.Before(g.end) {
			continue
		}
		lastDay = t
		runs = append(runs, t)
	}
	return runs
}

// bootRuns: OnBootSec=15min after each boot, then OnUnitActiveSec= after each run, each
// elapse waiting RandomizedDelaySec= and up to AccuracySec= (1 minute by default).
func (g *gen) bootRuns(s schedule, h int) []time.Time {
	l := &g.life[h]
	var runs []time.Time
	for i, b := range l.boots {
		stop := g.end
		if i < len(l.downs) {
			stop = l.downs[i][0]
		}
		for t := b.Add(15 * time.Minute); t.Before(stop); {
			if !t.Before(g.Spec.Start) {
				runs = append(runs, t)
			}
			step := s.period + time.Duration(g.rng.Int64N(int64(time.Minute)))
			if s.delay > 0 {
				step += time.Duration(g.rng.Int64N(int64(s.delay)))
			}
			t = t.Add(step)
		}
	}
	return runs
}

func dayNumber(t time.Time) int { return int(t.Unix() / 86400) }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

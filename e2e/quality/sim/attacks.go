package sim

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// attackPorts are the ports a reused-name attack may call out on: web ports an intruder's
// download or beacon uses, tried in turn for one the host never used outside.
var attackPorts = []int{80, 8080, 443, 8443, 8000, 4443, 9443, 8888}

// attackUsers are the users an intruder's process runs as: a web server's, a service
// account's, nobody.
var attackUsers = []string{"www-data", "nobody", "app", "daemon"}

// uids are the attack users' ids (Debian's).
var uids = map[string]int{"www-data": 33, "nobody": 65534, "app": 1002, "daemon": 1}

// attacks injects Spec.Attacks attacks of each class after the warm-up, each on a host up at
// the time.
func (g *gen) attacks() {
	span := g.end.Sub(g.Spec.Start) - g.Spec.Warmup - 2*time.Hour
	when := func(h int) time.Time {
		for {
			t := g.Spec.Start.Add(g.Spec.Warmup + time.Duration(g.rng.Int64N(int64(span)))).Truncate(time.Second)
			if !g.life[h].down(t) && !g.life[h].down(t.Add(time.Minute)) {
				return t
			}
		}
	}
	order := g.rng.Perm(len(g.sc.Tools))
	for k := range g.Spec.Attacks {
		tool := g.sc.Tools[order[k%len(g.sc.Tools)]]
		h := g.rng.IntN(len(g.Hosts))
		t := when(h)
		ip := fmt.Sprintf("203.0.113.%d", 10+k)
		for e := range 1 + g.rng.IntN(3) {
			g.emit(h, Event{Time: t.Add(time.Duration(e) * 7 * time.Second), Name: tool.Name, Exe: tool.Exe,
				User: "www-data", UID: 33, PID: 40000 + k, DestIP: ip, Port: tool.Port, Args: append(slices.Clone(tool.Args), ip),
				Cwd: "/tmp", Outcome: "success"})
		}
		g.Labels = append(g.Labels, Label{ID: fmt.Sprintf("attack-tool-%d", k), Class: ClassNeverSeenTool, Name: tool.Name,
			Hosts: []string{g.Hosts[h].Name}, Start: t, Detail: tool.Exe})
	}
	g.reusedNames(when)
	g.newDestinations(when)
}

// fleetCommon are the names run on at least a quarter of the hosts (and on two), with the
// executable each ran as.
func (g *gen) fleetCommon() map[string]string {
	count := map[string]int{}
	for h := range g.Hosts {
		for name := range g.ran[h] {
			count[name]++
		}
	}
	exe := map[string]string{}
	for _, e := range g.Events {
		if _, ok := exe[e.Name]; !ok && count[e.Name] >= max(2, (len(g.Hosts)+3)/4) && e.DestIP != "127.0.0.1" {
			exe[e.Name] = e.Exe
		}
	}
	return exe
}

// reusedNames injects attacks through a name common in the fleet: alternately one the host
// never ran, and one it ran but never as the attack's user; each to a port the host never
// used outside, at an address nothing in the fleet used.
func (g *gen) reusedNames(when func(int) time.Time) {
	common := g.fleetCommon()
	names := slices.Sorted(maps.Keys(common))
	for k := range g.Spec.Attacks {
		kind := []string{KindNewOnHost, KindNewUser}[k%2]
		var h, port int
		var name, user string
		var t time.Time
		for tries := 0; ; tries++ {
			if tries == 1000 { // no host fits this kind: try the other
				kind = []string{KindNewUser, KindNewOnHost}[k%2]
			}
			h, name = g.rng.IntN(len(g.Hosts)), names[g.rng.IntN(len(names))]
			users, ran := g.ran[h][name]
			user = attackUsers[g.rng.IntN(len(attackUsers))]
			if kind == KindNewOnHost && ran || kind == KindNewUser && (!ran || !users[user].IsZero()) {
				continue
			}
			t = when(h)
			// A new user's attack comes after the host ran the name (as another user).
			if kind == KindNewUser && !slices.ContainsFunc(slices.Collect(maps.Values(users)), func(first time.Time) bool { return first.Before(t) }) {
				continue
			}
			port = 0
			for _, p := range attackPorts {
				if !g.extPorts[h][p] {
					port = p
					break
				}
			}
			if port != 0 {
				break
			}
		}
		ip := fmt.Sprintf("192.0.2.%d", 10+k)
		for e := range 1 + g.rng.IntN(2) {
			g.emit(h, Event{Time: t.Add(time.Duration(e) * 5 * time.Second), Name: name, Exe: common[name], User: user, UID: uids[user], PID: 50000 + k,
				DestIP: ip, Port: port, Args: []string{common[name], fmt.Sprintf("http://%s:%d/x", ip, port)}, Cwd: "/tmp", Outcome: "success"})
		}
		g.Labels = append(g.Labels, Label{ID: fmt.Sprintf("attack-reuse-%d", k), Class: ClassReusedName, Kind: kind, Name: name,
			Hosts: []string{g.Hosts[h].Name}, Start: t, Detail: fmt.Sprintf("%s as %s to %s:%d", name, user, ip, port)})
	}
}

// newDestinations injects the attacks through a process of the host: a daemon, or a tool it
// runs now and then, connects to an external address it never used, on HTTPS or on its own
// port to blend in (a log shipper to an outside syslog port, a resolver to an outside DNS
// server), a few times within a minute.
func (g *gen) newDestinations(when func(int) time.Time) {
	used := map[string]bool{} // one attack per process and host: each is its own finding
	for k := range g.Spec.Attacks {
		var h int
		var d Daemon
		for {
			h = g.rng.IntN(len(g.Hosts))
			cands := g.hostDaemons(h)
			d = cands[g.rng.IntN(len(cands))]
			if !used[g.Hosts[h].Name+" "+d.Name] || len(used) >= len(g.Hosts) {
				used[g.Hosts[h].Name+" "+d.Name] = true
				break
			}
		}
		port := 443
		if g.rng.IntN(2) == 0 {
			port = d.Ports[0]
			if d.Reach != reachNone {
				port = d.ExtPort
			}
		}
		t := when(h)
		// Each attack has its own server, in a network nothing in the fleet uses.
		ip := fmt.Sprintf("%d.%d.%d.%d", 160+g.rng.IntN(30), g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254))
		for e := range 1 + g.rng.IntN(3) {
			g.emit(h, Event{Time: t.Add(time.Duration(e) * 11 * time.Second), Name: d.Name, Exe: d.Exe,
				User: d.User, UID: d.UID, PID: 60000 + k, DestIP: ip, Port: port, Args: []string{d.Exe}, Cwd: "/", Outcome: "success"})
		}
		g.Labels = append(g.Labels, Label{ID: fmt.Sprintf("attack-destination-%d", k), Class: ClassNewDestination, Name: d.Name,
			Hosts: []string{g.Hosts[h].Name}, Start: t, Detail: fmt.Sprintf("%s:%d, never used by %s on %s", ip, port, d.Name, g.Hosts[h].Name)})
	}
}

package scorer

import (
	"slices"
	"strings"
)

// The new-destination detector's view of the users a process runs as on each host. An
// intruder who makes a common name call out (a web shell's curl, a cron entry planted as
// www-data) runs it as the account it broke in through, which on that host seldom ran it: a
// host where only root's curl ever called the internal API now runs curl as www-data. The
// fleet-wide view (destusers.go) misses that when the same account runs the process on
// other hosts (www-data's curl in a web application elsewhere); this one does not. It
// weighs the evidence by how often pairs change users in a bucket, estimated over every
// (host, process) pair with a past, so in a fleet where people log in and run tools as
// themselves, a new user says little, and where services keep their accounts, much.

// destMaxPairUsers bounds the users remembered per pair: one past it (a shell, an
// interpreter every account runs on the host) is not judged by its users.
const destMaxPairUsers = 8

// addHostUser keeps a (host, user) of the process, bounded like the hosts' destinations:
// the smallest hosts, the smallest users per host, whatever the events' order.
func (a *valueAgg) addHostUser(host, user string) {
	if host == "" || user == "" {
		return
	}
	if a.hostUsers == nil {
		a.hostUsers = map[string]map[string]struct{}{}
	}
	users := a.hostUsers[host]
	if users == nil {
		if !roomFor(a.hostUsers, host, maxInfluenceValues) {
			return
		}
		users = map[string]struct{}{}
		a.hostUsers[host] = users
	}
	keepSmallest(users, user, destMaxPairUsers+1, strings.Compare)
}

// hostUserList returns the (host, user) pairs sorted by host, then user.
func (a *valueAgg) hostUserList() []HostUser {
	if len(a.hostUsers) == 0 {
		return nil
	}
	var out []HostUser
	for h, users := range a.hostUsers {
		for u := range users {
			out = append(out, HostUser{Host: h, User: u})
		}
	}
	slices.SortFunc(out, func(x, y HostUser) int {
		if c := strings.Compare(x.Host, y.Host); c != 0 {
			return c
		}
		return strings.Compare(x.User, y.User)
	})
	return out
}

// usersOn returns the users of host in a value's sorted (host, user) pairs.
func usersOn(hus []HostUser, host string) []string {
	i, _ := slices.BinarySearchFunc(hus, host, func(hu HostUser, h string) int { return strings.Compare(hu.Host, h) })
	var out []string
	for ; i < len(hus) && hus[i].Host == host; i++ {
		out = append(out, hus[i].User)
	}
	return out
}

// pairNewUsers returns the users of a bucket the pair never ran as before: nil for a pair
// that never ran before as a known user (its users are learnt, not news) or has too many.
func (p *destPair) pairNewUsers(users []string) []string {
	if p.ManyUsers || len(p.Users) == 0 {
		return nil
	}
	var out []string
	for _, u := range users {
		if _, ok := slices.BinarySearch(p.Users, u); !ok {
			out = append(out, u)
		}
	}
	return out
}

// learnPairUsers adds a bucket's users to the pair and reports whether the bucket brought a
// user the pair never ran as, counted for a pair that ran before as a known user.
func (p *destPair) learnPairUsers(users []string) (judged, novel bool) {
	if p.ManyUsers || len(users) == 0 {
		return false, false
	}
	judged = len(p.Users) > 0
	for _, u := range users {
		i, ok := slices.BinarySearch(p.Users, u)
		if ok {
			continue
		}
		novel = true
		if len(p.Users) >= destMaxPairUsers {
			p.ManyUsers, p.Users = true, nil
			return judged, novel
		}
		p.Users = slices.Insert(p.Users, i, u)
	}
	return judged, novel
}

// pairNewUserChance is the chance that a pair which ran before as a known user runs as a
// new one in a bucket: the Jeffreys estimate over every such pair's buckets, fleet-wide.
func (d *destRarity) pairNewUserChance() float64 {
	return (float64(d.pairUserPool.Novel) + 0.5) / (float64(d.pairUserPool.Active) + 1)
}

// userChance is the chance of a candidate's users: a user the process never ran as anywhere
// by the fleet's rate of such news, else a user it never ran as on the host by the pairs'
// rate (a user new to the fleet is new to the host too: the rarer of the two is what was
// seen), else 1.
func (d *destRarity) userChance(c *destCandidate) float64 {
	switch {
	case len(c.newUsers) > 0:
		return d.newUserChance()
	case len(c.newHostUsers) > 0:
		return d.pairNewUserChance()
	}
	return 1
}

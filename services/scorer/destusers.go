package scorer

import "slices"

// The new-destination detector's view of each process's users, fleet-wide, from the users
// a bucket summary holds for it: a process seen as a user it never ran as anywhere (a web
// server's account running curl, nobody running apt-get) in the bucket of a new destination
// is stronger news, as when an intruder makes a common name call out. A bucket summary says
// which users ran the process, not on which host, so the evidence is the fleet's. Processes
// change users seldom once they have run a while: the chance of a new one in a bucket is
// estimated over all processes, past their warm-up, as a pair's rate of news is.

// destMaxUsers bounds the users remembered per process: one past it (a shell, an
// interpreter every account runs) is not judged by its users.
const destMaxUsers = 32

// destUsers is what the detector knows of one process's users.
type destUsers struct {
	Last   int64    `json:"last"`
	Active int64    `json:"active"` // buckets in which it ran
	Users  []string `json:"users,omitempty"`
	Many   bool     `json:"many,omitempty"`
}

// newUsers returns the users of a bucket the process never ran as before (nil for a process
// in its warm-up or with too many users).
func (u *destUsers) newUsers(users []string) []string {
	if u == nil || u.Many || u.Active < destWarmup {
		return nil
	}
	var out []string
	for _, x := range users {
		if _, ok := slices.BinarySearch(u.Users, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// learnUsers adds every process's users of bucket k, once every candidate is judged, and
// counts the buckets that brought a new one.
func (d *destRarity) learnUsers(k int64, values []ValueSummary) {
	for _, v := range values {
		u := d.users[v.Value]
		if u == nil {
			u = &destUsers{}
			d.users[v.Value] = u
		}
		if u.Active >= destWarmup && !u.Many {
			d.userPool.Active++
			if len(u.newUsers(v.Users)) > 0 {
				d.userPool.Novel++
			}
		}
		for _, x := range v.Users {
			if u.Many {
				break
			}
			i, ok := slices.BinarySearch(u.Users, x)
			if ok {
				continue
			}
			if len(u.Users) >= destMaxUsers {
				u.Many, u.Users = true, nil
				break
			}
			u.Users = slices.Insert(u.Users, i, x)
		}
		u.Active++
		u.Last = k
	}
	trimOldest(d.users, destMaxPairs, func(u *destUsers) int64 { return u.Last })
}

// newUserChance is the chance that a process past its warm-up runs as a new user in a
// bucket: the Jeffreys estimate over every process's buckets.
func (d *destRarity) newUserChance() float64 {
	return (float64(d.userPool.Novel) + 0.5) / (float64(d.userPool.Active) + 1)
}

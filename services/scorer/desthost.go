package scorer

import "slices"

// The new-destination detector's view of whole hosts: the services (port, internal or
// external) any process of a host used. A service new to the whole host is stronger news
// than one new to a process: it judges a process with little history of its own there (a
// tool the host runs now and then, a job), as when a common name is made to call out on a
// port its host never used (curl run by a web shell, to an outside web server on port 80).
// A host's chance of meeting a new service in a bucket is estimated as a pair's is, with the
// fleet's hosts as the prior.

// destMaxHostServices bounds the services remembered per host: a host past it (a proxy, a
// scanner) uses too many for a new one to be news.
const destMaxHostServices = 64

// destHost is what the detector knows of one host.
type destHost struct {
	Last int64 `json:"last"`
	// Active counts the buckets in which any of its processes connected; Novel those after
	// the warm-up that brought a service new to the host.
	Active   int64    `json:"active"`
	Novel    int64    `json:"novel"`
	Services []uint32 `json:"services,omitempty"` // sorted
	Many     bool     `json:"many,omitempty"`
}

// knows reports whether the host used the service before (a host past the bound knows all).
func (h *destHost) knows(svc uint32) bool {
	if h == nil {
		return false
	}
	_, ok := slices.BinarySearch(h.Services, svc)
	return ok || h.Many
}

// mature reports whether the host is past its warm-up: its first buckets teach it its
// services.
func (h *destHost) mature() bool { return h != nil && h.Active >= destWarmup }

// probability is the host's chance of a new service in a bucket, as destPair.probability
// estimates a pair's, the fleet's hosts (pool, this host included) as the prior.
func (h *destHost) probability(pool destProcess) float64 {
	p := destPair{Active: h.Active, Novel: h.Novel}
	return p.probability(&pool)
}

// learnHosts adds a bucket's services to their hosts, once every candidate is judged.
func (d *destRarity) learnHosts(k int64, used map[string][]uint32) {
	hosts := make([]string, 0, len(used))
	for h := range used {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	for _, name := range hosts {
		h := d.hosts[name]
		if h == nil {
			h = &destHost{}
			d.hosts[name] = h
		}
		novel := false
		for _, svc := range used[name] {
			if h.knows(svc) {
				continue
			}
			novel = true
			if len(h.Services) >= destMaxHostServices {
				h.Many, h.Services = true, nil
				break
			}
			i, _ := slices.BinarySearch(h.Services, svc)
			h.Services = slices.Insert(h.Services, i, svc)
		}
		if h.Active >= destWarmup {
			d.hostPool.Active++
			if h.Active == destWarmup {
				d.hostPool.Pairs++
			}
			if novel {
				h.Novel++
				d.hostPool.Novel++
			}
		}
		h.Active++
		h.Last = k
	}
	trimOldest(d.hosts, destMaxPairs, func(h *destHost) int64 { return h.Last })
}

package enricher

import (
	"container/list"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Reverse DNS statuses.
const (
	RDNSOK       = "ok"
	RDNSNotFound = "not-found"
	RDNSTimeout  = "timeout"
	RDNSError    = "error"
	// RDNSBusy: every lookup slot stayed taken for the whole time allowed.
	RDNSBusy = "busy"
)

// Resolver does reverse lookups; *net.Resolver is one.
type Resolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// RDNSConfig bounds reverse DNS.
type RDNSConfig struct {
	// Timeout is the longest a record waits for its lookups, all together.
	Timeout time.Duration
	// Concurrency is the number of lookups in flight at once, across records.
	Concurrency int
	// CacheSize bounds the cache (least recently used out first); TTL is how long a name or
	// an absence of name is kept, FailureTTL how long a timeout or an error is.
	CacheSize       int
	TTL, FailureTTL time.Duration
}

// DefaultRDNSConfig: 8 lookups at once, 300ms per record, 10,000 cached addresses for an hour.
func DefaultRDNSConfig() RDNSConfig {
	return RDNSConfig{Timeout: 300 * time.Millisecond, Concurrency: 8, CacheSize: 10000, TTL: time.Hour, FailureTTL: time.Minute}
}

// ReverseDNS resolves destination addresses to names without ever holding a record longer
// than its timeout: lookups run in their own goroutines, bounded by a semaphore, and a record
// takes what has come back when its time is up. Results are cached.
//
// A ReverseDNS is safe for concurrent use.
type ReverseDNS struct {
	res Resolver
	cfg RDNSConfig
	sem chan struct{}
	now func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *rdnsEntry, most recent first
	cache map[string]*list.Element
}

type rdnsEntry struct {
	ip      string
	result  record.ReverseDNS
	expires time.Time
}

// NewReverseDNS returns a ReverseDNS on res; zero fields of cfg take the defaults.
func NewReverseDNS(res Resolver, cfg RDNSConfig) *ReverseDNS {
	def := DefaultRDNSConfig()
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = def.Concurrency
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = def.CacheSize
	}
	if cfg.TTL <= 0 {
		cfg.TTL = def.TTL
	}
	if cfg.FailureTTL <= 0 {
		cfg.FailureTTL = def.FailureTTL
	}
	return &ReverseDNS{res: res, cfg: cfg, sem: make(chan struct{}, cfg.Concurrency), now: time.Now,
		lru: list.New(), cache: map[string]*list.Element{}}
}

// Lookup resolves every address of ips (distinct), from the cache or the resolver, and
// returns within the timeout whatever happens: a lookup still running then is a timeout, one
// that never got a slot is busy.
func (d *ReverseDNS) Lookup(ctx context.Context, ips []string) map[string]record.ReverseDNS {
	out := make(map[string]record.ReverseDNS, len(ips))
	var todo []string
	for _, ip := range ips {
		if _, done := out[ip]; done || slices.Contains(todo, ip) {
			continue
		}
		if r, ok := d.cached(ip); ok {
			out[ip] = r
			continue
		}
		todo = append(todo, ip)
	}
	if len(todo) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	type answer struct {
		ip string
		r  record.ReverseDNS
	}
	answers := make(chan answer, len(todo)) // buffered: late lookups never block
	started := make([]atomic.Bool, len(todo))
	for i, ip := range todo {
		go func() {
			select {
			case d.sem <- struct{}{}:
			case <-ctx.Done():
				return // busy: the record's time ran out before a slot freed up
			}
			defer func() { <-d.sem }()
			started[i].Store(true)
			names, err := d.res.LookupAddr(ctx, ip)
			r := classify(names, err, ctx.Err())
			d.store(ip, r)
			answers <- answer{ip, r}
		}()
	}
	defer cancel() // after the wait: the lookups' context ends with the record's time
	for range todo {
		select {
		case a := <-answers:
			out[a.ip] = a.r
		case <-ctx.Done():
			for i, ip := range todo {
				if _, ok := out[ip]; ok {
					continue
				}
				if started[i].Load() {
					out[ip] = record.ReverseDNS{Status: RDNSTimeout}
				} else {
					out[ip] = record.ReverseDNS{Status: RDNSBusy}
				}
			}
			return out
		}
	}
	return out
}

// classify turns a lookup's outcome into a status.
func classify(names []string, err, ctxErr error) record.ReverseDNS {
	var dnsErr *net.DNSError
	switch {
	case err == nil && len(names) > 0:
		clean := make([]string, len(names))
		for i, n := range names {
			clean[i] = strings.TrimSuffix(n, ".")
		}
		slices.Sort(clean)
		return record.ReverseDNS{Names: slices.Compact(clean), Status: RDNSOK}
	case err == nil, errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return record.ReverseDNS{Status: RDNSNotFound}
	case ctxErr != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return record.ReverseDNS{Status: RDNSTimeout}
	}
	return record.ReverseDNS{Status: RDNSError}
}

func (d *ReverseDNS) cached(ip string) (record.ReverseDNS, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	el := d.cache[ip]
	if el == nil {
		return record.ReverseDNS{}, false
	}
	e := el.Value.(*rdnsEntry)
	if !d.now().Before(e.expires) {
		d.lru.Remove(el)
		delete(d.cache, ip)
		return record.ReverseDNS{}, false
	}
	d.lru.MoveToFront(el)
	return e.result, true
}

func (d *ReverseDNS) store(ip string, r record.ReverseDNS) {
	ttl := d.cfg.TTL
	if r.Status != RDNSOK && r.Status != RDNSNotFound {
		ttl = d.cfg.FailureTTL
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e := &rdnsEntry{ip: ip, result: r, expires: d.now().Add(ttl)}
	if el := d.cache[ip]; el != nil {
		el.Value = e
		d.lru.MoveToFront(el)
		return
	}
	d.cache[ip] = d.lru.PushFront(e)
	for d.lru.Len() > d.cfg.CacheSize {
		old := d.lru.Back()
		d.lru.Remove(old)
		delete(d.cache, old.Value.(*rdnsEntry).ip)
	}
}

// CacheLen is the number of cached addresses.
func (d *ReverseDNS) CacheLen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lru.Len()
}

package enricher

import (
	"context"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rarenet/rarenet/shared/record"
)

// dnsServer is an in-process authoritative server on a loopback UDP port: known PTR names,
// NXDOMAIN for others, SERVFAIL for one, and one address whose answer waits until released.
type dnsServer struct {
	addr    string
	mu      sync.Mutex
	queries map[string]int
	held    chan struct{} // receives when the held address is asked
	release chan struct{} // closed to answer it
	once    sync.Once
}

const (
	ptrTor     = "47.101.220.185.in-addr.arpa."
	ptrTwo     = "34.216.184.93.in-addr.arpa."
	ptrFail    = "2.2.2.192.in-addr.arpa."
	ptrHeld    = "9.100.51.198.in-addr.arpa."
	addrTor    = "185.220.101.47"
	addrTwo    = "93.184.216.34"
	addrNone   = "10.0.0.1"
	addrFail   = "192.2.2.2"
	addrHeld   = "198.51.100.9"
	addrSilent = "203.0.113.7" // never answered
)

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	s := &dnsServer{queries: map[string]int{}, held: make(chan struct{}, 16), release: make(chan struct{})}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = pc.LocalAddr().String()
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(s.serve)}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() {
		s.unhold()
		_ = srv.Shutdown()
	})
	return s
}

func (s *dnsServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	s.mu.Lock()
	s.queries[q.Name]++
	s.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	ptr := func(names ...string) {
		for _, n := range names {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60}, Ptr: n})
		}
	}
	switch q.Name {
	case ptrTor:
		ptr("tor-exit.example.org.")
	case ptrTwo:
		ptr("www.example.com.", "example.com.")
	case ptrFail:
		m.Rcode = dns.RcodeServerFailure
	case ptrHeld:
		s.held <- struct{}{}
		<-s.release
		ptr("held.example.net.")
	case "7.113.0.203.in-addr.arpa.":
		return // silence: the client times out
	default:
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

// unhold answers the held address, now and from then on.
func (s *dnsServer) unhold() { s.once.Do(func() { close(s.release) }) }

func (s *dnsServer) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[name]
}

// resolver sends every query to the test server.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.addr)
	}}
}

func TestReverseDNSLookup(t *testing.T) {
	srv := startDNS(t)
	rd := NewReverseDNS(srv.resolver(), RDNSConfig{Timeout: time.Second})
	got := rd.Lookup(testContext(t), []string{addrTor, addrTwo, addrNone, addrFail, addrSilent, addrTor})
	want := map[string]record.ReverseDNS{
		addrTor:    {Names: []string{"tor-exit.example.org"}, Status: RDNSOK},
		addrTwo:    {Names: []string{"example.com", "www.example.com"}, Status: RDNSOK},
		addrNone:   {Status: RDNSNotFound},
		addrFail:   {Status: RDNSError},
		addrSilent: {Status: RDNSTimeout},
	}
	for ip, w := range want {
		if !reflect.DeepEqual(got[ip], w) {
			t.Errorf("%s: %+v, want %+v", ip, got[ip], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d answers, want %d: %v", len(got), len(want), got)
	}
	if n := srv.count(ptrTor); n != 1 {
		t.Errorf("%s asked %d times for a repeated address, want 1", addrTor, n)
	}
}

func TestReverseDNSCache(t *testing.T) {
	srv := startDNS(t)
	ctx := testContext(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rd := NewReverseDNS(srv.resolver(), RDNSConfig{Timeout: 2 * time.Second, CacheSize: 2, TTL: time.Hour, FailureTTL: time.Minute})
	rd.now = func() time.Time { return now }
	steps := []struct {
		name    string
		advance time.Duration
		ip, ptr string
		asked   bool // whether the step reaches the server
	}{
		{"first lookup asks", 0, addrTor, ptrTor, true},
		{"cached", 30 * time.Minute, addrTor, ptrTor, false},
		{"a failure asks", 0, addrFail, ptrFail, true},
		{"a failure is cached", 30 * time.Second, addrFail, ptrFail, false},
		{"failures expire sooner", time.Minute, addrFail, ptrFail, true},
		{"names expire after the TTL", time.Hour, addrTor, ptrTor, true},
		{"a third address evicts the least recent", 0, addrTwo, ptrTwo, true},
		{"the evicted one asks again", 0, addrFail, ptrFail, true},
		{"the recent one is kept", 0, addrTwo, ptrTwo, false},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		before := srv.count(st.ptr)
		rd.Lookup(ctx, []string{st.ip})
		if asked := srv.count(st.ptr) > before; asked != st.asked {
			t.Errorf("%s: asked the server = %v, want %v", st.name, asked, st.asked)
		}
	}
	if rd.CacheLen() != 2 {
		t.Errorf("cache holds %d addresses, want its bound 2", rd.CacheLen())
	}
}

func TestReverseDNSBusy(t *testing.T) {
	srv := startDNS(t)
	ctx := testContext(t)
	rd := NewReverseDNS(srv.resolver(), RDNSConfig{Timeout: 30 * time.Second, Concurrency: 1})
	first := make(chan map[string]record.ReverseDNS)
	go func() { first <- rd.Lookup(ctx, []string{addrHeld}) }()
	<-srv.held // the only slot is taken by a lookup the server holds

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	got := rd.Lookup(short, []string{addrTor})
	if got[addrTor].Status != RDNSBusy {
		t.Errorf("with every slot taken: %+v, want busy", got[addrTor])
	}
	if n := srv.count(ptrTor); n != 0 {
		t.Errorf("a busy lookup reached the server %d times", n)
	}
	srv.unhold()
	if got := <-first; got[addrHeld].Status != RDNSOK || got[addrHeld].Names[0] != "held.example.net" {
		t.Errorf("the held lookup: %+v", got[addrHeld])
	}
	// The slot is free again.
	if got := rd.Lookup(ctx, []string{addrTor}); got[addrTor].Status != RDNSOK {
		t.Errorf("after release: %+v", got[addrTor])
	}
}

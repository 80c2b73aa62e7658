package scorer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/event"
	"github.com/rarenet/rarenet/shared/record"
)

func conn(ts time.Time, host, name, ip string, port int) *event.Event {
	e := ev(ts, name)
	e.Host.Name = host
	e.Destination = event.Endpoint{IP: ip, Port: port}
	return e
}

// destFleet feeds buckets from..to-1 of a small fleet's usual traffic: on four hosts, a
// log shipper to internal peers, a client of one external provider, and an NTP client of
// four pool servers per host, in networks far apart (pool volunteers are everywhere).
func destFleet(t *testing.T, d *Detector, from, to int) []record.Record {
	t.Helper()
	var out []record.Record
	for b := from; b < to; b++ {
		for h := range 4 {
			host := fmt.Sprintf("h%d", h)
			ts := at(b).Add(time.Duration(h) * time.Second)
			add(t, d, conn(ts, host, "rsyslogd", fmt.Sprintf("10.0.%d.%d", h, 1+b%5), 514))
			add(t, d, conn(ts, host, "curl", fmt.Sprintf("151.101.1.%d", 1+b%4), 443))
			add(t, d, conn(ts, host, "chronyd", fmt.Sprintf("%d.%d.7.1", 80+h+40*(b%4), b%4), 123))
		}
		out = append(out, d.CloseBefore(at(b+1))...)
	}
	return out
}

func destJob() Job {
	job := DefaultJob()
	job.NewDestinations = true
	return job
}

func newDestRecords(recs []record.Record) []record.Record {
	var out []record.Record
	for _, r := range recs {
		if r.DetectorIndex == destDetector {
			out = append(out, r)
		}
	}
	return out
}

// TestNewDestinationRecordsACommonProcessAtANewService: a log shipper that only ever talked
// to internal peers connects to an external address on its own port; the record says which
// detector raised it, on which host, and what was new.
func TestNewDestinationRecordsACommonProcessAtANewService(t *testing.T) {
	d := newDetector(t, destJob())
	if recs := newDestRecords(destFleet(t, d, 0, 300)); len(recs) != 0 {
		t.Fatalf("usual traffic gave %d new-destination records, first: %s", len(recs), recs[0].Explanation.NewDestination.Text)
	}
	add(t, d, conn(at(300).Add(time.Minute), "h1", "rsyslogd", "203.0.113.9", 514))
	recs := newDestRecords(destFleet(t, d, 300, 301))
	if len(recs) != 1 {
		t.Fatalf("got %d new-destination records, want 1", len(recs))
	}
	r := recs[0]
	nd := r.Explanation.NewDestination
	if r.ByFieldValue != "rsyslogd" || r.PartitionFieldName != "host.name" || r.PartitionFieldValue != "h1" ||
		r.Explanation.Detector != record.DetectorNewDestination || nd == nil || nd.New != "service" ||
		nd.Service != "514/external" || nd.IP != "203.0.113.9" || nd.ActiveBuckets != 300 || nd.NovelBuckets != 0 {
		t.Fatalf("record %+v, explanation %+v", r, nd)
	}
	if r.RecordScore < 50 || r.Probability >= 0.0027 {
		t.Errorf("score %.1f (probability %g), want a signal after 300 quiet buckets", r.RecordScore, r.Probability)
	}
	if !strings.Contains(nd.Text, "rsyslogd on h1 connected to 203.0.113.9:514, a service (514/external) it never used there") {
		t.Errorf("text %q", nd.Text)
	}
	for _, inf := range r.Influencers {
		if inf.FieldName == "destination.ip" && (len(inf.FieldValues) != 1 || inf.FieldValues[0] != "203.0.113.9") ||
			inf.FieldName == "host.name" && (len(inf.FieldValues) != 1 || inf.FieldValues[0] != "h1") {
			t.Errorf("influencer %s = %v", inf.FieldName, inf.FieldValues)
		}
	}
	// The same destination on another host soon after is not news: a change reaching one
	// host after another.
	add(t, d, conn(at(301).Add(time.Minute), "h2", "rsyslogd", "203.0.113.9", 514))
	if recs := newDestRecords(destFleet(t, d, 301, 302)); len(recs) != 0 {
		t.Errorf("a destination the fleet's rsyslogd used a bucket before gave %d records", len(recs))
	}
	// A network one host used once, a day before, is news on another: an intruder going from
	// one host to the next through the same process.
	add(t, d, conn(at(302).Add(time.Minute), "h1", "rsyslogd", "198.51.100.50", 514))
	destFleet(t, d, 302, 400)
	add(t, d, conn(at(400).Add(time.Minute), "h3", "rsyslogd", "198.51.100.60", 514))
	if recs := newDestRecords(destFleet(t, d, 400, 401)); len(recs) != 1 || recs[0].PartitionFieldValue != "h3" {
		t.Errorf("the same network a day later on another host gave %d records, want one", len(recs))
	}
}

// TestNewDestinationNetworksOfFewAndManyDestinationServices: a new external network is news
// for a client of one provider, not for an NTP client that already uses four networks.
func TestNewDestinationNetworksOfFewAndManyDestinationServices(t *testing.T) {
	d := newDetector(t, destJob())
	destFleet(t, d, 0, 300)
	add(t, d, conn(at(300).Add(time.Minute), "h3", "curl", "198.51.100.7", 443))
	add(t, d, conn(at(300).Add(time.Minute), "h3", "chronyd", "198.51.100.8", 123))
	recs := newDestRecords(destFleet(t, d, 300, 301))
	if len(recs) != 1 || recs[0].ByFieldValue != "curl" || recs[0].Explanation.NewDestination.New != "network" ||
		recs[0].Explanation.NewDestination.Network != "198.51.100.0/24" {
		t.Fatalf("got %d records (%v), want one for curl's new network", len(recs), values(recs))
	}
	if nd := recs[0].Explanation.NewDestination; len(nd.KnownNetworks) != 1 || nd.KnownNetworks[0] != "151.101.1.0/24" {
		t.Errorf("known networks %v", nd.KnownNetworks)
	}
}

// TestNewDestinationWaitsForHistory: a pair still in its warm-up learns, and so does a fleet
// whose pairs are all in theirs: nothing is known yet of how often the process finds new
// destinations.
func TestNewDestinationWaitsForHistory(t *testing.T) {
	d := newDetector(t, destJob())
	destFleet(t, d, 0, destWarmup)
	add(t, d, conn(at(destWarmup).Add(time.Minute), "h0", "rsyslogd", "203.0.113.9", 514))
	if recs := newDestRecords(destFleet(t, d, destWarmup, destWarmup+1)); len(recs) != 0 {
		t.Fatalf("a pair at the end of its warm-up gave %d records", len(recs))
	}
}

// TestNewDestinationLearnsFromTheFleet: a pair with a short history of its own is judged by
// its peers': after 60 buckets, a log shipper whose three peers never met a new destination
// signals, while the same process alone in the fleet, with only its own 44 quiet buckets
// after the warm-up, stays below the rule's threshold.
func TestNewDestinationLearnsFromTheFleet(t *testing.T) {
	d := newDetector(t, destJob())
	destFleet(t, d, 0, 60)
	add(t, d, conn(at(60).Add(time.Minute), "h0", "rsyslogd", "198.51.100.9", 4444))
	recs := newDestRecords(destFleet(t, d, 60, 61))
	if len(recs) != 1 || recs[0].RecordScore < 50 {
		t.Fatalf("with peers: %d records (%v), want one above the threshold", len(recs), recs)
	}

	alone := newDetector(t, destJob())
	for b := range 60 {
		add(t, alone, conn(at(b), "h0", "rsyslogd", fmt.Sprintf("10.0.0.%d", 1+b%5), 514))
		add(t, alone, conn(at(b), "h0", "sshd", "10.0.0.9", 22))
		alone.CloseBefore(at(b + 1))
	}
	add(t, alone, conn(at(60).Add(time.Minute), "h0", "rsyslogd", "198.51.100.9", 4444))
	add(t, alone, conn(at(60), "h0", "sshd", "10.0.0.9", 22))
	recs = newDestRecords(alone.CloseBefore(at(61)))
	if len(recs) != 1 || recs[0].RecordScore >= 50 {
		t.Fatalf("alone: %d records (%v), want one below the threshold", len(recs), recs)
	}
}

// TestNewDestinationOfAToolRunNowAndThen: a tool a host runs now and then, still in its
// warm-up there, calls out on a port no process of the host ever used: the host's own
// experience judges it.
func TestNewDestinationOfAToolRunNowAndThen(t *testing.T) {
	d := newDetector(t, destJob())
	for b := range 200 {
		for h := range 4 {
			host := fmt.Sprintf("h%d", h)
			add(t, d, conn(at(b).Add(time.Duration(h)*time.Second), host, "rsyslogd", "10.0.0.1", 514))
			if b%20 == h { // the operator's curl to the internal API, ten times on each host
				add(t, d, conn(at(b).Add(time.Minute), host, "curl", "10.0.5.5", 8080))
			}
		}
		if recs := newDestRecords(d.CloseBefore(at(b + 1))); len(recs) != 0 {
			t.Fatalf("bucket %d: usual traffic gave %d records", b, len(recs))
		}
	}
	add(t, d, conn(at(200).Add(time.Minute), "h2", "curl", "192.0.2.77", 80))
	for h := range 4 {
		add(t, d, conn(at(200), fmt.Sprintf("h%d", h), "rsyslogd", "10.0.0.1", 514))
	}
	recs := newDestRecords(d.CloseBefore(at(201)))
	if len(recs) != 1 || recs[0].PartitionFieldValue != "h2" || !recs[0].Explanation.NewDestination.HostNew || recs[0].RecordScore < 50 {
		t.Fatalf("got %d records (%v), want one for curl on h2 above the threshold, new to the host", len(recs), recs)
	}
	if nd := recs[0].Explanation.NewDestination; nd.ActiveBuckets >= destWarmup || !strings.Contains(nd.Text, "a service no process of h2 used before") {
		t.Errorf("explanation %+v", nd)
	}
}

// TestNewDestinationContentNetworkWidens: a client of a content network meets a new /24
// in nearly every bucket at first, then none that is news within the network's /16, while
// an address far outside it is.
func TestNewDestinationContentNetworkWidens(t *testing.T) {
	d := newDetector(t, destJob())
	for b := range 300 {
		for h := range 4 {
			add(t, d, conn(at(b).Add(time.Duration(h)*time.Second), fmt.Sprintf("h%d", h), "apt-get", fmt.Sprintf("151.101.%d.%d", (b*7+h*13)%256, 1+b%200), 443))
		}
		if b >= 20 {
			if recs := newDestRecords(d.CloseBefore(at(b + 1))); len(recs) != 0 {
				t.Fatalf("bucket %d: a content network's /24 gave a record: %s", b, recs[0].Explanation.NewDestination.Text)
			}
			continue
		}
		d.CloseBefore(at(b + 1))
	}
	add(t, d, conn(at(300).Add(time.Minute), "h1", "apt-get", "185.199.108.5", 443))
	recs := newDestRecords(d.CloseBefore(at(301)))
	if len(recs) != 1 || recs[0].Explanation.NewDestination.Network != "185.199.0.0/16" || recs[0].Explanation.NewDestination.New != "network" {
		t.Fatalf("got %d records (%v), want one for the network outside the content network's /16", len(recs), recs)
	}
}

// TestNewDestinationOffByDefault: the reference's job has no such detector, and gathers no
// destinations per host.
func TestNewDestinationOffByDefault(t *testing.T) {
	d := newDetector(t, DefaultJob())
	destFleet(t, d, 0, 300)
	add(t, d, conn(at(300).Add(time.Minute), "h1", "rsyslogd", "203.0.113.9", 514))
	if recs := destFleet(t, d, 300, 301); len(recs) != 0 {
		t.Fatalf("the default job wrote %d records", len(recs))
	}
	add(t, d, conn(at(301), "h1", "rsyslogd", "203.0.113.9", 514))
	sums, _ := d.Aggregator.CloseBefore(at(302))
	if hd := sums[0].Values[0].HostDestinations; hd != nil {
		t.Fatalf("the default job gathered host destinations: %v", hd)
	}
}

// TestNewDestinationSurvivesACheckpoint: a model restored from its checkpoint writes the same
// records as the one that kept running.
func TestNewDestinationSurvivesACheckpoint(t *testing.T) {
	a := newDetector(t, destJob())
	destFleet(t, a, 0, 250)
	b, err := json.Marshal(a.Rarity.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var st RarityState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	c := newDetector(t, destJob())
	if err := c.Rarity.Restore(st); err != nil {
		t.Fatal(err)
	}
	c.Aggregator.closed = a.Aggregator.closed
	var got [2][]record.Record
	for i, d := range []*Detector{a, c} {
		add(t, d, conn(at(250).Add(time.Minute), "h1", "rsyslogd", "203.0.113.9", 514))
		got[i] = newDestRecords(destFleet(t, d, 250, 252))
	}
	ja, _ := json.Marshal(got[0])
	jc, _ := json.Marshal(got[1])
	if len(got[0]) != 1 || string(ja) != string(jc) {
		t.Fatalf("kept running: %s\nrestored: %s", ja, jc)
	}
}

// TestHostDestinationsKeepTheSmallestKeys: a host's keys per bucket are bounded, and the
// bound keeps the smallest, whatever the order.
func TestHostDestinationsKeepTheSmallestKeys(t *testing.T) {
	job := destJob()
	b := newJobBucket(0, job)
	for p := 40; p > 0; p-- {
		b.add(conn(at(0), "h1", "curl", "10.0.0.1", 1000+p), newJobFields(job), new([]*valueAgg))
		b.add(conn(at(0), "h1", "curl", "10.0.0.2", 1000+p), newJobFields(job), new([]*valueAgg))
	}
	hd := b.summary(job.Influencers).Values[0].HostDestinations
	if len(hd) != maxHostDestKeys || hd[0] != (HostDestination{Host: "h1", IP: "10.0.0.1", Port: 1001}) {
		t.Fatalf("host destinations %v", hd)
	}
}

func TestDestKeyOf(t *testing.T) {
	tests := []struct {
		granularity, ip string
		port            int
		want            string
	}{
		{DestKeyDefault, "10.1.2.3", 514, "514/internal|"},
		{DestKeyDefault, "100.64.1.1", 514, "514/internal|"},
		{DestKeyDefault, "203.0.113.9", 443, "443/external|203.0.113.0/24"},
		{DestKeyDefault, "::ffff:203.0.113.9", 443, "443/external|203.0.113.0/24"},
		{DestKeyDefault, "2001:db8:1:2::5", 443, "443/external|2001:db8:1::/48"},
		{DestKeyDefault, "203.0.113.9", 45000, "ephemeral/external|203.0.113.0/24"},
		{DestKeyService, "203.0.113.9", 443, "443/external|"},
	}
	for _, tt := range tests {
		k, ok := destKeyOf(tt.granularity, tt.ip, tt.port)
		if got := serviceName(k.service) + "|" + networkName(k.network, 0); !ok || got != tt.want {
			t.Errorf("destKeyOf(%q, %s, %d) = %q, %v; want %q", tt.granularity, tt.ip, tt.port, got, ok, tt.want)
		}
	}
	// The alternatives are hashed: the same address and port give the same key, another
	// address in the network another one under "ip" but not under "net".
	same := func(g, a, b string) bool {
		ka, _ := destKeyOf(g, a, 443)
		kb, _ := destKeyOf(g, b, 443)
		return ka == kb && ka.service&svcHashed != 0
	}
	if !same(DestKeyIP, "203.0.113.9", "203.0.113.9") || same(DestKeyIP, "203.0.113.9", "203.0.113.10") ||
		!same(DestKeyNet, "203.0.113.9", "203.0.113.10") || same(DestKeyNet, "203.0.113.9", "203.0.114.9") {
		t.Error("the ip and net granularities do not compare as they should")
	}
	for _, tt := range []struct {
		ip    string
		level uint8
		want  string
	}{{"203.0.113.9", 1, "203.0.0.0/16"}, {"203.0.113.9", 2, "203.0.0.0/8"}, {"2001:db8:1:2::5", 1, "2001:db8::/32"}, {"2001:db8:1:2::5", 2, "2001::/16"}} {
		k, _ := destKeyOf(DestKeyDefault, tt.ip, 443)
		if got := networkName(coarsen(k.network, tt.level), tt.level); got != tt.want {
			t.Errorf("%s at level %d: %s, want %s", tt.ip, tt.level, got, tt.want)
		}
	}
	if _, ok := destKeyOf("", "not an address", 1); ok {
		t.Error("an invalid address gave a key")
	}
}

// TestNewDestinationOnSeveralHostsAtOnceIsOneRecord: a provider moving shows as one new
// network on several hosts in the same bucket; it is one finding, on the first host.
func TestNewDestinationOnSeveralHostsAtOnceIsOneRecord(t *testing.T) {
	d := newDetector(t, destJob())
	destFleet(t, d, 0, 300)
	for _, h := range []string{"h2", "h0", "h3"} {
		add(t, d, conn(at(300).Add(time.Minute), h, "curl", "198.51.100.7", 443))
	}
	recs := newDestRecords(destFleet(t, d, 300, 301))
	if len(recs) != 1 || recs[0].PartitionFieldValue != "h0" || strings.Join(recs[0].Explanation.NewDestination.AlsoOn, ",") != "h2,h3" {
		t.Fatalf("got %d records (%v), want one on h0, also on h2 and h3", len(recs), values(recs))
	}
}

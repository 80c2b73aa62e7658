package scorer

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// userFleet feeds buckets 0..199 (its first 60 to learn from) of four hosts whose application server opens a new internal
// port every fifth bucket (so a service new to a host is no news), and whose operators run
// curl now and then to an internal API: as root on every host, and on h3 as www-data too
// (a web application's own curl).
func userFleet(t *testing.T, d *Detector) {
	t.Helper()
	for b := range 200 {
		for h := range 4 {
			host := fmt.Sprintf("h%d", h)
			e := conn(at(b).Add(time.Duration(h)*time.Second), host, "app", "10.0.0.1", 2000+b/5)
			e.User.Name = "app"
			add(t, d, e)
			if b%20 == h {
				e := conn(at(b).Add(time.Minute), host, "curl", "10.0.5.5", 8080)
				e.User.Name = "root"
				add(t, d, e)
			}
			if h == 3 && b%20 == 10 {
				e := conn(at(b).Add(2*time.Minute), host, "curl", "10.0.5.5", 8080)
				e.User.Name = "www-data"
				add(t, d, e)
			}
		}
		// The first buckets teach the hosts that new services are common.
		if recs := newDestRecords(d.CloseBefore(at(b + 1))); b >= 60 && len(recs) != 0 {
			t.Fatalf("bucket %d: usual traffic gave %d records: %s", b, len(recs), recs[0].Explanation.NewDestination.Text)
		}
	}
}

// curlAt feeds bucket 200: curl on h2 to an outside web server on port 80, as user, with the
// fleet's usual traffic, and returns the new-destination records.
func curlAt(t *testing.T, d *Detector, user string) []record.Record {
	t.Helper()
	e := conn(at(200).Add(time.Minute), "h2", "curl", "192.0.2.77", 80)
	e.User.Name = user
	add(t, d, e)
	for h := range 4 {
		e := conn(at(200), fmt.Sprintf("h%d", h), "app", "10.0.0.1", 2000+40)
		e.User.Name = "app"
		add(t, d, e)
	}
	return newDestRecords(d.CloseBefore(at(201)))
}

// TestNewDestinationByAUserNewToTheHost: on a host where only root's curl ever called the
// internal API, curl runs as www-data to an outside address on port 80. www-data runs curl
// on another host, so the fleet-wide users say nothing, and the host often meets new
// services, so the new service alone is weak; the user new to curl on this host makes it a
// record, and the same call as root does not.
func TestNewDestinationByAUserNewToTheHost(t *testing.T) {
	d := newDetector(t, destJob())
	userFleet(t, d)
	if recs := curlAt(t, d, "root"); len(recs) != 0 {
		t.Fatalf("root's curl to a new service on a host that often meets new ones gave a record: %s", recs[0].Explanation.NewDestination.Text)
	}

	d = newDetector(t, destJob())
	userFleet(t, d)
	recs := curlAt(t, d, "www-data")
	if len(recs) != 1 || recs[0].PartitionFieldValue != "h2" || recs[0].RecordScore < 50 {
		t.Fatalf("got %d records (%v), want one for www-data's curl on h2 above the threshold", len(recs), recs)
	}
	nd := recs[0].Explanation.NewDestination
	if len(nd.NewUsers) != 0 || !slices.Equal(nd.NewHostUsers, []string{"www-data"}) {
		t.Errorf("new users %v anywhere, %v on the host: want none anywhere, www-data on the host", nd.NewUsers, nd.NewHostUsers)
	}
	if want := "in a bucket in which it ran as a user it never ran as on h2 before (www-data)"; !strings.Contains(nd.Text, want) {
		t.Errorf("text %q, want it to say %q", nd.Text, want)
	}
}

// TestPairUsersBounded: a pair that runs as many users (a shell every account runs) is no
// longer judged by its users, and a pair that never ran as a known user learns its first.
func TestPairUsersBounded(t *testing.T) {
	var p destPair
	if p.pairNewUsers([]string{"root"}) != nil {
		t.Fatalf("a pair without users judged its first")
	}
	if judged, _ := p.learnPairUsers([]string{"root"}); judged {
		t.Fatalf("a pair's first user was judged")
	}
	if got := p.pairNewUsers([]string{"alice", "root"}); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("new users %v, want alice", got)
	}
	for i := range destMaxPairUsers {
		p.learnPairUsers([]string{fmt.Sprintf("u%02d", i)})
	}
	if !p.ManyUsers || p.Users != nil || p.pairNewUsers([]string{"mallory"}) != nil {
		t.Fatalf("pair past the bound: %+v", p)
	}
}

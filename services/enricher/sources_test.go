package enricher

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/shared/record"
)

// world is a history fed as the store feeds it: each value's entry, then the fleet.
type world struct {
	entries map[string]*Entry
	fleet   Fleet
}

// report applies one bucket of value on hosts, from source ("" for input none vouched for).
func (w *world) report(bucket int64, value, source string, hosts ...string) {
	v := record.ValueSummary{Value: value, EventCount: int64(len(hosts)), Hosts: hosts}
	if source != "" {
		v.SourcedEvents = v.EventCount
		for _, h := range hosts {
			v.HostSources = append(v.HostSources, record.HostSource{Host: h, Source: source})
		}
	}
	o := observation{bucket: bucket, span: spanMS, value: v}
	if w.entries == nil {
		w.entries = map[string]*Entry{}
	}
	e := w.entries[value]
	if e == nil {
		e = &Entry{Name: value}
		w.entries[value] = e
	}
	e.apply(o)
	w.fleet.apply(o)
}

// build is the context of a record of value in bucket k on hosts.
func (w *world) build(value string, k int64, hosts ...string) *record.Context {
	r := &record.Record{Timestamp: k, BucketSpan: 900, ByFieldValue: value, Probability: 1e-3, RecordScore: 75,
		Influencers: []record.Influencer{{FieldName: "host.name", FieldValues: hosts}}}
	return Build(r, Inputs{Entry: w.entries[value], Fleet: &w.fleet})
}

// poisoned is the attack: source web-shipper-1 reports the fleet's sshd (and a file
// replay its cron) for three days and more; from bucket 10 web-shipper-2, which never
// reported those hosts, posts socat on each of them once a day; at bucket 298 (3 days after
// the first fake) web-shipper-1 reports a real socat on web-2. With sources "" every input
// is unvouched, as in a replay of files.
func poisoned(shipper, attacker string) *world {
	w := &world{}
	for i := range int64(299) {
		w.report(bk(i), "sshd", shipper, "web-1", "web-2", "web-3")
		w.report(bk(i), "cron", "", "web-4")
		w.report(bk(i), "nginx", shipper, "web-5")
		if i%96 == 10 {
			w.report(bk(i), "socat", attacker, "web-1", "web-2", "web-3")
		}
	}
	w.report(bk(298), "socat", shipper, "web-2")
	return w
}

// TestPoisonedHistoryShowsInTheReason: the reason of a record says when a process's history
// came from one source alone, and when it first came to a host from a source that had never
// reported that host before; input no source vouched for reads as it always did.
func TestPoisonedHistoryShowsInTheReason(t *testing.T) {
	w := poisoned("web-shipper-1", "web-shipper-2")

	first := w.build("socat", bk(10), "web-1", "web-2", "web-3")
	wantFact := "on web-1, web-2, web-3 first seen from source web-shipper-2, which had never reported those hosts before"
	if !slices.Contains(first.Why.Facts, wantFact) {
		t.Errorf("the first fake socat's reason lacks %q:\n%s", wantFact, first.Why.Text)
	}
	if h := first.History.Hosts[1]; h.Name != "web-2" || !slices.Equal(h.FirstSources, []string{"web-shipper-2"}) || !slices.Equal(h.NewSources, []string{"web-shipper-2"}) {
		t.Errorf("web-2's history %+v", h)
	}
	if first.History.OnlySource != "" || first.History.Sources != nil {
		t.Errorf("a process new in its bucket has no sources before it: %+v", first.History)
	}

	real := w.build("socat", bk(298), "web-2")
	wantFact = "first seen 3 days ago, only from source web-shipper-2, which had never reported web-2 before"
	if !slices.Contains(real.Why.Facts, wantFact) {
		t.Errorf("the real socat's reason lacks %q:\n%s", wantFact, real.Why.Text)
	}
	if h := real.History; h.OnlySource != "web-shipper-2" || !slices.Equal(h.Sources, []string{"web-shipper-2"}) {
		t.Errorf("history %+v", h)
	}
	// As of any bucket: the history ahead of the record (a redelivery) tells the same.
	ahead := poisoned("web-shipper-1", "web-shipper-2")
	ahead.report(bk(299), "socat", "web-shipper-1", "web-2")
	if got := ahead.build("socat", bk(298), "web-2").Why.Text; got != real.Why.Text {
		t.Errorf("with the history a bucket ahead:\n%s\nwant\n%s", got, real.Why.Text)
	}
	// The shipper's own processes, on the hosts only it reports, are no news.
	if c := w.build("nginx", bk(298), "web-5"); strings.Contains(c.Why.Text, "source") || c.History.OnlySource != "" {
		t.Errorf("nginx, which only web-shipper-1 reports on its own host: %s (%+v)", c.Why.Text, c.History)
	}
	// But where another source speaks for the same hosts, one source's word is all there is.
	if c := w.build("sshd", bk(298), "web-1"); c.History.OnlySource != "web-shipper-1" {
		t.Errorf("sshd, which web-shipper-2's hosts never showed: %s (%+v)", c.Why.Text, c.History)
	}

	// One source reporting the whole fleet: nothing to contrast it with.
	alone := &world{}
	for i := range int64(20) {
		alone.report(bk(i), "sshd", "central", "web-1")
		if i >= 10 {
			alone.report(bk(i), "socat", "central", "web-1")
		}
	}
	if c := alone.build("socat", bk(19), "web-1"); strings.Contains(c.Why.Text, "source") {
		t.Errorf("a fleet of one source: %s", c.Why.Text)
	}

	// History unvouched first, then from one source: not one source's alone.
	mixed := poisoned("web-shipper-1", "web-shipper-2")
	mixed.report(bk(300), "nc", "", "web-4")
	mixed.report(bk(301), "nc", "web-shipper-2", "web-4")
	if c := mixed.build("nc", bk(302), "web-4"); c.History.OnlySource != "" || !slices.Equal(c.History.Sources, []string{"web-shipper-2"}) {
		t.Errorf("nc, first unvouched: %+v", c.History)
	}
	if c := mixed.build("nc", bk(301), "web-4"); c.History.Sources != nil {
		t.Errorf("nc as of its first vouched bucket: %+v", c.History)
	}
}

// TestUnvouchedHistoryIsUnchanged: without authenticated sources the context has none of
// the fields of sources, and the process entries none either.
func TestUnvouchedHistoryIsUnchanged(t *testing.T) {
	w := poisoned("", "")
	for _, c := range []*record.Context{w.build("socat", bk(10), "web-1", "web-2", "web-3"), w.build("socat", bk(298), "web-2")} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{"sources", "only_source", "first_sources", "new_sources"} {
			if strings.Contains(string(b), `"`+field+`"`) {
				t.Errorf("context has %s: %s", field, b)
			}
		}
		if strings.Contains(c.Why.Text, "source") {
			t.Errorf("reason %q", c.Why.Text)
		}
	}
	for name, e := range w.entries {
		if e.Sources != nil || e.FirstSources != nil {
			t.Errorf("%s's entry keeps sources: %v %v", name, e.Sources, e.FirstSources)
		}
	}
	if len(w.fleet.Sources) != 1 || w.fleet.Sources[unvouched] == nil || w.fleet.HostSources != nil {
		t.Errorf("fleet sources %v, host sources %v: want only the unvouched", w.fleet.Sources, w.fleet.HostSources)
	}
}

// TestSourcesBounds: a process keeps its earliest sources, a host its earliest reporters,
// and names are cut to their bound.
func TestSourcesBounds(t *testing.T) {
	w := &world{}
	long := strings.Repeat("x", 100)
	for i := range int64(20) {
		w.report(bk(i), "curl", fmt.Sprintf("src-%02d", i), "web-1")
	}
	w.report(bk(20), "curl", long, "web-1")
	e := w.entries["curl"]
	if len(e.Sources) != maxSources || e.Sources["src-00"] == nil || e.Sources["src-07"] == nil || e.Sources["src-08"] != nil {
		t.Errorf("process sources %v: want the %d earliest", e.Sources, maxSources)
	}
	if got := w.fleet.HostSources["web-1"]; len(got) != maxHostSources || got["src-00"] != bk(0) || got["src-01"] != bk(1) {
		t.Errorf("web-1's reporters %v: want the %d earliest", got, maxHostSources)
	}
	if w.fleet.Sources[long[:maxSourceName]] == nil || len(w.fleet.Sources) != 21 {
		t.Errorf("fleet sources %d, the long one cut: %v", len(w.fleet.Sources), w.fleet.Sources[long[:maxSourceName]])
	}
	if got, complete := e.sourcesBefore(bk(30)); complete || len(got) != maxSources {
		t.Errorf("sources before: %v (complete %v), want the bound and incomplete", got, complete)
	}
	for _, tt := range []struct {
		ms   int64
		want string
	}{{3 * 24 * 3600e3, "3 days"}, {24*3600e3 + 5, "1 day"}, {3600e3, "1 hour"}, {5 * 3600e3, "5 hours"}, {15 * 60e3, "15 minutes"}} {
		if got := ago(tt.ms); got != tt.want {
			t.Errorf("ago(%d) = %q, want %q", tt.ms, got, tt.want)
		}
	}
	if got := listHosts([]string{"a", "b", "c", "d", "e", "f", "g"}); got != "a, b, c, d, e and 2 more" {
		t.Errorf("listHosts = %q", got)
	}
}

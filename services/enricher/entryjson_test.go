package enricher

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"
)

// TestEntryJSONMatchesEncodingJSON holds appendEntry and appendFleet to what json.Marshal
// writes, byte for byte, on random values of every field (testing/quick fills a field added
// later too, so a field the appenders miss fails here), with strings that need escaping, nil
// and empty maps and slices, and the bench's realistic entry. Each is written twice: with a
// fresh key order, and with the key order left by the entries before it (stale, as the
// store's is after its entries change).
func TestEntryJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var entryKeys, fleetKeys keyOrder
	var nums numCache
	strs := []string{"", "web-01", "10.0.0.1", "443", "a\"b", `back\slash`, "<tag>&", "tab\there", "é", "日本", "\xff\xfe", "\u2028", "\x00"}
	// Random structure from testing/quick, then some strings swapped for awkward ones.
	for i := range 500 {
		v, ok := quick.Value(reflect.TypeOf(Entry{}), r)
		if !ok {
			t.Fatal("quick cannot make an Entry")
		}
		e := v.Interface().(Entry)
		if i%3 == 0 {
			e.Name = strs[r.Intn(len(strs))]
			e.Hosts = map[string]*Seen{strs[r.Intn(len(strs))]: {First: 1, Last: 2, Buckets: 3}, strs[r.Intn(len(strs))]: nil}
			e.Runs = map[string][]int64{strs[r.Intn(len(strs))]: nil, "h": {}}
			e.FirstSources = map[string][]string{"h": {strs[r.Intn(len(strs))], ""}, "g": nil}
		}
		if i%7 == 0 {
			e.Episodes, e.Users, e.IPs = nil, map[string]*Seen{}, nil
		}
		checkJSON(t, &e, appendEntry(nil, &e, nil, nil))
		checkJSON(t, &e, appendEntry(nil, &e, &entryKeys, &nums))
		fv, _ := quick.Value(reflect.TypeOf(Fleet{}), r)
		f := fv.Interface().(Fleet)
		if i%3 == 0 {
			f.HostSources = map[string]map[string]int64{strs[r.Intn(len(strs))]: {strs[r.Intn(len(strs))]: -5}, "x": nil, "y": {}}
		}
		checkJSON(t, &f, appendFleet(nil, &f, nil, nil))
		checkJSON(t, &f, appendFleet(nil, &f, &fleetKeys, &nums))
	}
	checkJSON(t, benchEntry(), appendEntry(nil, benchEntry(), nil, nil))
	checkJSON(t, (*Entry)(nil), appendEntry(nil, nil, nil, nil))
	checkJSON(t, &Fleet{}, appendFleet(nil, &Fleet{}, nil, nil))
}

// TestEntryJSONKeyOrderFollowsChanges writes one entry again and again with the same key
// order as its maps change the way the history changes them (a key added, a key dropped,
// one key swapped for another so the count stays), each write held to encoding/json's.
func TestEntryJSONKeyOrderFollowsChanges(t *testing.T) {
	e := benchEntry()
	var keys keyOrder
	var nums numCache
	write := func(what string) {
		t.Helper()
		got := appendEntry([]byte("prefix"), e, &keys, &nums)
		want, _ := json.Marshal(e)
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("after %s: appended JSON differs from encoding/json's:\n got %s\nwant %s", what, got, want)
		}
	}
	write("the first write")
	write("no change")
	e.IPs["0.0.0.1"] = &Seen{First: 1, Last: 2, Buckets: 1}
	write("an address added first in order")
	e.IPs["zz"] = &Seen{First: 1, Last: 2, Buckets: 1}
	write("an address added last in order")
	delete(e.IPs, "0.0.0.1")
	write("an address dropped")
	delete(e.Hosts, "web-07.prod.example.com")
	e.Hosts["web-99.prod.example.com"] = &Seen{First: 5, Last: 6, Buckets: 2}
	write("a host swapped for another")
	delete(e.Hosts, "web-00.prod.example.com")
	e.Hosts["web-00.prod.example.com"] = nil
	write("a host swapped for itself, nil")
	e.Users = nil
	write("the users gone")
	e.Users = map[string]*Seen{"root": {First: 1, Last: 1, Buckets: 1}}
	write("a user back")
	e.Hosts["web-01.prod.example.com"].Last += 256 * e.SpanMS // the slot of the last time, another time
	write("a time in a slot written before")
	for _, ip := range []string{"203.0.0.0", "203.0.3.81", "zz"} { // first, middle, last
		e.IPs[ip].Buckets += 1000
		write("the count of " + ip + " grown by digits")
	}
	e.IPs["203.0.3.81"].First, e.IPs["203.0.0.0"].Buckets = -5, 0
	e.IPs["zz"] = &Seen{First: 9, Last: 9, Buckets: 9} // a new value, the same key
	write("values shrunk, another replaced")
	write("no change again")
	e.IPs["203.0.3.81"] = nil
	write("a nil item")
	write("a nil item again")
	e.IPs["203.0.3.81"] = &Seen{First: 1, Last: 1, Buckets: 1}
	write("the nil item back")
}

func checkJSON(t *testing.T, v any, got []byte) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appended JSON differs from encoding/json's:\n got %s\nwant %s", got, want)
	}
}

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
// and empty maps and slices, and the bench's realistic entry.
func TestEntryJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
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
		checkJSON(t, &e, appendEntry(nil, &e))
		fv, _ := quick.Value(reflect.TypeOf(Fleet{}), r)
		f := fv.Interface().(Fleet)
		if i%3 == 0 {
			f.HostSources = map[string]map[string]int64{strs[r.Intn(len(strs))]: {strs[r.Intn(len(strs))]: -5}, "x": nil, "y": {}}
		}
		checkJSON(t, &f, appendFleet(nil, &f))
	}
	checkJSON(t, benchEntry(), appendEntry(nil, benchEntry()))
	checkJSON(t, (*Entry)(nil), appendEntry(nil, nil))
	checkJSON(t, &Fleet{}, appendFleet(nil, &Fleet{}))
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

package geoipdb

import (
	"encoding/csv"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/rarenet/rarenet/services/enricher/geoipdb/npmtest"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// overlapping is a table of n rows, each overlapping the one before.
func overlapping(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "1.0.0.%d,1.0.0.255,%d,X\n", i, i+1)
	}
	return b.String()
}

func TestReadASNTableErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, text, want string }{
		{"empty", "", "no rows"},
		{"out of order", "1.0.4.0,1.0.7.255,1,A\n1.0.0.0,1.0.0.255,2,B\n", "t.csv:2: range 1.0.0.0-1.0.0.255 does not start after the one on line 1 (1.0.4.0)"},
		{"same start", "1.0.0.0,1.0.0.255,1,A\n1.0.0.0,1.0.0.255,2,B\n", "t.csv:2: range 1.0.0.0-1.0.0.255 does not start after"},
		{"a country table", "1.0.0.0,1.0.0.255,AU\n", "t.csv:1: 3 columns: a country table"},
		{"five columns", "1.0.0.0,1.0.0.255,1,A,x\n", "t.csv:1: 5 columns, want 4"},
		{"numeric table", "16777216,16777471,13335,X\n", `t.csv:1: ip_range_start "16777216": want an IP address`},
		{"bad end", "1.0.0.0,1.0.0.x,1,A\n", `t.csv:1: ip_range_end "1.0.0.x"`},
		{"mixed families", "1.0.0.0,2001::1,1,A\n", "t.csv:1: range 1.0.0.0-2001::1 mixes IPv4 and IPv6"},
		{"mapped address", "::ffff:1.0.0.0,::ffff:1.0.0.255,1,A\n", "want plain IPv4 or IPv6 addresses"},
		{"backwards", "1.0.0.9,1.0.0.1,1,A\n", "t.csv:1: range 1.0.0.9-1.0.0.1 ends before it starts"},
		{"AS not a number", "1.0.0.0,1.0.0.255,AS13335,A\n", `t.csv:1: autonomous_system_number "AS13335": want a number`},
		{"AS too large", "1.0.0.0,1.0.0.255,4294967296,A\n", `autonomous_system_number "4294967296"`},
		{"bad quoting", "1.0.0.0,1.0.0.255,1,\"A\n", "t.csv: parse error on line 1"},
		{"mostly overlaps", overlapping(20), "19 of 20 rows overlap the row before them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, dir, "t.csv", tt.text)
			_, err := readASNTable(p, "t.csv", func(asnRow) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReadASNTableHeaderAndOverlap(t *testing.T) {
	p := writeFile(t, t.TempDir(), "h.csv", "ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization\n"+
		"1.0.0.0,1.0.0.255,1,\"A, Inc.\"\n")
	var rows []asnRow
	st, err := readASNTable(p, "h.csv", func(r asnRow) error { rows = append(rows, r); return nil })
	if err != nil || st.Rows != 1 || rows[0].org != "A, Inc." || rows[0].line != 2 {
		t.Fatalf("%+v %+v %v", st, rows, err)
	}
	fx, err := readASNTable("testdata/asn-fixture.csv", "asn-fixture.csv", func(asnRow) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := overlap{File: "asn-fixture.csv", Line: 3, Start: "1.0.7.0", End: "1.0.7.255", Kept: 64502, Given: 64501}
	if fx.Rows != 9 || fx.IPv4 != 6 || fx.IPv6 != 3 || len(fx.Overlaps) != 1 || fx.Overlaps[0] != want {
		t.Errorf("fixture: %+v, want 9 rows (6 IPv4) and the overlap %+v", fx, want)
	}
}

// lookupAS opens an ASN database and returns a function answering an address's AS, or 0.
func lookupAS(t *testing.T, path string) func(string) (uint32, string) {
	t.Helper()
	db, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func(ip string) (uint32, string) {
		var r asnRecord
		res := db.Lookup(netip.MustParseAddr(ip))
		if err := res.Decode(&r); err != nil {
			t.Fatalf("%s: %v", ip, err)
		}
		return r.Number, r.Organization
	}
}

func TestBuildASNFixture(t *testing.T) {
	out := filepath.Join(t.TempDir(), "asn.mmdb")
	date := time.Date(2026, 6, 17, 19, 0, 0, 0, time.UTC)
	st, err := buildASN([]table{{path: "testdata/asn-fixture.csv", name: "asn-fixture.csv"}}, out, date, "fixture")
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 9 || len(st.Overlaps) != 1 {
		t.Errorf("stats %+v", st)
	}
	as := lookupAS(t, out)
	for _, c := range []struct {
		ip  string
		asn uint32
		org string
	}{
		{"1.0.0.1", 64500, "Example Networks, Inc."},
		{"1.0.3.255", 0, ""}, // the gap between two rows
		{"1.0.6.255", 64501, "Example Transit Pty Ltd"},
		{"1.0.7.0", 64502, "Overlapping Example LLC"}, // the overlap: the later row
		{"1.0.7.255", 64502, "Overlapping Example LLC"},
		{"1.0.8.255", 64502, "Overlapping Example LLC"},
		{"1.0.9.0", 0, ""},
		{"5.128.0.1", 64503, "Big Block Example"},
		{"192.88.99.1", 64504, "6to4 Relay Example"}, // special-purpose ranges are kept as published
		{"198.51.100.23", 64508, "Documentation Range Example"},
		{"2001:4:112::1", 64505, "AS112 Example"},
		{"2002:102:304::1", 64506, "6to4 Example"},
		{"2a00:1450:4001::1", 64507, "Example Europe Ltd, Dublin"},
		{"2a00:1451::", 0, ""},
	} {
		if n, org := as(c.ip); n != c.asn || org != c.org {
			t.Errorf("%s: AS%d %q, want AS%d %q", c.ip, n, org, c.asn, c.org)
		}
	}
	db, err := maxminddb.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Metadata.DatabaseType != ASNDatabaseType || !db.Metadata.BuildTime().Equal(date) || db.Metadata.Description["en"] != "fixture" {
		t.Errorf("metadata %+v", db.Metadata)
	}
}

func TestBuildASNTwoTablesOfOneFamily(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.csv", "1.0.0.0,1.0.0.255,1,A\n")
	b := writeFile(t, dir, "b.csv", "2.0.0.0,2.0.0.255,2,B\n")
	_, err := buildASN([]table{{a, "a.csv"}, {b, "b.csv"}}, filepath.Join(dir, "o.mmdb"), time.Now(), "x")
	if err == nil || !strings.Contains(err.Error(), "b.csv holds IPv4 ranges, and so does a table before it") {
		t.Errorf("error %v", err)
	}
}

// TestBuildASNRealSlice builds from a few hundred rows of the real table, taken from the real
// package at test time, and checks the database entry by entry: each row's first, middle and
// last address answer its AS, and the address after each row answers nothing unless the next
// row starts there.
func TestBuildASNRealSlice(t *testing.T) {
	p := needReal(t)
	tmp := t.TempDir()
	parts, err := readTarball(fetched{path: p.Tarballs[npmtest.ASN], source: "asn.tgz"}, tmp)
	if err != nil {
		t.Fatal(err)
	}
	var tables []table
	var rows [][]asnRow
	for _, pt := range parts {
		// Every 997th row of asn-ipv4.csv (412 rows), every 251st of asn-ipv6.csv (412 rows).
		every := map[bool]int{true: 997, false: 251}[strings.HasSuffix(pt.name, "ipv4.csv")]
		var slice []asnRow
		var b strings.Builder
		w := csv.NewWriter(&b)
		i := 0
		if _, err := readASNTable(pt.path, pt.name, func(r asnRow) error {
			if i%every == 0 {
				slice = append(slice, r)
				w.Write([]string{r.start.String(), r.end.String(), strconv.FormatUint(uint64(r.number), 10), r.org})
			}
			i++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		name := "slice-" + filepath.Base(pt.name[strings.LastIndex(pt.name, ":")+1:])
		tables = append(tables, table{path: writeFile(t, tmp, name, b.String()), name: name})
		rows = append(rows, slice)
	}
	if len(tables) != 2 {
		t.Fatalf("%d tables in %s, want asn-ipv4.csv and asn-ipv6.csv", len(tables), npmtest.ASN)
	}
	out := filepath.Join(tmp, "slice.mmdb")
	st, err := buildASN(tables, out, time.Now(), "slice")
	if err != nil {
		t.Fatal(err)
	}
	as := lookupAS(t, out)
	checked := 0
	for _, slice := range rows {
		for i, r := range slice {
			mid := r.start
			for k := 0; k < 3 && mid.Next().Compare(r.end) <= 0; k++ {
				mid = mid.Next()
			}
			for _, a := range []netip.Addr{r.start, mid, r.end} {
				if n, org := as(a.String()); n != r.number || org != r.org {
					t.Errorf("%s (row %s-%s): AS%d %q, want AS%d %q", a, r.start, r.end, n, org, r.number, r.org)
				}
				checked++
			}
			after := r.end.Next()
			if after.IsValid() && (i+1 == len(slice) || after.Less(slice[i+1].start)) {
				if n, _ := as(after.String()); n != 0 {
					t.Errorf("%s, after row %s-%s: AS%d, want nothing", after, r.start, r.end, n)
				}
				checked++
			}
		}
	}
	t.Logf("%d rows (%d IPv4), %d addresses checked", st.Rows, st.IPv4, checked)
	if st.Rows < 800 {
		t.Errorf("only %d rows in the slice", st.Rows)
	}
}

// FuzzReadASNTable: no input crashes the table reader, and what it accepts is ordered.
func FuzzReadASNTable(f *testing.F) {
	fx, err := os.ReadFile("testdata/asn-fixture.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(fx))
	f.Add("1.0.0.0,1.0.0.255,1,A\n1.0.0.0,1.0.0.255,2,B\n")
	f.Add("ip_range_start,x\n\"")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		p := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var prev netip.Addr
		_, _ = readASNTable(p, "f.csv", func(r asnRow) error {
			if prev.IsValid() && r.start.Compare(prev) <= 0 || r.end.Less(r.start) {
				t.Fatalf("accepted %s-%s after %s", r.start, r.end, prev)
			}
			prev = r.start
			return nil
		})
	})
}

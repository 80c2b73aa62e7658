package geoipdb

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// ASNDatabaseType is the database_type of the ASN databases built here. The records have
// GeoLite2-ASN's fields, so any reader of MaxMind's ASN database reads them.
const ASNDatabaseType = "rarenet-ASN"

// asnRecord is the record of the built database, as GeoLite2-ASN names its fields.
type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// table is one ASN table to build from: a local file, and its name for messages.
type table struct {
	path, name string
}

// buildStats is what building the ASN database found and did.
type buildStats struct {
	tableStats
	Tables int
}

// buildASN builds a MaxMind-format ASN database at out from the tables, in their order, with
// the data's date as its build time. It then opens what it wrote, verifies its structure, and
// looks up the first address of every row and the last of every row no later row overlaps:
// each must answer that row's AS.
func buildASN(tables []table, out string, date time.Time, description string) (buildStats, error) {
	var st buildStats
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: ASNDatabaseType,
		Description:  map[string]string{"en": description},
		BuildEpoch:   date.Unix(),
		RecordSize:   28,
		// The tables are taken as published: they hold a few special-purpose ranges (AS112's
		// 2001:4:112::/48, 6to4's 192.88.99.0/24 and 2002::/16) that the writer otherwise refuses.
		// The enricher looks up public addresses only, and unmaps IPv4-mapped ones itself.
		IncludeReservedNetworks: true,
		DisableIPv4Aliasing:     true,
	})
	if err != nil {
		return st, fmt.Errorf("geoipdb: %w", err)
	}
	for _, t := range tables {
		ts, err := readASNTable(t.path, t.name, func(r asnRow) error {
			v := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(r.number)}
			if r.org != "" {
				v["autonomous_system_organization"] = mmdbtype.String(r.org)
			}
			if err := w.InsertRange(net.IP(r.start.AsSlice()), net.IP(r.end.AsSlice()), v); err != nil {
				return fmt.Errorf("%s:%d: %w", t.name, r.line, err)
			}
			return nil
		})
		if err != nil {
			return st, err
		}
		// Two tables of one family would overwrite each other's ranges.
		if ts.IPv4 > 0 && st.IPv4 > 0 || ts.IPv6 > 0 && st.IPv6 > 0 {
			return st, fmt.Errorf("geoipdb: %s holds IPv%s ranges, and so does a table before it: give one table per address family, or one for both",
				t.name, map[bool]string{true: "4", false: "6"}[ts.IPv4 > 0 && st.IPv4 > 0])
		}
		st.Tables++
		st.Rows += ts.Rows
		st.IPv4 += ts.IPv4
		st.IPv6 += ts.IPv6
		st.Overlaps = append(st.Overlaps, ts.Overlaps...)
	}
	if err := writeTree(w, out); err != nil {
		return st, err
	}
	return st, verifyASN(out, tables)
}

func writeTree(w *mmdbwriter.Tree, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("geoipdb: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	_, err = w.WriteTo(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// verifyASN checks the database built at path against the tables it was built from.
func verifyASN(path string, tables []table) error {
	db, err := maxminddb.Open(path)
	if err != nil {
		return fmt.Errorf("geoipdb: the database built does not open: %w", err)
	}
	defer db.Close()
	if err := db.Verify(); err != nil {
		return fmt.Errorf("geoipdb: the database built is not valid: %w", err)
	}
	if db.Metadata.DatabaseType != ASNDatabaseType || db.Metadata.IPVersion != 6 {
		return fmt.Errorf("geoipdb: the database built has type %q, IP version %d", db.Metadata.DatabaseType, db.Metadata.IPVersion)
	}
	check := func(t table, r asnRow, a netip.Addr) error {
		var got asnRecord
		res := db.Lookup(a)
		if err := res.Decode(&got); err != nil || !res.Found() || got.Number != r.number || got.Organization != r.org {
			return fmt.Errorf("geoipdb: %s:%d: the database built answers %s with AS%d %q (found %v, %v), want AS%d %q",
				t.name, r.line, a, got.Number, got.Organization, res.Found(), err, r.number, r.org)
		}
		return nil
	}
	for _, t := range tables {
		var prev *asnRow
		_, err := readASNTable(t.path, t.name, func(r asnRow) error {
			if prev != nil && r.start.Compare(prev.end) > 0 {
				if err := check(t, *prev, prev.end); err != nil {
					return err
				}
			}
			if err := check(t, r, r.start); err != nil {
				return err
			}
			prev = &r
			return nil
		})
		if err != nil {
			return err
		}
		if err := check(t, *prev, prev.end); err != nil {
			return err
		}
	}
	return nil
}

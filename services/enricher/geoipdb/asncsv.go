package geoipdb

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ip-location-db's ASN tables (asn-ipv4.csv, asn-ipv6.csv, origin-asn.csv) have one inclusive
// range a line, without a header: ip_range_start, ip_range_end, autonomous_system_number,
// autonomous_system_organization (the project's README, "ASN"). Organisations with commas are
// quoted.

// A table may hold a few rows that overlap the row before them (ip-location-db's asn
// 2.3.2026061719 has one in 411,961 IPv4 rows); a file with many more than maxOverlaps plus
// maxOverlapShare of its rows is not a table of disjoint ranges at all.
const (
	maxOverlaps     = 10
	maxOverlapShare = 0.01
)

// asnRow is one range of an ASN table.
type asnRow struct {
	line       int
	start, end netip.Addr
	number     uint32
	org        string
}

// overlap is a range claimed by two consecutive rows; the later row is kept.
type overlap struct {
	File        string
	Line        int
	Start, End  string
	Kept, Given uint32
}

func (o overlap) String() string {
	return fmt.Sprintf("%s:%d: %s-%s given to AS%d and AS%d; the later row (AS%d) kept", o.File, o.Line, o.Start, o.End, o.Given, o.Kept, o.Kept)
}

// tableStats is what reading an ASN table found.
type tableStats struct {
	Rows, IPv4, IPv6 int
	Overlaps         []overlap
}

// readASNTable reads the ASN table at path (named name in messages), checks each row and that
// rows come in order of their start addresses, and calls fn on each. A row that overlaps the one
// before it is counted and passed on: inserted after it, it wins the overlap.
func readASNTable(path, name string, fn func(asnRow) error) (tableStats, error) {
	var st tableStats
	f, err := os.Open(path)
	if err != nil {
		return st, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // checked here, with a message naming the expected columns
	r.ReuseRecord = true
	var prev asnRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", name, err) // a csv.ParseError names the line
		}
		line, _ := r.FieldPos(0)
		if st.Rows == 0 && line == 1 && isHeader(rec) {
			continue
		}
		row, err := parseASNRow(rec, line)
		if err != nil {
			return st, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if st.Rows > 0 {
			if row.start.Compare(prev.start) <= 0 {
				return st, fmt.Errorf("%s:%d: range %s-%s does not start after the one on line %d (%s): the table must be ordered by start address",
					name, line, row.start, row.end, prev.line, prev.start)
			}
			if row.start.Compare(prev.end) <= 0 {
				end := prev.end
				if row.end.Compare(end) < 0 {
					end = row.end
				}
				st.Overlaps = append(st.Overlaps, overlap{File: name, Line: line, Start: row.start.String(), End: end.String(), Kept: row.number, Given: prev.number})
			}
		}
		st.Rows++
		if row.start.Is4() {
			st.IPv4++
		} else {
			st.IPv6++
		}
		if err := fn(row); err != nil {
			return st, err
		}
		prev = row
	}
	if st.Rows == 0 {
		return st, fmt.Errorf("%s: no rows: want ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization", name)
	}
	if float64(len(st.Overlaps)) > maxOverlaps+maxOverlapShare*float64(st.Rows) {
		return st, fmt.Errorf("%s: %d of %d rows overlap the row before them (first: %s): not a table of disjoint ranges", name, len(st.Overlaps), st.Rows, st.Overlaps[0])
	}
	return st, nil
}

// isHeader tells a header line ("ip_range_start,...") from data.
func isHeader(rec []string) bool {
	if len(rec) == 0 {
		return false
	}
	_, err := netip.ParseAddr(rec[0])
	return err != nil && strings.Contains(strings.ToLower(rec[0]), "ip")
}

func parseASNRow(rec []string, line int) (asnRow, error) {
	row := asnRow{line: line}
	switch {
	case len(rec) == 3:
		return row, fmt.Errorf("3 columns: a country table (ip_range_start,ip_range_end,country_code)? want ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization")
	case len(rec) != 4:
		return row, fmt.Errorf("%d columns, want 4: ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization", len(rec))
	}
	var err error
	if row.start, err = netip.ParseAddr(rec[0]); err != nil {
		return row, fmt.Errorf("ip_range_start %q: want an IP address (numeric -num tables are not read)", rec[0])
	}
	if row.end, err = netip.ParseAddr(rec[1]); err != nil {
		return row, fmt.Errorf("ip_range_end %q: want an IP address", rec[1])
	}
	if row.start.Zone() != "" || row.end.Zone() != "" || row.start.Is4In6() || row.end.Is4In6() {
		return row, fmt.Errorf("range %s-%s: want plain IPv4 or IPv6 addresses", rec[0], rec[1])
	}
	if row.start.Is4() != row.end.Is4() {
		return row, fmt.Errorf("range %s-%s mixes IPv4 and IPv6", rec[0], rec[1])
	}
	if row.end.Less(row.start) {
		return row, fmt.Errorf("range %s-%s ends before it starts", rec[0], rec[1])
	}
	n, err := strconv.ParseUint(rec[2], 10, 32)
	if err != nil {
		return row, fmt.Errorf("autonomous_system_number %q: want a number from 0 to 4294967295", rec[2])
	}
	row.number, row.org = uint32(n), strings.TrimSpace(rec[3])
	return row, nil
}

package geoipdb

import (
	"fmt"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// countryRecord reads the country of a record in either shape: ip-location-db's flat
// country_code, or MaxMind's country.iso_code (registered_country when the country is unknown).
type countryRecord struct {
	CountryCode string `maxminddb:"country_code"`
	Country     struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

func (r *countryRecord) code() string {
	switch {
	case r.Country.ISOCode != "":
		return r.Country.ISOCode
	case r.RegisteredCountry.ISOCode != "":
		return r.RegisteredCountry.ISOCode
	}
	return r.CountryCode
}

// countryInfo is what checking a country database found.
type countryInfo struct {
	Type     string
	Built    time.Time
	Nodes    uint
	Networks int
}

// checkCountry opens the country database at path (named name in messages), verifies its
// metadata, walks its search tree and decodes every network's record: each must carry a
// two-letter country code, in ip-location-db's shape or MaxMind's.
func checkCountry(path, name string) (countryInfo, error) {
	var info countryInfo
	db, err := maxminddb.Open(path)
	if err != nil {
		return info, fmt.Errorf("%s: not a MaxMind-format database: %w", name, err)
	}
	defer db.Close()
	m := db.Metadata
	info.Type, info.Built, info.Nodes = m.DatabaseType, m.BuildTime().UTC(), m.NodeCount
	t := strings.ToLower(m.DatabaseType)
	switch {
	case strings.Contains(t, "asn"):
		return info, fmt.Errorf("%s: an ASN database (%q): geoip update builds the ASN database from ip-location-db's CSV table; give a MaxMind ASN database to --geoip-asn instead", name, m.DatabaseType)
	case !strings.Contains(t, "country") && !strings.Contains(t, "city"):
		return info, fmt.Errorf("%s: database type %q: want a country (or city) database", name, m.DatabaseType)
	case m.IPVersion != 6:
		return info, fmt.Errorf("%s: IPv%d only: want a database of IPv4 and IPv6 (ip-location-db's file without -ipv4/-ipv6 in its name)", name, m.IPVersion)
	case m.BuildEpoch == 0:
		return info, fmt.Errorf("%s: no build time in its metadata", name)
	}
	// maxminddb's Verify refuses ip-location-db's databases for their empty description, so the
	// walk is done here: every network of the tree, each record decoded to a country code.
	for res := range db.Networks() {
		var r countryRecord
		if err := res.Decode(&r); err != nil {
			return info, fmt.Errorf("%s: network %s: %w", name, res.Prefix(), err)
		}
		if c := r.code(); len(c) != 2 || strings.ToUpper(c) != c {
			return info, fmt.Errorf("%s: network %s: country %q, want a two-letter ISO 3166-1 code", name, res.Prefix(), c)
		}
		info.Networks++
	}
	if info.Networks == 0 {
		return info, fmt.Errorf("%s: no networks", name)
	}
	return info, nil
}

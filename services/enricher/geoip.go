package enricher

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/rarenet/rarenet/shared/record"
)

// GeoIP answers "which organisation, which place?" from MaxMind-format databases: an ASN
// database (GeoLite2-ASN or compatible) and a City or Country database. Either may be absent.
// The readers are safe for concurrent use.
type GeoIP struct {
	asn, city *maxminddb.Reader
}

// asnRecord is the part of a GeoLite2-ASN record the enricher uses.
type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// cityRecord is the part of a GeoLite2-City (or -Country) record the enricher uses.
type cityRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country           country `maxminddb:"country"`
	RegisteredCountry country `maxminddb:"registered_country"`
	Continent         struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
}

type country struct {
	ISOCode string            `maxminddb:"iso_code"`
	Names   map[string]string `maxminddb:"names"`
}

// OpenGeoIP opens the databases at the given paths; an empty path skips that database.
func OpenGeoIP(asnPath, cityPath string) (*GeoIP, error) {
	g := &GeoIP{}
	var err error
	if asnPath != "" {
		if g.asn, err = maxminddb.Open(asnPath); err != nil {
			return nil, fmt.Errorf("enricher: --geoip-asn: %w", err)
		}
	}
	if cityPath != "" {
		if g.city, err = maxminddb.Open(cityPath); err != nil {
			g.Close()
			return nil, fmt.Errorf("enricher: --geoip-city: %w", err)
		}
	}
	return g, nil
}

// Close releases the databases.
func (g *GeoIP) Close() error {
	var errs []error
	for _, r := range []*maxminddb.Reader{g.asn, g.city} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}

// Lookup returns the autonomous system and the place of ip; nil where the databases know
// nothing (private addresses, for a start) or are not given. A database error counts as
// "nothing known": the record goes on without it.
func (g *GeoIP) Lookup(ip string) (*record.AS, *record.Geo) {
	if g == nil {
		return nil, nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, nil
	}
	a = a.Unmap().WithZone("")
	var as *record.AS
	if g.asn != nil {
		var r asnRecord
		if res := g.asn.Lookup(a); res.Found() && res.Decode(&r) == nil && (r.Number != 0 || r.Organization != "") {
			as = &record.AS{Number: r.Number, Organization: r.Organization}
		}
	}
	var geo *record.Geo
	if g.city != nil {
		var r cityRecord
		if res := g.city.Lookup(a); res.Found() && res.Decode(&r) == nil {
			c := r.Country
			if c.ISOCode == "" {
				c = r.RegisteredCountry
			}
			out := record.Geo{CountryISOCode: c.ISOCode, CountryName: c.Names["en"], CityName: r.City.Names["en"], ContinentCode: r.Continent.Code}
			if out != (record.Geo{}) {
				geo = &out
			}
		}
	}
	return as, geo
}

package enricher

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/rarenet/rarenet/services/enricher/geoipdb"
	"github.com/rarenet/rarenet/shared/record"
)

// GeoIP answers "which organisation, which place?" from MaxMind-format databases: an ASN
// database (GeoLite2-ASN or compatible) and a City or Country database (GeoLite2's, or
// ip-location-db's with its flat country_code). Either may be absent. The readers are safe for
// concurrent use; a GeoIP is never changed once open (a newer set is a new GeoIP).
type GeoIP struct {
	asn, city     *maxminddb.Reader
	asnDB, cityDB *GeoIPDatabase
	// dir is the data directory the databases were looked for in, and stamp its manifest as it
	// was then, to notice an update.
	dir   string
	stamp fileStamp
}

// GeoIPDatabase describes an open database: what it answers, its name (the MaxMind database
// type, or the package its data came from), the date of its data, and its file.
type GeoIPDatabase struct {
	Kind geoipdb.Kind
	Name string
	Date time.Time
	Path string
}

// Stale tells whether the database's data is older than geoipdb.MaxAge at now.
func (d GeoIPDatabase) Stale(now time.Time) bool { return now.Sub(d.Date) > geoipdb.MaxAge }

func (d *GeoIPDatabase) record() *record.GeoIPDatabase {
	return &record.GeoIPDatabase{Name: d.Name, Date: d.Date.UTC().Format(time.DateOnly)}
}

// asnRecord is the part of a GeoLite2-ASN record the enricher uses.
type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

// cityRecord is the part of a GeoLite2-City (or -Country) record the enricher uses, and
// ip-location-db's country_code.
type cityRecord struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Country           country `maxminddb:"country"`
	RegisteredCountry country `maxminddb:"registered_country"`
	Continent         struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	CountryCode string `maxminddb:"country_code"`
}

type country struct {
	ISOCode string            `maxminddb:"iso_code"`
	Names   map[string]string `maxminddb:"names"`
}

// OpenGeoIP opens the databases at the given paths; an empty path skips that database.
func OpenGeoIP(asnPath, cityPath string) (*GeoIP, error) {
	return LoadGeoIP(asnPath, cityPath, "")
}

// LoadGeoIP opens the databases at the given paths and, for a kind without one, the database
// of that kind in the data directory dir (written by `rarenet geoip update`, described by its
// manifest), when dir is given and holds one.
func LoadGeoIP(asnPath, cityPath, dir string) (*GeoIP, error) {
	g := &GeoIP{dir: dir}
	var err error
	if asnPath != "" {
		if g.asn, g.asnDB, err = openDatabase(geoipdb.KindASN, asnPath, nil); err != nil {
			return nil, fmt.Errorf("enricher: --geoip-asn: %w", err)
		}
	}
	if cityPath != "" {
		if g.city, g.cityDB, err = openDatabase(geoipdb.KindCountry, cityPath, nil); err != nil {
			g.Close()
			return nil, fmt.Errorf("enricher: --geoip-city: %w", err)
		}
	}
	if dir == "" || (g.asn != nil && g.city != nil) {
		return g, nil
	}
	g.stamp = stampOf(dir)
	m, err := geoipdb.ReadManifest(dir)
	if errors.Is(err, geoipdb.ErrNoManifest) {
		return g, nil
	}
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("enricher: --geoip-dir: %w", err)
	}
	for _, k := range []geoipdb.Kind{geoipdb.KindASN, geoipdb.KindCountry} {
		d := m.Databases[k]
		if d == nil || (k == geoipdb.KindASN && g.asn != nil) || (k == geoipdb.KindCountry && g.city != nil) {
			continue
		}
		r, db, err := openDatabase(k, d.Path(dir), d)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("enricher: --geoip-dir: %w", err)
		}
		if k == geoipdb.KindASN {
			g.asn, g.asnDB = r, db
		} else {
			g.city, g.cityDB = r, db
		}
	}
	return g, nil
}

// openDatabase opens one database, named and dated by its manifest entry when it has one, else
// by its own metadata.
func openDatabase(kind geoipdb.Kind, path string, d *geoipdb.Database) (*maxminddb.Reader, *GeoIPDatabase, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, nil, err
	}
	db := &GeoIPDatabase{Kind: kind, Name: r.Metadata.DatabaseType, Date: r.Metadata.BuildTime().UTC(), Path: path}
	if d != nil {
		db.Name, db.Date = d.Name, d.Date.UTC()
	}
	return r, db, nil
}

// Databases describes the open databases, ASN first.
func (g *GeoIP) Databases() []GeoIPDatabase {
	var out []GeoIPDatabase
	if g == nil {
		return out
	}
	for _, d := range []*GeoIPDatabase{g.asnDB, g.cityDB} {
		if d != nil {
			out = append(out, *d)
		}
	}
	return out
}

// Changed tells whether the data directory's manifest changed since the databases were opened:
// an update ran, and LoadGeoIP would open newer ones.
func (g *GeoIP) Changed() bool {
	return g != nil && g.dir != "" && stampOf(g.dir) != g.stamp
}

// fileStamp identifies a version of a file well enough to notice it was replaced.
type fileStamp struct {
	exists  bool
	size    int64
	modTime time.Time
}

func stampOf(dir string) fileStamp {
	fi, err := os.Stat(filepath.Join(dir, geoipdb.ManifestFile))
	if err != nil {
		return fileStamp{} // none yet (or unreadable: opening would fail the same way)
	}
	return fileStamp{exists: true, size: fi.Size(), modTime: fi.ModTime()}
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

// Lookup returns the autonomous system and the place of ip, each naming the database that
// answered; nil where the databases know nothing (private addresses, for a start) or are not
// given. A database error counts as "nothing known": the record goes on without it.
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
			as = &record.AS{Number: r.Number, Organization: record.ASOrganization{Name: r.Organization}, Database: g.asnDB.record()}
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
			if c.ISOCode == "" {
				c.ISOCode = r.CountryCode
			}
			out := record.Geo{CountryISOCode: c.ISOCode, CountryName: c.Names["en"], CityName: r.City.Names["en"], ContinentCode: r.Continent.Code}
			if out != (record.Geo{}) {
				out.Database = g.cityDB.record()
				geo = &out
			}
		}
	}
	return as, geo
}

package enricher

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/rarenet/rarenet/shared/record"
)

// writeMMDB builds a small MaxMind-format database of the given type in dir.
func writeMMDB(t *testing.T, dir, dbType string, networks map[string]mmdbtype.Map) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, BuildEpoch: testBuilt.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, v := range networks {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, v); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	path := filepath.Join(dir, dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// testBuilt is the build time of the test databases: their data's date.
var testBuilt = time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)

func names(en string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(en)} }

// testGeoIP builds an ASN and a City database: a Tor exit range in Germany (with a city), a
// cloud range in the Netherlands (country only), an IPv6 range registered in Ireland.
func testGeoIP(t *testing.T) (asnPath, cityPath string) {
	dir := t.TempDir()
	asnPath = writeMMDB(t, dir, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"185.220.101.0/24": {"autonomous_system_number": mmdbtype.Uint32(60729), "autonomous_system_organization": mmdbtype.String("Stiftung Erneuerbare Freiheit")},
		"45.83.0.0/16":     {"autonomous_system_number": mmdbtype.Uint32(208843)},
		"2a05:d000::/25":   {"autonomous_system_number": mmdbtype.Uint32(16509), "autonomous_system_organization": mmdbtype.String("AMAZON-02")},
	})
	cityPath = writeMMDB(t, dir, "GeoLite2-City", map[string]mmdbtype.Map{
		"185.220.101.0/24": {
			"city":      mmdbtype.Map{"names": names("Berlin")},
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String("DE"), "names": names("Germany")},
			"continent": mmdbtype.Map{"code": mmdbtype.String("EU")},
		},
		"45.83.0.0/16": {
			"country": mmdbtype.Map{"iso_code": mmdbtype.String("NL"), "names": names("Netherlands")},
		},
		"2a05:d000::/25": {
			"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("IE"), "names": names("Ireland")},
		},
	})
	return asnPath, cityPath
}

func TestGeoIPLookup(t *testing.T) {
	asnPath, cityPath := testGeoIP(t)
	g, err := OpenGeoIP(asnPath, cityPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	asnOnly, err := OpenGeoIP(asnPath, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { asnOnly.Close() })
	asnDB := &record.GeoIPDatabase{Name: "GeoLite2-ASN", Date: "2026-11-20"}
	cityDB := &record.GeoIPDatabase{Name: "GeoLite2-City", Date: "2026-11-20"}
	tor := &record.AS{Number: 60729, Organization: record.ASOrganization{Name: "Stiftung Erneuerbare Freiheit"}, Database: asnDB}
	berlin := &record.Geo{CountryISOCode: "DE", CountryName: "Germany", CityName: "Berlin", ContinentCode: "EU", Database: cityDB}
	tests := []struct {
		name string
		g    *GeoIP
		ip   string
		as   *record.AS
		geo  *record.Geo
	}{
		{"both databases", g, "185.220.101.47", tor, berlin},
		{"mapped IPv4", g, "::ffff:185.220.101.47", tor, berlin},
		{"country only, AS without organisation", g, "45.83.1.2", &record.AS{Number: 208843, Database: asnDB},
			&record.Geo{CountryISOCode: "NL", CountryName: "Netherlands", Database: cityDB}},
		{"IPv6, registered country", g, "2a05:d018::1", &record.AS{Number: 16509, Organization: record.ASOrganization{Name: "AMAZON-02"}, Database: asnDB},
			&record.Geo{CountryISOCode: "IE", CountryName: "Ireland", Database: cityDB}},
		{"unknown network", g, "8.8.8.8", nil, nil},
		{"private", g, "10.0.0.1", nil, nil},
		{"invalid", g, "not-an-ip", nil, nil},
		{"no city database", asnOnly, "185.220.101.47", tor, nil},
		{"no databases", nil, "185.220.101.47", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, geo := tt.g.Lookup(tt.ip)
			if !reflect.DeepEqual(as, tt.as) || !reflect.DeepEqual(geo, tt.geo) {
				t.Errorf("Lookup(%s) = %+v, %+v; want %+v, %+v", tt.ip, as, geo, tt.as, tt.geo)
			}
		})
	}
}

func TestOpenGeoIPErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not.mmdb")
	if err := os.WriteFile(notDB, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, asn, city string }{
		{"missing ASN file", filepath.Join(dir, "missing.mmdb"), ""},
		{"not a database", "", notDB},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if g, err := OpenGeoIP(tt.asn, tt.city); err == nil {
				g.Close()
				t.Fatal("OpenGeoIP succeeded, want an error")
			}
		})
	}
}

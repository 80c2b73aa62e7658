package enricher

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/enricher/geoipdb"
	"github.com/rarenet/rarenet/shared/record"
)

// updateFromFixture runs `rarenet geoip update` (geoipdb.Update) on the ASN fixture table of
// geoipdb into dir, dated date.
func updateFromFixture(t *testing.T, dir string, date time.Time) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("geoipdb", "testdata", "asn-fixture.csv"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "origin-asn.csv")
	if err := os.WriteFile(p, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, date, date); err != nil {
		t.Fatal(err)
	}
	if _, err := geoipdb.Update(context.Background(), geoipdb.Options{Dir: dir, From: []string{p}}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadGeoIPFromDir(t *testing.T) {
	dir := t.TempDir()
	date := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	updateFromFixture(t, dir, date)
	asnPath, cityPath := testGeoIP(t)

	g, err := LoadGeoIP("", cityPath, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	dbs := g.Databases()
	if len(dbs) != 2 || dbs[0].Name != "origin-asn.csv" || !dbs[0].Date.Equal(date) || dbs[0].Path != filepath.Join(dir, geoipdb.ASNFile) ||
		dbs[1].Name != "GeoLite2-City" || dbs[1].Path != cityPath {
		t.Fatalf("databases %+v", dbs)
	}
	as, _ := g.Lookup("2a00:1450:4001::1")
	want := &record.AS{Number: 64507, Organization: record.ASOrganization{Name: "Example Europe Ltd, Dublin"},
		Database: &record.GeoIPDatabase{Name: "origin-asn.csv", Date: "2026-11-30"}}
	if as == nil || *as.Database != *want.Database || as.Number != want.Number || as.Organization != want.Organization {
		t.Errorf("AS %+v, want %+v", as, want)
	}
	// The signal's context carries ECS's names: as.number, as.organization.name, geo.country_iso_code.
	b, err := json.Marshal(record.Destination{IP: "2a00:1450:4001::1", IPClass: ClassPublic, AS: as,
		Geo: &record.Geo{CountryISOCode: "IE", Database: &record.GeoIPDatabase{Name: "x", Date: "2026-11-30"}}})
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"ip":"2a00:1450:4001::1","ip_class":"public","as":{"number":64507,"organization":{"name":"Example Europe Ltd, Dublin"},` +
		`"database":{"name":"origin-asn.csv","date":"2026-11-30"}},"geo":{"country_iso_code":"IE","database":{"name":"x","date":"2026-11-30"}}}`
	if string(b) != wantJSON {
		t.Errorf("JSON\n got %s\nwant %s", b, wantJSON)
	}

	// --geoip-asn takes MaxMind's own file over the directory's.
	g2, err := LoadGeoIP(asnPath, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g2.Close() })
	if dbs := g2.Databases(); len(dbs) != 1 || dbs[0].Name != "GeoLite2-ASN" {
		t.Errorf("with --geoip-asn: %+v", dbs)
	}

	// A directory no update ran in: nothing, and no error.
	g3, err := LoadGeoIP("", "", t.TempDir())
	if err != nil || len(g3.Databases()) != 0 {
		t.Errorf("empty directory: %+v, %v", g3.Databases(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, geoipdb.ManifestFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGeoIP("", "", dir); err == nil || !strings.Contains(err.Error(), "--geoip-dir") {
		t.Errorf("broken manifest: %v", err)
	}
}

// TestGeoStateReload: the enricher opens what an update writes while it runs, and warns of
// stale data at start and again a day later.
func TestGeoStateReload(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	g := geoState{dir: dir, log: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := g.open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	g.report(now)
	if len(g.get().Databases()) != 0 || !strings.Contains(logs.String(), "no GeoIP databases") {
		t.Fatalf("before any update: %+v\n%s", g.get().Databases(), logs.String())
	}

	updateFromFixture(t, dir, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)) // 93 days before now
	if err := g.tick(context.Background(), now.Add(geoipCheckEvery)); err != nil {
		t.Fatal(err)
	}
	if dbs := g.get().Databases(); len(dbs) != 1 || dbs[0].Kind != geoipdb.KindASN {
		t.Fatalf("after the update: %+v\n%s", dbs, logs.String())
	}
	for _, want := range []string{"GeoIP databases updated", `GeoIP database is stale`, "age_days=93", "max_age_days=60", "date=2026-09-01"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	before := strings.Count(logs.String(), "is stale")
	if err := g.tick(context.Background(), now.Add(2*geoipCheckEvery)); err != nil {
		t.Fatal(err)
	}
	if strings.Count(logs.String(), "is stale") != before {
		t.Error("warned again within the day")
	}
	if err := g.tick(context.Background(), now.Add(geoipCheckEvery+geoipWarnEvery)); err != nil {
		t.Fatal(err)
	}
	if strings.Count(logs.String(), "is stale") != before+1 {
		t.Errorf("not warned again a day later:\n%s", logs.String())
	}

	// A broken update keeps the databases open.
	if err := os.WriteFile(filepath.Join(dir, geoipdb.ManifestFile), []byte(`{"format":1,"databases":{"asn":{"file":"missing.mmdb"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := g.tick(context.Background(), now.Add(3*geoipCheckEvery+geoipWarnEvery)); err != nil {
		t.Fatal(err)
	}
	if len(g.get().Databases()) != 1 || !strings.Contains(logs.String(), "cannot be opened; keeping the ones open") {
		t.Errorf("after a broken update: %+v\n%s", g.get().Databases(), logs.String())
	}
}

// TestBuildLooksUpPublicAddressesOnly: documentation and private addresses get no AS or place,
// even where a database holds a row for them.
func TestBuildLooksUpPublicAddressesOnly(t *testing.T) {
	dir := t.TempDir()
	updateFromFixture(t, dir, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	g, err := LoadGeoIP("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	r := &record.Record{ByFieldValue: "perl", Examples: []record.Example{
		{DestinationIP: "192.88.99.1", DestinationPort: 443},    // public, and in the fixture (6to4 relays)
		{DestinationIP: "198.51.100.23", DestinationPort: 4444}, // TEST-NET-2, in the fixture too
	}}
	c := Build(r, Inputs{GeoIP: g})
	if d := c.Destinations[0]; d.IPClass != ClassPublic || d.AS == nil || d.AS.Number != 64504 {
		t.Errorf("public destination: %+v", d)
	}
	if d := c.Destinations[1]; d.AS != nil || d.Geo != nil {
		t.Errorf("%s (%s): looked up: %+v", d.IP, d.IPClass, d)
	}
	if !strings.Contains(c.Why.Text, "192.88.99.1:443 (https), public, AS64504 6to4 Relay Example (and 1 more)") {
		t.Errorf("why: %s", c.Why.Text)
	}
}

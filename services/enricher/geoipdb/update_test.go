package geoipdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/rarenet/rarenet/services/enricher/geoipdb/npmtest"
)

// july is a day on which the npm packages' data (of 2026-06-17) was fresh.
var july = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func update(t *testing.T, dir string, now time.Time, from ...string) (*Report, string) {
	t.Helper()
	var progress bytes.Buffer
	rep, err := Update(context.Background(), Options{Dir: dir, From: from, Now: func() time.Time { return now }, Progress: &progress})
	if err != nil {
		t.Fatalf("Update: %v\n%s", err, progress.String())
	}
	return rep, progress.String()
}

func contains(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}

// noLeftovers checks that an update left no temporary files behind.
func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".update-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestUpdateFromPackages is the air-gapped path: the tarballs `npm pack` wrote, and its --json
// output, copied over and given as files.
func TestUpdateFromPackages(t *testing.T) {
	p := needReal(t)
	dir := filepath.Join(t.TempDir(), "geoip")
	began := time.Now()
	rep, progress := update(t, dir, july, p.Tarballs[npmtest.ASN], p.Tarballs[npmtest.Country], p.JSON)
	t.Logf("update in %s:\n%s", time.Since(began).Round(time.Millisecond), progress)
	noLeftovers(t, dir)

	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Written) != 2 || len(m.Databases) != 2 || !m.Updated.Equal(july) {
		t.Fatalf("written %d, manifest %+v", len(rep.Written), m)
	}
	asn, cc := m.Databases[KindASN], m.Databases[KindCountry]
	if asn.File != ASNFile || asn.Name != "@ip-location-db/asn" || asn.Version != "2.3.2026061719" ||
		!asn.Date.Equal(time.Date(2026, 6, 17, 19, 0, 0, 0, time.UTC)) || asn.DateFrom != "package version" || asn.License != "CC-BY-4.0" {
		t.Errorf("asn: %+v", asn)
	}
	for _, c := range []string{"npm integrity sha512-PpqYi7wyEyWwu… matches " + p.JSON, "515158 rows parsed (411961 IPv4, 103197 IPv6) in 2 tables",
		"1 row overlaps the row before it", "every row's first and last address answered"} {
		if !contains(asn.Checks, c) {
			t.Errorf("asn checks %q, want %q", asn.Checks, c)
		}
	}
	for _, a := range []string{"ip-location-db", "Route Views", "DB-IP", "Number Resource Organization"} {
		if !contains(asn.Attribution, a) {
			t.Errorf("asn attribution %q, want %s credited", asn.Attribution, a)
		}
	}
	// The one overlap of the real IPv4 table, said to the user.
	if !contains(rep.Notes, "asn-ipv4.csv:399116: 215.0.0.0-215.0.255.255 given to AS749 and AS721; the later row (AS721) kept") {
		t.Errorf("notes %q", rep.Notes)
	}
	if cc.File != CountryFile || cc.Name != "@ip-location-db/geo-whois-asn-country-mmdb" || cc.License != "CC0-1.0" ||
		cc.DateString() != "2026-06-17" || cc.DateFrom != "database build time" || !contains(cc.Attribution, "Number Resource Organization") ||
		!contains(cc.Checks, `type "country ipvAll"`) || !contains(cc.Checks, "networks decoded, each with a two-letter country code") {
		t.Errorf("country: %+v", cc)
	}
	for _, d := range []*Database{asn, cc} {
		b, err := os.ReadFile(d.Path(dir))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != d.SHA256 {
			t.Errorf("%s: sha256 differs from the manifest's", d.File)
		}
		for _, l := range d.LicenseFiles {
			if _, err := os.Stat(filepath.Join(dir, l)); err != nil {
				t.Errorf("licence text %s: %v", l, err)
			}
		}
	}
	if !slices.Equal(asn.LicenseFiles, []string{"licenses/asn/DBIP-LICENSE", "licenses/asn/MODIFICATIONS", "licenses/asn/NRO_LICENSE", "licenses/asn/ROUTEVIEWS-LICENSE"}) {
		t.Errorf("asn licence files %q", asn.LicenseFiles)
	}
	notice, err := os.ReadFile(filepath.Join(dir, NoticeFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"licence:     CC-BY-4.0 (https://creativecommons.org/licenses/by/4.0/)",
		"credit:      IP to ASN Lite data by DB-IP (https://db-ip.com), CC BY 4.0", "changes:     converted by rarenet geoip update from CSV",
		"--- licenses/asn/DBIP-LICENSE\nThe free IP to ASN Lite database by DB-IP is licensed under a Creative Commons Attribution 4.0"} {
		if !strings.Contains(string(notice), want) {
			t.Errorf("NOTICE lacks %q:\n%s", want, notice)
		}
	}

	// Well-known addresses, whose AS and country have been stable for years.
	asnDB, ccDB := openT(t, asn.Path(dir)), openT(t, cc.Path(dir))
	for _, c := range []struct {
		ip, why string
		asn     uint32
		org, cc string
	}{
		// Google Public DNS: 8.8.8.0/24 and 2001:4860::/32 announced by AS15169, registered to
		// Google LLC, US (ARIN whois NET-8-8-8-0-2; developers.google.com/speed/public-dns).
		{"8.8.8.8", "Google Public DNS", 15169, "Google LLC", "US"},
		{"2001:4860:4860::8888", "Google Public DNS over IPv6", 15169, "Google LLC", "US"},
		// 1.1.1.0/24 is APNIC Labs' research prefix (APNIC whois: country AU), announced by
		// Cloudflare, AS13335, for its resolver since 2018 (blog.cloudflare.com/announcing-1111).
		{"1.1.1.1", "Cloudflare's resolver", 13335, "Cloudflare, Inc.", "AU"},
		// Quad9: 9.9.9.0/24 and 2620:fe::/48, AS19281 (quad9.net; ARIN whois QUAD9-AS-1, US).
		{"9.9.9.9", "Quad9", 19281, "Quad9", "US"},
		{"2620:fe::fe", "Quad9 over IPv6", 19281, "Quad9", ""},
	} {
		var a asnRecord
		if err := asnDB.Lookup(netip.MustParseAddr(c.ip)).Decode(&a); err != nil || a.Number != c.asn || a.Organization != c.org {
			t.Errorf("%s (%s): AS%d %q (%v), want AS%d %q", c.ip, c.why, a.Number, a.Organization, err, c.asn, c.org)
		}
		var r countryRecord
		if err := ccDB.Lookup(netip.MustParseAddr(c.ip)).Decode(&r); err != nil || (c.cc != "" && r.code() != c.cc) {
			t.Errorf("%s (%s): country %q (%v), want %q", c.ip, c.why, r.code(), err, c.cc)
		}
	}
}

func openT(t *testing.T, path string) *maxminddb.Reader {
	t.Helper()
	db, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestUpdateIntegrity checks a tarball against the integrity npm publishes: from `npm view
// --json`, from `npm pack --json`, a mismatch (nothing written), and none given (a note).
func TestUpdateIntegrity(t *testing.T) {
	p := needReal(t)
	tgz := p.Tarballs[npmtest.Country]
	t.Run("npm view", func(t *testing.T) {
		view, err := npmtest.View(t.TempDir(), npmtest.Country)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := update(t, t.TempDir(), july, tgz, view)
		if d := rep.Written[0]; !contains(d.Checks, "npm integrity sha512-xemBDNQl4mCYD… matches "+view) {
			t.Errorf("checks %q", d.Checks)
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		b, err := os.ReadFile(p.JSON)
		if err != nil {
			t.Fatal(err)
		}
		var packs []map[string]any
		if err := json.Unmarshal(b, &packs); err != nil {
			t.Fatal(err)
		}
		for _, pk := range packs {
			pk["integrity"] = "sha512-" + strings.Repeat("A", 86) + "=="
		}
		bad, _ := json.Marshal(packs)
		dir := t.TempDir()
		badJSON := writeFile(t, t.TempDir(), "pack.json", string(bad))
		_, err = Update(context.Background(), Options{Dir: dir, From: []string{tgz, badJSON}})
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "@ip-location-db/geo-whois-asn-country-mmdb@2.3.2026061719") {
			t.Fatalf("error %v, want ErrChecksum naming the package", err)
		}
		if _, err := os.Stat(filepath.Join(dir, CountryFile)); err == nil {
			t.Error("a database was written from data that failed its check")
		}
		noLeftovers(t, dir)
	})
	t.Run("none given", func(t *testing.T) {
		rep, _ := update(t, t.TempDir(), july, tgz)
		if !contains(rep.Notes, "not checked against its npm integrity") || !contains(rep.Written[0].Checks, "integrity not checked") {
			t.Errorf("notes %q, checks %q", rep.Notes, rep.Written[0].Checks)
		}
	})
}

// TestUpdateKeepsTheOtherKind updates the country database, then the ASN one from a CSV given
// as a plain file: each update keeps what it was not given, and stale data is said.
func TestUpdateKeepsTheOtherKind(t *testing.T) {
	p := needReal(t)
	dir := t.TempDir()
	dec := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	rep, _ := update(t, dir, dec, p.Tarballs[npmtest.Country], p.JSON)
	if !contains(rep.Notes, "country.mmdb: the data is of 2026-06-17, 168 days old (more than 60)") {
		t.Errorf("notes %q, want the stale data said", rep.Notes)
	}
	fixture := filepath.Join(t.TempDir(), "asn-fixture.csv")
	if err := copyFile("testdata/asn-fixture.csv", fixture); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(fixture, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	rep, _ = update(t, dir, dec, fixture)
	if len(rep.Written) != 1 || len(rep.Kept) != 1 || rep.Kept[0].File != CountryFile {
		t.Fatalf("written %+v, kept %+v", rep.Written, rep.Kept)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	asn := m.Databases[KindASN]
	if m.Databases[KindCountry] == nil || asn.Name != "asn-fixture.csv" || !asn.Date.Equal(mtime) || asn.DateFrom != "file modification time" ||
		!strings.HasPrefix(asn.License, "unknown") || len(asn.LicenseFiles) != 0 {
		t.Errorf("manifest %+v, asn %+v", m, asn)
	}
	notice, _ := os.ReadFile(filepath.Join(dir, NoticeFile))
	if !strings.Contains(string(notice), "--- licenses/country/NRO_LICENSE") || !strings.Contains(string(notice), "asn.mmdb (asn)") {
		t.Errorf("NOTICE does not cover both databases:\n%s", notice)
	}
}

// TestUpdateRelease fetches from a GitHub release document served by a real HTTP server, in the
// shape of GitHub's REST API ("Get a release": assets with name, browser_download_url, digest,
// size, updated_at). The assets carry the projects' names, with the data of the npm packages
// (the same formats: a country MMDB, an ASN table) since the release cannot be reached here.
func TestUpdateRelease(t *testing.T) {
	p := needReal(t)
	tmp := t.TempDir()
	parts, err := readTarball(fetched{path: p.Tarballs[npmtest.Country], source: "country.tgz"}, tmp)
	if err != nil {
		t.Fatal(err)
	}
	country, err := os.ReadFile(parts[0].path)
	if err != nil {
		t.Fatal(err)
	}
	table, err := os.ReadFile("testdata/asn-fixture.csv")
	if err != nil {
		t.Fatal(err)
	}
	uploaded := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	serve := func(t *testing.T, digest func(name string, b []byte) string) string {
		files := map[string][]byte{"user-country.mmdb": country, "origin-asn.csv": table}
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		var assets []releaseAsset
		for _, name := range []string{"user-country-ipv4.mmdb", "user-country.mmdb", "origin-asn.csv"} {
			b := files[name]
			assets = append(assets, releaseAsset{Name: name, BrowserDownloadURL: srv.URL + "/download/latest/" + name,
				Digest: digest(name, b), Size: int64(len(b)), UpdatedAt: uploaded})
		}
		doc, _ := json.Marshal(map[string]any{"tag_name": "latest", "html_url": srv.URL + "/releases/tag/latest", "assets": assets})
		mux.HandleFunc("GET /repos/sapics/ip-location-db/releases/tags/latest", func(w http.ResponseWriter, _ *http.Request) { w.Write(doc) })
		mux.HandleFunc("GET /download/latest/{name}", func(w http.ResponseWriter, r *http.Request) {
			b, ok := files[r.PathValue("name")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Write(b)
		})
		return srv.URL + "/repos/sapics/ip-location-db/releases/tags/latest"
	}
	sha := func(_ string, b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }

	dir := t.TempDir()
	from := serve(t, sha)
	rep, progress := update(t, dir, uploaded.Add(time.Hour), from)
	if !strings.Contains(progress, "downloading "+from) || !strings.Contains(progress, "/download/latest/origin-asn.csv") {
		t.Errorf("progress:\n%s", progress)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	asn, cc := m.Databases[KindASN], m.Databases[KindCountry]
	if len(rep.Written) != 2 || asn.Name != "ip-location-db/origin-asn.csv" || asn.License != "CDLA-Permissive-2.0" ||
		!asn.Date.Equal(uploaded) || asn.DateFrom != "release asset upload time" || !contains(asn.Checks, "matches the release's digest ("+from+")") {
		t.Errorf("asn %+v", asn)
	}
	if cc.Name != "ip-location-db/user-country.mmdb" || cc.DateFrom != "database build time" || !contains(cc.Checks, "matches the release's digest") {
		t.Errorf("country %+v", cc)
	}

	t.Run("digest mismatch", func(t *testing.T) {
		from := serve(t, func(name string, b []byte) string {
			if name == "origin-asn.csv" {
				b = append(b, '\n')
			}
			return sha(name, b)
		})
		dir := t.TempDir()
		_, err := Update(context.Background(), Options{Dir: dir, From: []string{from}})
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "origin-asn.csv has SHA-256") {
			t.Fatalf("error %v, want ErrChecksum for origin-asn.csv", err)
		}
		if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
			t.Error("a manifest was written")
		}
	})
	t.Run("asset missing", func(t *testing.T) {
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		mux.HandleFunc("GET /release", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"tag_name":"latest","assets":[{"name":"dbip-city.mmdb","browser_download_url":"x"}]}`)
		})
		_, err := Update(context.Background(), Options{Dir: t.TempDir(), From: []string{srv.URL + "/release"}})
		if err == nil || !strings.Contains(err.Error(), `release "latest" has no asset user-country.mmdb (it has 1: dbip-city.mmdb)`) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		_, err := Update(context.Background(), Options{Dir: t.TempDir(), From: []string{srv.URL + "/asn.csv"}})
		if err == nil || !strings.Contains(err.Error(), "404 Not Found") {
			t.Errorf("error %v", err)
		}
	})
}

func TestUpdateRejects(t *testing.T) {
	dir := t.TempDir()
	asnDB := filepath.Join(dir, "asn.mmdb")
	if _, err := buildASN([]table{{"testdata/asn-fixture.csv", "asn-fixture.csv"}}, asnDB, july, "x"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		from []string
		want string
	}{
		{"an ASN database", []string{asnDB}, `an ASN database ("rarenet-ASN"): geoip update builds the ASN database from ip-location-db's CSV table`},
		{"two country databases", []string{asnDB, asnDB}, "two country databases given"},
		{"metadata only", []string{writeFile(t, dir, "pack.json", `[{"name":"@ip-location-db/asn","version":"1","integrity":"sha512-AA=="}]`)}, ErrNothing.Error()},
		{"unknown JSON", []string{writeFile(t, dir, "x.json", `{"hello":1}`)}, "JSON, but not `npm pack --json` or `npm view --json` output"},
		{"a directory", []string{dir}, "a directory: give the files"},
		{"missing", []string{filepath.Join(dir, "nope.tgz")}, "no such file"},
		{"empty", []string{writeFile(t, dir, "empty.csv", "")}, "empty"},
		{"not a package", []string{writeFile(t, dir, "x.tgz", "\x1f\x8bnot gzip")}, "x.tgz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := Update(context.Background(), Options{Dir: out, From: tt.from})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			noLeftovers(t, out)
		})
	}
}

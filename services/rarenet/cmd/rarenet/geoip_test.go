package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/enricher"
	"github.com/rarenet/rarenet/services/enricher/geoipdb/npmtest"
	"github.com/rarenet/rarenet/services/rarenet"
	"github.com/rarenet/rarenet/shared/cli"
	"github.com/rarenet/rarenet/shared/service"
)

// TestGeoIPUpdateThenReplay is the air-gapped path end to end: the real packages as `npm pack`
// writes them, `rarenet geoip update` from those files, then the bundled sample replayed with
// the databases: every public destination of every signal carries its AS and country, named
// after the database that answered.
func TestGeoIPUpdateThenReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches the real ip-location-db packages (26 MB through npm) and replays the sample; skipped with -short")
	}
	packs := npmtest.PackT(t, t.TempDir(), npmtest.ASN, npmtest.Country)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "geoip")
	var out, progress bytes.Buffer
	began := time.Now()
	err := geoip(ctx, []string{"update", "--dir", dir, "--from", packs.Tarballs[npmtest.ASN], packs.Tarballs[npmtest.Country], packs.JSON}, &out, &progress)
	if err != nil {
		t.Fatalf("geoip update: %v\n%s", err, progress.String())
	}
	t.Logf("geoip update in %s:\n%s", time.Since(began).Round(time.Millisecond), out.String())
	for _, want := range []string{
		"wrote " + filepath.Join(dir, "asn.mmdb") + ": @ip-location-db/asn 2.3.2026061719, data of 2026-06-17 (package version), licence CC-BY-4.0",
		"wrote " + filepath.Join(dir, "country.mmdb") + ": @ip-location-db/geo-whois-asn-country-mmdb 2.3.2026061719, data of 2026-06-17 (database build time), licence CC0-1.0",
		"checked: npm integrity sha512-PpqYi7wyEyWwu… matches " + packs.JSON,
		"note: " + packs.Tarballs[npmtest.ASN] + ":asn-ipv4.csv:399116: 215.0.0.0-215.0.255.255 given to AS749 and AS721",
		"licences and credits: " + filepath.Join(dir, "NOTICE"),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// Well-known addresses through the enricher's lookup, in ECS's shape.
	g, err := enricher.LoadGeoIP("", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, c := range []struct {
		ip, why string
		asn     uint32
		org, cc string
	}{
		// Google Public DNS, AS15169, Google LLC, US (ARIN whois NET-8-8-8-0-2;
		// developers.google.com/speed/public-dns/docs/using).
		{"8.8.8.8", "Google Public DNS", 15169, "Google LLC", "US"},
		// 1.1.1.0/24: APNIC Labs' prefix (APNIC whois, country AU) announced by Cloudflare,
		// AS13335, for its resolver (blog.cloudflare.com/announcing-1111, 2018).
		{"1.1.1.1", "Cloudflare's resolver", 13335, "Cloudflare, Inc.", "AU"},
		// Quad9, AS19281 (quad9.net/support/faq; ARIN whois: QUAD9-AS-1, US).
		{"9.9.9.9", "Quad9", 19281, "Quad9", "US"},
	} {
		as, geo := g.Lookup(c.ip)
		if as == nil || as.Number != c.asn || as.Organization.Name != c.org || as.Database.Name != "@ip-location-db/asn" || as.Database.Date != "2026-06-17" {
			t.Errorf("%s (%s): AS %+v, want AS%d %q from @ip-location-db/asn of 2026-06-17", c.ip, c.why, as, c.asn, c.org)
		}
		if geo == nil || geo.CountryISOCode != c.cc || geo.Database.Name != "@ip-location-db/geo-whois-asn-country-mmdb" {
			t.Errorf("%s (%s): place %+v, want %s", c.ip, c.why, geo, c.cc)
		}
	}

	// The sample's replay with the databases.
	signals := filepath.Join(t.TempDir(), "signals.ndjson")
	sample := filepath.Join("..", "..", "..", "..", "testdata", "sample", "fleet-3d.ndjson.gz")
	if err := replayCmd(ctx, []string{"--geoip-dir", dir, "--out", signals, sample}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(signals)
	if err != nil {
		t.Fatal(err)
	}
	type destination struct {
		IP      string `json:"ip"`
		IPClass string `json:"ip_class"`
		AS      *struct {
			Number       uint32 `json:"number"`
			Organization struct {
				Name string `json:"name"`
			} `json:"organization"`
			Database struct{ Name, Date string } `json:"database"`
		} `json:"as"`
		Geo *struct {
			CountryISOCode string                      `json:"country_iso_code"`
			Database       struct{ Name, Date string } `json:"database"`
		} `json:"geo"`
	}
	var n, public int
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var s struct {
			Reason  string `json:"kibana.alert.reason"`
			Process string `json:"by_field_value"`
			Context struct {
				Destinations []destination `json:"destinations"`
			} `json:"rarenet.context"`
		}
		if err := json.Unmarshal(line, &s); err != nil {
			t.Fatal(err)
		}
		n++
		for _, d := range s.Context.Destinations {
			if d.IPClass != enricher.ClassPublic {
				if d.AS != nil || d.Geo != nil {
					t.Errorf("%s: %s (%s) was looked up: %s", s.Process, d.IP, d.IPClass, line)
				}
				continue
			}
			public++
			if d.AS == nil || d.AS.Number == 0 || d.AS.Organization.Name == "" || d.AS.Database.Name != "@ip-location-db/asn" || d.AS.Database.Date != "2026-06-17" ||
				d.Geo == nil || len(d.Geo.CountryISOCode) != 2 || d.Geo.Database.Name != "@ip-location-db/geo-whois-asn-country-mmdb" {
				t.Errorf("%s: public destination %s without its AS and country, or their databases: %s", s.Process, d.IP, line)
			}
		}
		// The sample's one public destination, as the pinned package says (asn-ipv4.csv:
		// 45.9.148.0-45.9.151.255, AS49447; geo-whois-asn-country.mmdb: NL).
		if s.Process == "kworkerds" && !strings.Contains(s.Reason, "45.9.148.99:3333 (stratum: mining pool), public, AS49447 Nice IT Services Group Inc., NL, never before") {
			t.Errorf("kworkerds: reason %q", s.Reason)
		}
	}
	// The other two destinations of the sample are documentation addresses (198.51.100.23,
	// 203.0.113.77: RFC 5737), which no database should answer for.
	if n != 3 || public != 1 {
		t.Errorf("%d signals with %d public destinations, want the sample's 3 with 1", n, public)
	}
}

// TestGeoIPDirDefaults: run and replay look in the default data directory's geoip/, run in its
// --data-dir's when given one, and both where --geoip-dir says.
func TestGeoIPDirDefaults(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "/state/rarenet/geoip"},
		{[]string{"--data-dir", "/srv/rarenet"}, "/srv/rarenet/geoip"},
		{[]string{"--data-dir", "/srv/rarenet", "--geoip-dir", "/opt/geoip"}, "/opt/geoip"},
		{[]string{"--geoip-dir", ""}, ""},
	} {
		cmd := cli.New("rarenet run", "", "rarenet run")
		var o rarenet.Options
		var common service.Common
		pipelineFlags(cmd, &o, &common)
		cmd.Flags(cli.NATS, func(fs *flag.FlagSet) { fs.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "") })
		if err := cmd.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		geoipDirFollowsDataDir(cmd.FlagSet(), &o)
		if o.Enricher.GeoIPDir != c.want {
			t.Errorf("%q: --geoip-dir %q, want %q", c.args, o.Enricher.GeoIPDir, c.want)
		}
	}
}

package enricher

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/services/enricher/geoipdb"
	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/service"
)

// TestGeoIPAgeMetric: /metrics carries the age of each database in use, from the date of its
// data, for an alert on stale ones.
func TestGeoIPAgeMetric(t *testing.T) {
	dir := t.TempDir()
	table := filepath.Join(t.TempDir(), "origin-asn.csv")
	if err := os.WriteFile(table, []byte("1.0.0.0,1.0.0.255,64500,Example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(table, date, date); err != nil {
		t.Fatal(err)
	}
	if _, err := geoipdb.Update(context.Background(), geoipdb.Options{Dir: dir, From: []string{table}}); err != nil {
		t.Fatal(err)
	}
	ts := natstest.Start(t)
	s, err := New(Config{GeoIPDir: dir}, ts.NC, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	m := service.NewMetrics(Stage)
	age := newGeoIPAge(s)
	age.now = func() time.Time { return date.Add(61 * 24 * time.Hour) }
	if err := m.Register(age); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	const want = `rarenet_enricher_geoip_age_seconds{database="asn",name="origin-asn.csv"} 5.2704e+06`
	if !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s:\n%s", want, body)
	}
}

package enricher

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rarenet/rarenet/shared/service"
)

// geoipAge reports rarenet_enricher_geoip_age_seconds{database,name}: how old the data of each
// GeoIP database in use is, at scrape time. Alert on it passing 60 days (5184000 s): the refresh
// schedule has stopped, and destinations are named after outdated data.
type geoipAge struct {
	s    *Service
	desc *prometheus.Desc
	now  func() time.Time
}

func newGeoIPAge(s *Service) *geoipAge {
	return &geoipAge{s: s, now: time.Now, desc: prometheus.NewDesc(service.Namespace+"_"+Stage+"_geoip_age_seconds",
		"Age of the data of each GeoIP database in use: seconds since the date of its data.", []string{"database", "name"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *geoipAge) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *geoipAge) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, d := range c.s.GeoIPDatabases() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(d.Date).Seconds(), string(d.Kind), d.Name)
	}
}

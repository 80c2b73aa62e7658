package service

import "github.com/prometheus/client_golang/prometheus"

// CounterVec registers rarenet_<stage>_<name> (name should end in _total) with the given
// labels. At each scrape, collect calls emit once per combination of label values with its
// count, read from the stage's own counters (the HTTP input's requests by token and outcome).
func (m *Metrics) CounterVec(name, help string, labels []string, collect func(emit func(value int64, labelValues ...string))) {
	m.must(&labeledCounter{
		desc:    prometheus.NewDesc(prometheus.BuildFQName(Namespace, m.stage, name), help, labels, nil),
		collect: collect,
	})
}

type labeledCounter struct {
	desc    *prometheus.Desc
	collect func(emit func(value int64, labelValues ...string))
}

func (c *labeledCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *labeledCounter) Collect(ch chan<- prometheus.Metric) {
	c.collect(func(v int64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v), lv...)
	})
}

package service

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of the project.
const Namespace = "rarenet"

// pollTimeout bounds each JetStream request made while serving a scrape or a readiness probe.
const pollTimeout = 2 * time.Second

// Consumer names a durable consumer a stage reads from: readiness waits for it to exist, and
// its pending count is the stage's lag.
type Consumer struct {
	Stream  string
	Durable string
}

// Metrics is the Prometheus registry of one stage binary. Stages register functions over
// their own atomic counters, so the stage packages need not import the Prometheus client.
type Metrics struct {
	reg   *prometheus.Registry
	stage string
}

// NewMetrics returns a registry holding the Go runtime and process collectors.
func NewMetrics(stage string) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{reg: reg, stage: stage}
}

// Stage returns the registry's view for another stage, whose metrics are named after it: the
// all-in-one serves every stage's on one /metrics.
func (m *Metrics) Stage(name string) *Metrics { return &Metrics{reg: m.reg, stage: name} }

// Counter registers rarenet_<stage>_<name> (name should end in _total), read from value at
// each scrape.
func (m *Metrics) Counter(name, help string, value func() int64) {
	m.must(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: m.stage, Name: name, Help: help,
	}, func() float64 { return float64(value()) }))
}

// Gauge registers rarenet_<stage>_<name>, read from value at each scrape.
func (m *Metrics) Gauge(name, help string, value func() float64) {
	m.must(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: m.stage, Name: name, Help: help,
	}, value))
}

// Register adds any other collector. A collector describing the same metrics as one
// registered before replaces it: a stage restarted in the same process (see Run) registers
// its metrics again, on its new counters.
func (m *Metrics) Register(c prometheus.Collector) error {
	err := m.reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		m.reg.Unregister(dup.ExistingCollector)
		err = m.reg.Register(c)
	}
	return err
}

func (m *Metrics) must(c prometheus.Collector) {
	if err := m.Register(c); err != nil {
		panic(err)
	}
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// connCollector reports the NATS connection: whether it is up, and its reconnects.
type connCollector struct {
	nc                    *nats.Conn
	connected, reconnects *prometheus.Desc
}

func newConnCollector(nc *nats.Conn) *connCollector {
	return &connCollector{nc: nc,
		connected:  prometheus.NewDesc(Namespace+"_nats_connected", "1 while the connection to NATS is up.", nil, nil),
		reconnects: prometheus.NewDesc(Namespace+"_nats_reconnects_total", "Reconnections to NATS since the start.", nil, nil),
	}
}

func (c *connCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.connected; ch <- c.reconnects }

func (c *connCollector) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if c.nc.IsConnected() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(c.nc.Stats().Reconnects))
}

// ConsumerCollector reports, for each consumer, the server's view polled at scrape time: the
// messages not yet delivered (the stage's lag), those delivered and not acknowledged, the
// redeliveries, and the acknowledged count since the consumer was created.
type ConsumerCollector struct {
	js                                          jetstream.JetStream
	consumers                                   []Consumer
	pending, ackPending, redelivered, acked, up *prometheus.Desc
}

// NewConsumerCollector reports on consumers through js.
func NewConsumerCollector(js jetstream.JetStream, consumers []Consumer) *ConsumerCollector {
	labels := []string{"stream", "consumer"}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(Namespace+"_consumer_"+name, help, labels, nil)
	}
	return &ConsumerCollector{js: js, consumers: consumers,
		pending:     d("pending", "Messages of the stream not yet delivered to the consumer: the stage's lag."),
		ackPending:  d("ack_pending", "Messages delivered and not yet acknowledged."),
		redelivered: d("redelivered", "Messages delivered more than once and not yet acknowledged."),
		acked:       d("acked", "Consumer sequence acknowledged: messages processed since the consumer was created."),
		up:          d("up", "1 when the consumer's info could be read at this scrape."),
	}
}

// Describe implements prometheus.Collector.
func (c *ConsumerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.ackPending, c.redelivered, c.acked, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ConsumerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cons := range c.consumers {
		labels := []string{cons.Stream, cons.Durable}
		info, err := consumerInfo(c.js, cons)
		if err != nil {
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0, labels...)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1, labels...)
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(info.NumPending), labels...)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(info.NumAckPending), labels...)
		ch <- prometheus.MustNewConstMetric(c.redelivered, prometheus.GaugeValue, float64(info.NumRedelivered), labels...)
		ch <- prometheus.MustNewConstMetric(c.acked, prometheus.GaugeValue, float64(info.AckFloor.Consumer), labels...)
	}
}

func consumerInfo(js jetstream.JetStream, cons Consumer) (*jetstream.ConsumerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	cc, err := js.Consumer(ctx, cons.Stream, cons.Durable)
	if err != nil {
		return nil, err
	}
	return cc.CachedInfo(), nil
}

// CheckpointAge reports rarenet_checkpoint_age_seconds{store,object}: how long ago object was
// last written in the object store, polled at scrape time. Nothing is reported before the
// first checkpoint.
type CheckpointAge struct {
	js            jetstream.JetStream
	store, object string
	desc          *prometheus.Desc
	now           func() time.Time
}

// NewCheckpointAge reports the age of object in store.
func NewCheckpointAge(js jetstream.JetStream, store, object string) *CheckpointAge {
	return &CheckpointAge{js: js, store: store, object: object, now: time.Now,
		desc: prometheus.NewDesc(Namespace+"_checkpoint_age_seconds", "Seconds since the checkpoint was last written.",
			nil, prometheus.Labels{"store": store, "object": object})}
}

// Describe implements prometheus.Collector.
func (c *CheckpointAge) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *CheckpointAge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	obj, err := c.js.ObjectStore(ctx, c.store)
	if err != nil {
		return
	}
	info, err := obj.GetInfo(ctx, c.object)
	if err != nil {
		return // not written yet (jetstream.ErrObjectNotFound), or not readable now
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, c.now().Sub(info.ModTime).Seconds())
}

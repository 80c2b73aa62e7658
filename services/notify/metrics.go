package notify

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the notifier's counters, per destination where they concern one.
type Metrics struct {
	Signals     prometheus.Counter
	Rejected    prometheus.Counter
	Unrouted    prometheus.Counter
	Sent        *prometheus.CounterVec
	Messages    *prometheus.CounterVec
	Failed      *prometheus.CounterVec
	Retried     *prometheus.CounterVec
	DeadLetters *prometheus.CounterVec
	Skipped     *prometheus.CounterVec
	Latency     *prometheus.HistogramVec
	Delay       *prometheus.HistogramVec
}

// NewMetrics makes the notifier's metrics, named rarenet_notify_*.
func NewMetrics() *Metrics {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "rarenet", Subsystem: "notify", Name: name, Help: help}
	}
	dest := []string{"destination"}
	return &Metrics{
		Signals:     prometheus.NewCounter(opts("signals_total", "Signals read from rarenet.signals.")),
		Rejected:    prometheus.NewCounter(opts("rejects_total", "Messages on rarenet.signals that are not signal documents (dead-lettered).")),
		Unrouted:    prometheus.NewCounter(opts("unrouted_total", "Signals no route matched.")),
		Sent:        prometheus.NewCounterVec(opts("sent_total", "Signals a destination confirmed."), dest),
		Messages:    prometheus.NewCounterVec(opts("messages_total", "Messages a destination confirmed (a digest holds several signals)."), dest),
		Failed:      prometheus.NewCounterVec(opts("failed_total", "Delivery attempts that failed."), dest),
		Retried:     prometheus.NewCounterVec(opts("retried_total", "Delivery attempts made again after a failure."), dest),
		DeadLetters: prometheus.NewCounterVec(opts("dead_letters_total", "Signals given up on and put on the destination's dead-letter subject."), dest),
		Skipped:     prometheus.NewCounterVec(opts("skipped_total", "Signals not sent again because the destination had confirmed them before (a redelivery after a restart)."), dest),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rarenet", Subsystem: "notify", Name: "latency_seconds",
			Help:    "Duration of successful delivery attempts.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, dest),
		Delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rarenet", Subsystem: "notify", Name: "delay_seconds",
			Help:    "From a signal's receipt to its confirmed delivery: digest windows, rate limits and retries included.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 18),
		}, dest),
	}
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Signals, m.Rejected, m.Unrouted, m.Sent, m.Messages, m.Failed, m.Retried,
		m.DeadLetters, m.Skipped, m.Latency, m.Delay}
}

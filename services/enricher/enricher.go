// Package enricher is the enrichment stage: it adds to each anomaly record the context that
// answers the investigation guide, so a signal can be decided on its own: the destination
// (class, service, organisation and place from MaxMind-format databases, reverse DNS, whether
// the process went there before), the users, the history of execution (first seen, buckets
// active, prevalence across hosts, a recognised schedule), the process detail, and why it
// fired in plain words. It passes the stream's markers on unchanged.
//
// The history comes from the scorer's bucket summaries (record.BucketSummary), which travel on
// the anomalies subject before each bucket's records: the enricher folds them into the KV
// bucket stream.HistoryBucket, which replicas share, and reads it as of each record's bucket.
//
// Replicas share one durable consumer, but only the one holding the lease consumes it; the
// others stand by (active.go). Should two work at once, a summary is applied only once every
// message before it is done, a record is enriched only once every summary of its bucket is in
// the history, and a marker is passed on only once every message before it is done, whichever
// replica had them (see order.go and docs/pipeline.md, "Markers"): the output is that of one
// enricher.
package enricher

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/service"
	"github.com/rarenet/rarenet/shared/stream"
)

// Stage is the stage's name in dead letters, status and logs.
const Stage = "enricher"

// Config configures the enricher. The zero Config is valid: history on, no GeoIP, no
// reverse DNS.
type Config struct {
	// GeoIPASN and GeoIPCity are paths to MaxMind-format databases (GeoLite2-ASN, and
	// GeoLite2-City or -Country, or compatible); empty skips them.
	GeoIPASN, GeoIPCity string
	// GeoIPDir is the data directory of `rarenet geoip update`: its databases answer for the
	// kinds GeoIPASN and GeoIPCity leave empty, and are reopened when an update replaces them.
	GeoIPDir string
	// RDNS turns reverse DNS on, with the bounds of RDNSConfig (zero fields take defaults).
	RDNS       bool
	RDNSConfig RDNSConfig
	// Resolver does the reverse lookups; nil uses the system's.
	Resolver Resolver
	// Profile is ProfileFaithful (default) or ProfileEnhanced, which adjusts scores with the
	// history (schedules, rollouts): it turns on both awarenesses below.
	Profile string
	// ScheduleAware scores down a recognised periodic job; RolloutAware folds a rollout's later
	// buckets into its first signal. Separate so each can be measured on its own.
	ScheduleAware, RolloutAware bool
	// AckWait is how long the consumer waits for a replica's ack before delivering a message
	// again, to any replica: how long a dead replica's messages wait (0: natsutil.DefaultAckWait).
	AckWait time.Duration
	// LeaseTTL is how long a silent active enricher keeps its lease before a standby takes
	// over (0: lease.DefaultTTL).
	LeaseTTL time.Duration
}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	def := DefaultRDNSConfig()
	service.ProfileFlag(fs, &c.Profile)
	fs.StringVar(&c.GeoIPASN, "geoip-asn", "", "MaxMind-format ASN database (GeoLite2-ASN.mmdb or compatible): AS number and organisation of destinations")
	fs.StringVar(&c.GeoIPCity, "geoip-city", "", "MaxMind-format City or Country database (GeoLite2-City.mmdb or compatible): country and city of destinations")
	fs.StringVar(&c.GeoIPDir, "geoip-dir", c.GeoIPDir, "directory of the databases rarenet geoip update writes: used for what --geoip-asn and --geoip-city do not give")
	fs.BoolVar(&c.RDNS, "rdns", false, "resolve destinations to names (reverse DNS, cached, never holding a record longer than --rdns-timeout)")
	fs.DurationVar(&c.RDNSConfig.Timeout, "rdns-timeout", def.Timeout, "the longest a record waits for its reverse lookups")
	fs.IntVar(&c.RDNSConfig.Concurrency, "rdns-concurrency", def.Concurrency, "reverse lookups in flight at once")
	fs.IntVar(&c.RDNSConfig.CacheSize, "rdns-cache-size", def.CacheSize, "addresses kept in the reverse DNS cache")
	fs.DurationVar(&c.RDNSConfig.TTL, "rdns-cache-ttl", def.TTL, "how long a reverse DNS answer is cached")
	service.AckWaitFlag(fs, &c.AckWait)
	service.LeaseTTLFlag(fs, &c.LeaseTTL)
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch c.Profile {
	case "", ProfileFaithful:
	case ProfileEnhanced:
		c.ScheduleAware, c.RolloutAware = true, true
	default:
		return fmt.Errorf("enricher: --profile: want %s or %s, got %q", ProfileFaithful, ProfileEnhanced, c.Profile)
	}
	r := c.RDNSConfig
	if r.Timeout < 0 || r.Concurrency < 0 || r.CacheSize < 0 || r.TTL < 0 || r.FailureTTL < 0 {
		return errors.New("enricher: reverse DNS bounds must not be negative")
	}
	if c.AckWait < 0 || c.LeaseTTL < 0 {
		return errors.New("enricher: --ack-wait and --lease-ttl must not be negative")
	}
	return nil
}

// Stats counts what the enricher has done.
type Stats struct {
	Records, Rejected, Summaries atomic.Int64
}

// Service is a running enricher.
type Service struct {
	cfg   Config
	js    jetstream.JetStream
	pub   *natsutil.Publisher
	log   *slog.Logger
	geo   geoState
	rdns  *ReverseDNS
	hist  *Store
	stats Stats
	raw   rawdata.Decoder // decompresses the summaries, one at a time

	active atomic.Bool // holds the lease (active.go)
	// lease is the lease this replica works under (nil when shared): while it is exclusive,
	// no one else writes the history (syncHistory).
	lease *lease.Lease

	// Messages wait for what comes before them (order.go).
	bar      *natsutil.Barrier
	waiting  []*item               // in input order
	held     natsutil.Held         // their sequences, kept unacked
	maxBatch int                   // of the loop; 0: its default
	onHandle func(context.Context) // tests: called after each message handled
	// Tests: shared makes every replica work at once, without the lease (as a holder that
	// has not noticed a takeover does); noRelease stops like a crash, keeping the lease.
	shared, noRelease bool
}

// New prepares the enricher on nc: it opens the GeoIP databases.
func New(cfg Config, nc *nats.Conn, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := natsutil.JetStream(nc)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, js: js, pub: natsutil.NewPublisher(js), log: log.With("stage", Stage), held: natsutil.Held{}}
	s.geo = geoState{asnPath: cfg.GeoIPASN, cityPath: cfg.GeoIPCity, dir: cfg.GeoIPDir, log: s.log}
	if err := s.geo.open(); err != nil {
		return nil, err
	}
	if cfg.RDNS {
		res := cfg.Resolver
		if res == nil {
			res = &net.Resolver{}
		}
		s.rdns = NewReverseDNS(res, cfg.RDNSConfig)
	}
	return s, nil
}

// Stats returns the enricher's counters.
func (s *Service) Stats() *Stats { return &s.stats }

// GeoIPDatabases describes the GeoIP databases in use (for the age metric); safe to call from
// any goroutine.
func (s *Service) GeoIPDatabases() []GeoIPDatabase { return s.geo.get().Databases() }

// Run consumes ANOMALIES until ctx is done, whenever it holds the enricher's lease, and stands
// by while another replica does (active.go). It creates the history bucket and the consumer
// when missing, with the storage and replicas of the ANOMALIES stream, and closes the GeoIP
// databases on return.
func (s *Service) Run(ctx context.Context) error {
	defer s.geo.close()
	kv, anomalies, err := s.historyBucket(ctx)
	if err != nil {
		return err
	}
	cons, err := natsutil.DurableConsumerAckWait(ctx, s.js, stream.Anomalies, stream.EnricherConsumer, s.cfg.AckWait)
	if err != nil {
		return err
	}
	s.log.Info("started", "geoip_asn", s.cfg.GeoIPASN, "geoip_city", s.cfg.GeoIPCity, "geoip_dir", s.cfg.GeoIPDir, "rdns", s.cfg.RDNS)
	s.geo.report(time.Now())
	if s.shared {
		return s.work(ctx, kv, anomalies, cons)
	}
	return s.standBy(ctx, kv, anomalies, cons)
}

// historyBucket opens the history bucket, and names the ANOMALIES stream (by its creation
// time) for the history's progress.
func (s *Service) historyBucket(ctx context.Context) (jetstream.KeyValue, string, error) {
	info, err := s.js.Stream(ctx, stream.Anomalies)
	if err != nil {
		return nil, "", fmt.Errorf("enricher: stream %s: %w", stream.Anomalies, err)
	}
	sc := info.CachedInfo().Config
	cfg := stream.Config{Replicas: sc.Replicas, Memory: sc.Storage == jetstream.MemoryStorage}
	if err := ensureHistory(ctx, s.js, cfg); err != nil {
		return nil, "", fmt.Errorf("enricher: %w", err)
	}
	kv, err := s.js.KeyValue(ctx, stream.HistoryBucket)
	if err != nil {
		return nil, "", fmt.Errorf("enricher: key-value bucket %s: %w", stream.HistoryBucket, err)
	}
	return kv, info.CachedInfo().Created.UTC().Format(time.RFC3339Nano), nil
}

// commit flushes the records, then makes the history durable, then the loop acknowledges
// the input. Records go first: a record is only ever built from the history as it stood in
// stream order, and a crash between the two redelivers summaries (applied idempotently) and
// records (dropped as duplicates by their ids).
func (s *Service) commit(ctx context.Context) error {
	if err := s.pub.Flush(ctx); err != nil {
		return err
	}
	return s.hist.Commit(ctx)
}

func (s *Service) handle(ctx context.Context, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("enricher: message metadata: %w", err)
	}
	it := &item{seq: meta.Sequence.Stream, header: msg.Headers()}
	if err := s.decode(msg, it); err != nil || it.kind == itemRejected {
		s.bar.Done(it.seq)
		return err
	}
	return s.hold(ctx, it)
}

// decode tells what a message is; bad input goes to the DLQ at once.
func (s *Service) decode(msg jetstream.Msg, it *item) error {
	if control.IsControl(msg.Headers()) {
		it.kind = itemMarker
		return nil
	}
	if msg.Headers().Get(control.HeaderEncoding) == control.EncodingMsgpack {
		// Only bucket summaries travel in msgpack, S2-compressed when that paid (rawdata).
		var sum record.BucketSummary
		data, err := s.raw.Data(msg.Headers(), msg.Data())
		var rest []byte
		if err == nil {
			rest, err = sum.UnmarshalMsg(data)
		}
		if err == nil && len(rest) > 0 {
			err = fmt.Errorf("%d bytes after the summary", len(rest))
		}
		if err != nil {
			it.kind = itemRejected
			return s.reject(msg, "undecodable bucket summary: "+err.Error())
		}
		return s.summary(it, &sum, msg)
	}
	var head struct {
		ResultType string `json:"result_type"`
	}
	if err := json.Unmarshal(msg.Data(), &head); err != nil {
		it.kind = itemRejected
		return s.reject(msg, "undecodable anomaly record: "+err.Error())
	}
	if head.ResultType == record.ResultTypeBucketSummary {
		var sum record.BucketSummary
		if err := json.Unmarshal(msg.Data(), &sum); err != nil {
			it.kind = itemRejected
			return s.reject(msg, "undecodable bucket summary: "+err.Error())
		}
		return s.summary(it, &sum, msg)
	}
	var r record.Record
	if err := json.Unmarshal(msg.Data(), &r); err != nil {
		it.kind = itemRejected
		return s.reject(msg, "undecodable anomaly record: "+err.Error())
	}
	it.kind, it.rec = itemRecord, &r
	it.summaries, _ = strconv.Atoi(msg.Headers().Get(control.HeaderSummaries))
	return nil
}

// summary checks a decoded bucket summary and makes it the item.
func (s *Service) summary(it *item, sum *record.BucketSummary, msg jetstream.Msg) error {
	if sum.BucketSpan <= 0 {
		it.kind = itemRejected
		return s.reject(msg, "bucket summary without a bucket span")
	}
	it.kind, it.sum = itemSummary, sum
	return nil
}

// forward passes on the marker at stream sequence seq, adding the enricher's counters to an
// end of input. The counters are this replica's: with several, each counts what it did.
//
// Its message id is the input's place in ANOMALIES (the stream's creation time and the
// sequence): a marker published by a replica that stopped before acknowledging it (a crash, a
// lost lease) comes again to another replica, which may have passed later records on by then
// (their bucket's summaries were in the history); the second copy is then dropped as a
// duplicate instead of landing after those records.
func (s *Service) forward(h nats.Header, seq uint64) error {
	out := nats.NewMsg(stream.EnrichedSubject)
	out.Header = h
	out.Header.Set(jetstream.MsgIDHeader, "enricher-marker-"+s.hist.stream+"-"+strconv.FormatUint(seq, 10))
	if out.Header.Get(control.HeaderKind) != control.KindEOF {
		return s.pub.PublishWatermark(out)
	}
	stats, err := json.Marshal(map[string]int64{"records": s.stats.Records.Load(), "rejected": s.stats.Rejected.Load(),
		"summaries": s.stats.Summaries.Load()})
	if err != nil {
		return err
	}
	out.Header.Set(control.HeaderStatsPrefix+Stage, string(stats))
	return s.pub.PublishMarker(out)
}

// enrichRecord enriches a record from the history and publishes it.
func (s *Service) enrichRecord(ctx context.Context, r *record.Record) error {
	c, err := s.enrich(ctx, r)
	if err != nil {
		return err
	}
	if s.cfg.ScheduleAware || s.cfg.RolloutAware {
		adjust(r, c, s.cfg.ScheduleAware, s.cfg.RolloutAware)
	}
	r.Context = c
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	out := nats.NewMsg(stream.EnrichedSubject)
	out.Data = b
	s.stats.Records.Add(1)
	return s.pub.Publish(out, r.ID)
}

func (s *Service) reject(msg jetstream.Msg, reason string) error {
	s.stats.Rejected.Add(1)
	dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Data: msg.Data()}
	return s.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), "")
}

// enrich gathers the record's inputs (history, GeoIP, reverse DNS) and builds its context.
func (s *Service) enrich(ctx context.Context, r *record.Record) (*record.Context, error) {
	in := Inputs{GeoIP: s.geo.get(), Recurrence: s.cfg.ScheduleAware}
	var err error
	if in.Fleet, err = s.hist.Fleet(ctx); err != nil {
		return nil, err
	}
	if in.Entry, err = s.hist.Process(ctx, r.ByFieldValue); err != nil {
		return nil, err
	}
	if s.rdns != nil {
		in.RDNS = s.rdns.Lookup(ctx, resolvable(r))
	}
	return Build(r, in), nil
}

// resolvable are the record's destination addresses worth a reverse lookup.
func resolvable(r *record.Record) []string {
	var ips []string
	if c := Contextualize(r); c != nil {
		for _, d := range c.Destinations {
			a, err := netip.ParseAddr(d.IP)
			if err != nil || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() {
				continue
			}
			ips = append(ips, d.IP)
		}
	}
	return ips
}

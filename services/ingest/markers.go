package ingest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/stream"
)

// Replicas of ingest share the RAW consumer, so the raw messages before a marker may be
// handled by another replica, and be in flight when this one would announce the marker. A
// marker therefore waits at a barrier: it is published only once every raw message before its
// own is done (acked by its replica, which acks once the events are stored, or done here,
// its events published ahead of the marker). Handle never waits for it: the marker's raw
// message is kept unacked (retain), and the loop's Release publishes the markers whose barrier
// has passed, in input order, after each commit.

// held is a marker waiting at the barrier of its raw message.
type held struct {
	seq       uint64
	watermark time.Time       // a watermark marker
	eof       *control.Marker // or the end of a replay
	// share is what the raw message adds to its replay's share: counted once the marker is
	// out, so that a replica dying while it waits does not leave it counted as well as
	// counted again by the replica that takes the message over.
	share contribution
}

// hold queues the marker of raw message seq, in stream order (a raw message another replica
// had and left, as it died, comes back after later ones and goes first), and publishes what is
// ready; with one replica, that is the marker itself, at once.
func (s *Service) hold(ctx context.Context, h held) error {
	if !s.held[h.seq] { // a second delivery of a waiting message waits as the first
		i, _ := slices.BinarySearchFunc(s.waiting, h.seq, func(w held, seq uint64) int { return cmp.Compare(w.seq, seq) })
		s.waiting = slices.Insert(s.waiting, i, h)
		s.held[h.seq] = true
	}
	_, err := s.publishReady(ctx)
	return err
}

// publishReady publishes, in order, the waiting markers whose barrier has passed, and reports
// whether it published any.
func (s *Service) publishReady(ctx context.Context) (bool, error) {
	n := 0
	for ; n < len(s.waiting); n++ {
		h := s.waiting[n]
		ok, err := s.bar.Passed(ctx, h.seq)
		if err != nil {
			return n > 0, err
		}
		if !ok {
			break
		}
		s.account(h.share)
		if err := s.publishMarker(ctx, h); err != nil {
			return n > 0, err
		}
		delete(s.held, h.seq)
		s.bar.Done(h.seq)
	}
	s.waiting = s.waiting[:copy(s.waiting, s.waiting[n:])]
	return n > 0, nil
}

// publishMarker publishes the marker to every partition, in its place among the events
// (natsutil.Publisher: an event stored after its watermark is late).
func (s *Service) publishMarker(ctx context.Context, h held) error {
	msgs := make([]*nats.Msg, s.partitions)
	if h.eof == nil {
		wm := control.Marker{Kind: control.KindWatermark, Watermark: h.watermark}
		for p := range msgs {
			msgs[p] = wm.Msg(stream.EventsSubject(p))
		}
		return s.pub.PublishWatermark(msgs...)
	}
	latest, stats, err := s.replayTotals(ctx, h.eof.Replay)
	if err != nil {
		return err
	}
	b, err := json.Marshal(stats)
	if err != nil {
		return err
	}
	for p := range msgs {
		eof := control.Marker{Kind: control.KindEOF, Watermark: latest, Replay: h.eof.Replay, Partition: p,
			Stats: map[string]string{Stage: string(b)}}
		msgs[p] = eof.Msg(stream.EventsSubject(p))
	}
	if err := s.pub.PublishMarker(msgs...); err != nil {
		return err
	}
	if sh := s.shares[h.eof.Replay]; sh != nil {
		sh.ended = true
	}
	latestEvent := any(latest)
	if latest.IsZero() {
		latestEvent = "none" // no event in the input
	}
	s.log.Info("end of input", "replay", h.eof.Replay, "latest_event", latestEvent)
	return nil
}

// release is the loop's Release: after a commit's acks, the markers whose barrier passed go
// out, and are stored before their raw messages are acked.
func (s *Service) release(ctx context.Context) error {
	published, err := s.publishReady(ctx)
	if err != nil || !published {
		return err
	}
	return s.commit(ctx)
}

// commit stores the events and markers published, then this replica's share of the replays
// in progress; the loop acks the raw messages after.
func (s *Service) commit(ctx context.Context) error {
	if err := s.pub.Flush(ctx); err != nil {
		s.batchBuf = nil // a message not acknowledged may still be published again from it
		return err
	}
	// Every batch is acknowledged: nats.go publishes none again, so their memory is free (a
	// buffer made for one unusually large batch is not kept).
	if cap(s.batchBuf) <= batchChunk {
		s.batchBuf = s.batchBuf[:0]
	} else {
		s.batchBuf = nil
	}
	return s.storeShares(ctx)
}

// share is what one replica saw of one replay: the latest event time and the counters of the
// raw messages carrying the replay's id. The replica that receives the end of the replay adds
// up the shares of all replicas, so the end-of-input marker speaks for the whole replay.
type share struct {
	Latest int64         `json:"latest"` // Unix ms; 0 when no event
	Stats  StatsSnapshot `json:"stats"`
	dirty  bool
	ended  bool // the end of the replay was published: forget the share once stored
}

// contribution is what one raw message adds to the share of its replay.
type contribution struct {
	replay string
	did    StatsSnapshot
	latest time.Time
}

// contribution returns what the raw message just handled did, from the counters before it.
func (s *Service) contribution(replay string, before StatsSnapshot) contribution {
	return contribution{replay: replay, did: s.stats.Snapshot().minus(before), latest: s.msgLatest}
}

// account adds a raw message's contribution to its replay's share.
func (s *Service) account(c contribution) {
	if c.replay == "" || c.did == (StatsSnapshot{}) && c.latest.IsZero() {
		return
	}
	sh := s.shares[c.replay]
	if sh == nil {
		sh = &share{}
		s.shares[c.replay] = sh
	}
	sh.Stats = sh.Stats.plus(c.did)
	if !c.latest.IsZero() {
		sh.Latest = max(sh.Latest, c.latest.UnixMilli())
	}
	sh.dirty = true
}

// storeShares writes the shares that changed. They are written before the raw messages are
// acked, so once the barrier of an end of input passes, every replica's share of the replay
// is in the bucket.
func (s *Service) storeShares(ctx context.Context) error {
	for replay, sh := range s.shares {
		if sh.dirty {
			b, err := json.Marshal(sh)
			if err != nil {
				return err
			}
			if _, err := s.kv.Put(ctx, shareKey(replay, s.replica), b); err != nil {
				return fmt.Errorf("ingest: store the share of replay %s: %w", replay, err)
			}
			sh.dirty = false
		}
		if sh.ended {
			delete(s.shares, replay)
		}
	}
	return nil
}

// replayTotals is what the end-of-input marker of a replay reports: the latest event time
// (never below this replica's own, as one ingest would report) and the counters, summed over
// every replica's share. Without shares (raw messages without the replay's id), the counters
// are this replica's since it started, as with one ingest.
func (s *Service) replayTotals(ctx context.Context, replay string) (time.Time, StatsSnapshot, error) {
	latest := s.latest
	var total StatsSnapshot
	found := false
	add := func(sh *share) {
		found = true
		total = total.plus(sh.Stats)
		if sh.Latest > 0 {
			if t := time.UnixMilli(sh.Latest).UTC(); t.After(latest) {
				latest = t
			}
		}
	}
	if sh := s.shares[replay]; sh != nil {
		add(sh)
	}
	own := shareKey(replay, s.replica)
	keys, err := s.kv.ListKeysFiltered(ctx, shareKey(replay, "*"))
	if err != nil {
		return latest, total, fmt.Errorf("ingest: list the shares of replay %s: %w", replay, err)
	}
	defer func() { _ = keys.Stop() }()
	for key := range keys.Keys() {
		if key == own {
			continue
		}
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return latest, total, fmt.Errorf("ingest: read share %s: %w", key, err)
		}
		var sh share
		if err := json.Unmarshal(e.Value(), &sh); err != nil {
			s.log.Warn("ignoring an unreadable share", "key", key, "err", err)
			continue
		}
		add(&sh)
	}
	if !found {
		total = s.stats.Snapshot()
	}
	return latest, total, nil
}

// shareKey is the bucket key of a replica's share of a replay. Replay ids made of letters,
// digits, '-' and '_' (uuids) are used as they are; others are encoded.
func shareKey(replay, replica string) string {
	return "replay." + keyPart(replay) + "." + replica
}

func keyPart(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0 {
		return s
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(s))
}

// replicaID names this process among the replicas.
func replicaID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// replayMaxAge is how long an entry of ingest's bucket lives without being updated: replicas
// rewrite theirs at every commit while a replay runs, so only finished replays are forgotten.
const replayMaxAge = 24 * time.Hour

// ingestBucket opens ingest's bucket (stream.IngestBucket), creating it with the storage and
// replicas of RAW.
func (s *Service) ingestBucket(ctx context.Context) (jetstream.KeyValue, error) {
	c, err := stream.ConfigOf(ctx, s.js, stream.Raw)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	err = stream.EnsureKeyValue(ctx, s.js, c, jetstream.KeyValueConfig{
		Bucket:      stream.IngestBucket,
		Description: "per replay and ingest replica: latest event time and counters, for the end of the replay",
		TTL:         replayMaxAge,
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	kv, err := s.js.KeyValue(ctx, stream.IngestBucket)
	if err != nil {
		return nil, fmt.Errorf("ingest: key-value bucket %s: %w", stream.IngestBucket, err)
	}
	return kv, nil
}

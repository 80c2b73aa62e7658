package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/control"
	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/rawdata"
	"github.com/rarenet/rarenet/shared/record"
	"github.com/rarenet/rarenet/shared/stream"
)

// CheckpointObject names the model checkpoint in the stream.ModelStore object store (for
// operators and the checkpoint-age metric too).
const CheckpointObject = "model"

// modelCheckpoint is everything the model half needs to resume: the model, how far the
// partitions are closed in it, and the replays whose end has not arrived from every partition.
// It does not hold the summaries waiting for slower partitions: the closes that brought them
// stay unacknowledged until every bucket they hold is scored (retain), and a successor takes
// them again. Closed is where the model's buckets end (Announced, for every partition), so a
// successor takes the buckets after it from a redelivered close and skips the rest.
//
// Pending and each partition's own last close in Closed are the layout checkpoints had before
// (their waiting summaries' closes were acknowledged). It is still written while the model
// holds more than maxHeldCloses closes, and after restoring a checkpoint of that layout, until
// what such a checkpoint held is scored (carryThrough).
type modelCheckpoint struct {
	Rarity    RarityState              `json:"rarity"`
	Closed    []int64                  `json:"closed"`
	Pending   map[int64][]ValueSummary `json:"pending,omitempty"`
	EOFs      map[string]*replayEnd    `json:"eofs,omitempty"`
	Announced int64                    `json:"announced"`
	Records   int64                    `json:"records"`
}

// replayEnd gathers the end of a replay from each partition.
type replayEnd struct {
	Seen []bool `json:"seen"`
	// Stats are the upstream counters of the highest partition's end seen so far: the
	// partitions' ends come in any order when several replicas own them.
	Stats     map[string]string `json:"stats,omitempty"`
	StatsFrom int               `json:"stats_from,omitempty"`
}

// modelling is the scorer's second half: the rare model over the union of the partitions'
// bucket summaries. It lives while this replica holds the model's lease.
type modelling struct {
	s       *Service
	lease   *lease.Lease
	pub     *natsutil.Publisher
	obj     jetstream.ObjectStore
	rarity  *Rarity
	closed  []int64 // per partition: the last bucket it closed
	pending map[int64][]ValueSummary
	eofs    map[string]*replayEnd
	// announced is the completeness last published: records of every bucket before it are out.
	announced int64
	records   int64
	// dirty says that a close handled changed what the checkpoint would hold since it was
	// last written, at checkpointed.
	dirty        bool
	checkpointed time.Time
	// through holds, for each close not acked yet, the bucket it closed its partition
	// through: it is acked once a checkpoint has every bucket through there scored.
	through map[uint64]int64
	// cpAnnounced is Announced of the last checkpoint written or restored.
	cpAnnounced int64
	// carryThrough is the last bucket of the waiting summaries held only by a checkpoint
	// (noBucket when none): one of the earlier layout, restored, or one written while the
	// model held too many closes. Until it is scored, checkpoints keep holding the waiting
	// summaries, and the loop acks the closes they cover. carried says the last one did.
	carryThrough int64
	carried      bool
	// early holds, by stream sequence, the closes that came before the close they follow
	// (PartitionClose.After): they wait for it, unacknowledged.
	early map[uint64]PartitionClose
	// raw decompresses closes into one buffer: decoding copies every string out of it.
	raw rawdata.Decoder
	enc msgpackEncoder
}

// newModelling restores the model from its checkpoint, for the replica holding l.
func newModelling(ctx context.Context, s *Service, l *lease.Lease) (*modelling, error) {
	partitions, obj := s.partitions, s.obj
	r, err := NewRarity(s.cfg.Job)
	if err != nil {
		return nil, err
	}
	m := &modelling{s: s, lease: l, pub: natsutil.NewPublisher(s.js), obj: obj, rarity: r,
		closed: make([]int64, partitions), pending: map[int64][]ValueSummary{}, eofs: map[string]*replayEnd{}, announced: noBucket,
		through: map[uint64]int64{}, cpAnnounced: noBucket, carryThrough: noBucket, early: map[uint64]PartitionClose{}}
	for p := range m.closed {
		m.closed[p] = noBucket
	}
	b, err := natsutil.GetObject(ctx, obj, CheckpointObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scorer: read model checkpoint: %w", err)
	}
	var cp modelCheckpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("scorer: decode model checkpoint: %w", err)
	}
	if len(cp.Closed) != partitions {
		return nil, fmt.Errorf("scorer: model checkpoint has %d partitions, the stream %d", len(cp.Closed), partitions)
	}
	if err := r.Restore(cp.Rarity); err != nil {
		return nil, fmt.Errorf("scorer: restore model: %w", err)
	}
	if cp.Rarity.Normalizer.Legacy() {
		s.log.Warn("model checkpoint from an earlier rarenet: the record score normaliser's quantiles restart (now ml-cpp's q-digests)",
			"buckets_modelled", cp.Rarity.Modelled-cp.Rarity.First+1)
	}
	m.closed, m.announced, m.records, m.cpAnnounced = cp.Closed, cp.Announced, cp.Records, cp.Announced
	if len(cp.Pending) > 0 {
		m.pending = cp.Pending
		for k := range cp.Pending {
			m.carryThrough = max(m.carryThrough, k)
		}
	}
	if cp.EOFs != nil {
		m.eofs = cp.EOFs
	}
	s.stats.Records.Store(cp.Records)
	return m, nil
}

func (m *modelling) handle(ctx context.Context, msg jetstream.Msg) error {
	var pc PartitionClose
	if err := decodeClose(&m.raw, msg.Headers(), msg.Data(), &pc); err != nil || pc.Partition < 0 || pc.Partition >= len(m.closed) {
		reason := fmt.Sprintf("bucket summary on %s: not a partition close of one of %d partitions", msg.Subject(), len(m.closed))
		if err != nil {
			reason = "undecodable bucket summary: " + err.Error()
		}
		dl := natsutil.DeadLetter{Stage: Stage, Reason: reason, Data: msg.Data()}
		return m.pub.Publish(dl.Msg(stream.DLQSubject(Stage)), "")
	}
	p := pc.Partition
	var seq uint64
	if meta, err := msg.Metadata(); err == nil {
		seq = meta.Sequence.Stream
		m.through[seq] = pc.ClosedThrough
	}
	if pc.After != nil && *pc.After > m.closed[p] && m.closed[p] != noBucket {
		// The close it follows is not here yet: a publish of it was lost (a NATS node died)
		// and published again after this one was stored. Taken now, this close would make
		// that one look like a redelivery, and its buckets' values would be lost. It waits,
		// unacknowledged. (A model that has no close of the partition yet takes whatever
		// comes first: the partitions' states may have outlived a deleted checkpoint, and
		// then nothing would come to fill the gap.)
		m.early[seq] = pc
		m.s.log.Warn("a partition close came before the one it follows; holding it until that one comes",
			"partition", p, "after", *pc.After, "closed_through", pc.ClosedThrough, "model_closed_through", m.closed[p])
		return nil
	}
	if err := m.take(pc); err != nil {
		return err
	}
	return m.takeEarly(p)
}

// takeEarly takes, in the order they follow one another, the closes of partition p that
// came before the one they follow, now that it is in.
func (m *modelling) takeEarly(p int) error {
	for {
		var next uint64
		found := false
		for seq, pc := range m.early {
			if pc.Partition != p || *pc.After > m.closed[p] {
				continue
			}
			if !found || *pc.After < *m.early[next].After || *pc.After == *m.early[next].After && seq < next {
				next, found = seq, true
			}
		}
		if !found {
			return nil
		}
		pc := m.early[next]
		delete(m.early, next)
		if err := m.take(pc); err != nil {
			return err
		}
	}
}

// take adds a partition's close to the model and scores what it completes.
func (m *modelling) take(pc PartitionClose) error {
	p := pc.Partition
	if pc.ClosedThrough > m.closed[p] {
		// A close taken again after a takeover may hold buckets the checkpoint has scored:
		// only those after the partition's place in the model are new.
		for _, b := range pc.Buckets {
			if b.Bucket > m.closed[p] {
				m.pending[b.Bucket] = append(m.pending[b.Bucket], b.Values...)
			}
		}
		m.closed[p] = pc.ClosedThrough
		m.dirty = true
	} else if !pc.EOF {
		return nil // a redelivered close, already in the model or pending
	}
	if err := m.scoreReady(); err != nil {
		return err
	}
	if pc.EOF {
		return m.endOfInput(pc)
	}
	return nil
}

// decodeClose decodes a partition close: msgpack as the aggregators write it, or JSON as
// scorers before msgpack did (a stream may still hold their closes after an upgrade).
func decodeClose(raw *rawdata.Decoder, h nats.Header, msgData []byte, pc *PartitionClose) error {
	data, err := raw.Data(h, msgData)
	if err != nil {
		return err
	}
	if len(data) > 0 && data[0] == '{' {
		return json.Unmarshal(data, pc)
	}
	rest, err := pc.UnmarshalMsg(data)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d bytes after the partition close", len(rest))
	}
	return err
}

// ready is the last bucket every partition has closed.
func (m *modelling) ready() int64 {
	return slices.Min(m.closed)
}

// scoreReady scores, in order, every pending bucket that all partitions have closed, then
// announces the new completeness downstream.
func (m *modelling) scoreReady() error {
	ready := m.ready()
	if ready == noBucket || ready <= m.announced {
		return nil
	}
	var ks []int64
	for k := range m.pending {
		if k <= ready {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	for _, k := range ks {
		sums, recs, err := scoreBucket(m.s.cfg.Job, &m.enc, m.rarity, k, m.pending[k])
		if err != nil {
			return err
		}
		// The bucket's summary goes first, so the enricher's history holds the bucket before
		// its records ask about it.
		for _, sum := range sums {
			if err := m.pub.Publish(sum.msg, sum.id); err != nil {
				return err
			}
		}
		if err := m.publishRecords(recs, len(sums)); err != nil {
			return err
		}
		delete(m.pending, k)
		// Partitions close at their own pace, on several replicas: ready may pass several
		// buckets at once. Announcing each bucket as its records are out keeps the markers
		// the same whatever the order the partitions' closes came in.
		if k < ready {
			if err := m.announce(k); err != nil {
				return err
			}
		}
	}
	return m.announce(ready)
}

// summaryMsg is a bucket summary's message and its id.
type summaryMsg struct {
	msg *nats.Msg
	id  string
}

// scoreBucket scores bucket k, the union of its partitions' values, and returns its summary
// messages and its records.
func scoreBucket(job Job, enc *msgpackEncoder, r *Rarity, k int64, values []ValueSummary) ([]summaryMsg, []record.Record, error) {
	values = sortedUnion(values)
	sums := bucketSummaries(job, k, values)
	msgs := make([]summaryMsg, len(sums))
	for i := range sums {
		id := job.ID + "_summary_" + strconv.FormatInt(sums[i].Timestamp, 10) + "_" + strconv.Itoa(i)
		data, err := enc.marshal(&sums[i])
		if err != nil {
			return nil, nil, err
		}
		// Compressed as the partition closes are (a summary's hosts, users and destinations
		// repeat from value to value): on a cluster every byte is written and replicated three
		// times.
		msgs[i] = summaryMsg{enc.compressed(stream.AnomaliesSubject, data), id}
	}
	return msgs, r.scoreSorted(k, values), nil
}

// announce publishes that the records of every bucket through k are out.
func (m *modelling) announce(k int64) error {
	m.announced = k
	m.dirty = true
	complete := time.Unix(0, (k+1)*int64(m.s.cfg.Job.BucketSpan)).UTC()
	wm := control.Marker{Kind: control.KindWatermark, Watermark: complete}
	return m.pub.PublishWatermark(wm.Msg(stream.AnomaliesSubject))
}

// publishRecords publishes a bucket's records, each telling how many summary messages of its
// bucket came before it: enricher replicas enrich it once that many are in the history.
func (m *modelling) publishRecords(recs []record.Record, summaries int) error {
	for i := range recs {
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("scorer: encode record: %w", err)
		}
		msg := nats.NewMsg(stream.AnomaliesSubject)
		msg.Data = b
		msg.Header.Set(control.HeaderSummaries, strconv.Itoa(summaries))
		if err := m.pub.Publish(msg, recs[i].ID); err != nil {
			return err
		}
	}
	m.records += int64(len(recs))
	m.s.stats.Records.Add(int64(len(recs)))
	return nil
}

// endOfInput forwards a replay's end once every partition has delivered it, with the
// counters of the stages so far.
func (m *modelling) endOfInput(pc PartitionClose) error {
	end := m.eofs[pc.Replay]
	if end == nil {
		end = &replayEnd{Seen: make([]bool, len(m.closed))}
		m.eofs[pc.Replay] = end
	}
	if end.Seen[pc.Partition] {
		return nil
	}
	end.Seen[pc.Partition] = true
	if pc.Partition >= end.StatsFrom {
		end.Stats, end.StatsFrom = pc.Stats, pc.Partition
	}
	m.dirty = true
	if slices.Contains(end.Seen, false) {
		return nil
	}
	delete(m.eofs, pc.Replay)
	m.s.log.Info("end of input", "replay", pc.Replay)
	own, err := json.Marshal(m.s.stats.Snapshot())
	if err != nil {
		return err
	}
	marker := control.Marker{Kind: control.KindEOF, Replay: pc.Replay, Stats: map[string]string{Stage: string(own)}}
	for k, v := range end.Stats {
		marker.Stats[k] = v
	}
	if m.announced != noBucket {
		marker.Watermark = time.Unix(0, (m.announced+1)*int64(m.s.cfg.Job.BucketSpan)).UTC()
	}
	return m.pub.PublishMarker(marker.Msg(stream.AnomaliesSubject))
}

// commit stores the records, then checkpoints the model; the loop then acks the summaries.
func (m *modelling) commit(ctx context.Context) error {
	if err := m.pub.Flush(ctx); err != nil {
		return err
	}
	if !m.dirty || time.Since(m.checkpointed) < modelCheckpointEvery {
		return nil // the loop keeps the closes unacked until a checkpoint covers them (retain)
	}
	// A replica that lost the model must not overwrite its successor's checkpoint: the
	// successor may have acked summaries that only its own checkpoint covers. (This narrows
	// the window, it does not close it: a put held up past the check still lands. The put is
	// not fenced by the lease; docs/pipeline.md, "Known limits".)
	if err := m.stillHolds(ctx); err != nil {
		return err
	}
	cp := modelCheckpoint{Rarity: m.rarity.Snapshot(), EOFs: m.eofs, Announced: m.announced, Records: m.records}
	carry := m.announced < m.carryThrough || len(m.through) > maxHeldCloses
	if carry {
		cp.Closed, cp.Pending = m.closed, m.pending
		// The closes this checkpoint covers are acked: what they left waiting is only here.
		m.carryThrough = max(m.carryThrough, slices.Max(m.closed))
	} else {
		// The summaries waiting for slower partitions stay in their closes, unacknowledged:
		// written here at every checkpoint, they made one cost seconds of CPU when a replica's
		// partitions ran ahead of another's (docs/performance.md item 25).
		cp.Closed = make([]int64, len(m.closed))
		for p, c := range m.closed {
			cp.Closed[p] = min(c, m.announced)
		}
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("scorer: encode model checkpoint: %w", err)
	}
	if _, err := m.obj.PutBytes(ctx, CheckpointObject, b); err != nil {
		return fmt.Errorf("scorer: write model checkpoint: %w", err)
	}
	// The loop acks the closes this checkpoint covers once commit returns. A successor that
	// took the model while the put was on its way (a cluster electing a leader can hold it
	// for seconds) restored the checkpoint before this one, and would never get those closes
	// again: the buckets' values would be lost. So they are acked only when no successor
	// can exist yet (a renewal on time), or the lease, read from the leader, still names
	// this replica; a successor then restores this checkpoint.
	if err := m.stillHolds(ctx); err != nil {
		return err
	}
	m.dirty, m.checkpointed = false, time.Now()
	m.cpAnnounced, m.carried = m.announced, carry
	return nil
}

// modelCheckpointEvery is the least time between two checkpoints of the model. A checkpoint
// is the whole model, written to R3 storage; taken at every commit, it cost a scorer whose
// partitions ran in another replica a seventh of its CPU (it committed far more often than
// the replica that also ran them: docs/performance.md item 23). Between checkpoints the closes
// stay unacknowledged (retain), so a successor handles again what the last one does not
// cover: the records it publishes again carry the same ids, which the streams drop as
// duplicates (natsutil.DefaultAckWait and the streams' 2-minute window).
const modelCheckpointEvery = time.Second

// maxHeldCloses bounds the closes the model holds unacknowledged while their buckets wait
// for slower partitions (retain): past it, the checkpoint holds their summaries instead and
// they are acked, as before the closes were held. The model's consumer delivers at most
// natsutil's MaxAckPending (65,536) unacknowledged messages, and the slow partition's close
// must still come through; ingest's back-pressure (4,096 event messages) keeps a partition
// that far behind the others only when it stalls, with many partitions. A variable for tests.
var maxHeldCloses = 4096

// retain keeps a close of the model's input unacknowledged while what it changed is not in a
// checkpoint, or while a bucket it holds waits for slower partitions (modelCheckpoint).
func (m *modelling) retain(msg jetstream.Msg) bool {
	if m.dirty {
		return true
	}
	meta, err := msg.Metadata()
	if err != nil {
		return false
	}
	seq := meta.Sequence.Stream
	if _, ok := m.early[seq]; ok {
		return true // not in the model yet, whatever a checkpoint holds
	}
	if through, ok := m.through[seq]; ok && !m.carried && through > m.cpAnnounced {
		return true
	}
	delete(m.through, seq)
	return false
}

// stillHolds returns nil while no other replica can have taken the model over: without a
// round trip while the lease's renewals are on time (lease.Exclusive), else when a read
// from the leader still names this replica.
func (m *modelling) stillHolds(ctx context.Context) error {
	if m.lease.Exclusive() {
		return nil
	}
	return m.lease.Check(ctx)
}

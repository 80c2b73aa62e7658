package enricher

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
)

// ErrHistoryConflict is returned by Store.Commit when another writer kept changing an entry
// faster than the store could merge its own changes into it.
var ErrHistoryConflict = errors.New("enricher: history entry changed concurrently, retries exhausted")

// fleetKey is the key of the fleet entry; process entries are "p." + the name in unpadded
// base64url, which any process.name maps to without collisions and within KV key rules.
const fleetKey = "fleet"

func processKey(name string) string { return "p." + base64.RawURLEncoding.EncodeToString([]byte(name)) }

// maxCached bounds the entries a store keeps in memory between commits; beyond it, entries
// without pending changes are dropped after a commit and read again when needed.
const maxCached = 10000

// slot is one cached KV entry: its value, the revision it was read at (0: absent), and the
// observations applied since the last commit, replayed onto a fresher value on a conflict.
type slot[T any] struct {
	key     string // in the KV bucket
	val     *T
	rev     uint64
	pending []observation
	keys    keyOrder // of val's maps, as last written
}

// Store is the history in a KV bucket, with the entries in use cached in memory. Reads and
// summaries go through the cache; Commit writes the changed entries with compare-and-set, so
// replicas sharing the bucket never lose each other's buckets.
//
// A Store is not safe for concurrent use: the stage's loop is its only user.
type Store struct {
	kv    jetstream.KeyValue
	js    jetstream.JetStream // set by Pipeline: Commit then sends its writes at once
	procs map[string]*slot[Entry]
	fleet *slot[Fleet]
	// prog is how far the history is, as far as this store knows; stream names the ANOMALIES
	// stream it counts in (its creation time), so a recreated stream starts afresh.
	prog      Progress
	progDirty bool
	synced    bool // Sync has read the progress once
	stream    string
	// runs keeps each host's runs of a process (Entry.Runs), for the enhanced profile.
	runs bool
	// buf holds the entries of a pipelined commit, written each after the one before; it is
	// used again once the server has answered every write (nats.go may publish a message
	// again until then: sendAll).
	buf []byte
	// nums holds the times the entries write, formatted (entryjson.go).
	nums numCache
}

// maxKeptBuf is the most of buf kept between commits: a commit of unusually many entries
// does not hold its memory for good.
const maxKeptBuf = 4 << 20

// progressKey is the key of the history's progress.
const progressKey = "progress"

// Progress is how far the history is: the last bucket summary applied, by its sequence in
// the ANOMALIES stream, and how many summary messages of its bucket were applied up to it.
// Replicas apply summaries one at a time in stream order (each waits until every message
// before it is done), so it tells a replica both whether its cached entries are stale and
// whether the summaries of a record's bucket are all in.
type Progress struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Bucket int64  `json:"bucket"` // bucket start, Unix ms
	Count  int    `json:"count"`  // summary messages of Bucket applied
}

// NewStore returns a Store on kv.
func NewStore(kv jetstream.KeyValue) *Store {
	return &Store{kv: kv, procs: map[string]*slot[Entry]{}}
}

// KeepRuns makes the store keep each host's runs of every process (Entry.Runs), which the
// enhanced profile's recurrence needs; the faithful profile's history stays as it was.
func (st *Store) KeepRuns() { st.runs = true }

// Pipeline makes Commit send the writes of all changed entries at once and wait for them
// together, a round trip in all rather than one per entry (the entries of a bucket's every
// process); js must be the connection of the store's KV bucket.
func (st *Store) Pipeline(js jetstream.JetStream) { st.js = js }

// load reads key into a fresh slot.
func load[T any](ctx context.Context, kv jetstream.KeyValue, key string) (*slot[T], error) {
	s := &slot[T]{key: key, val: new(T)}
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("enricher: history get %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), s.val); err != nil {
		return nil, fmt.Errorf("enricher: history entry %s: %w", key, err)
	}
	s.rev = e.Revision()
	return s, nil
}

// Process returns the history of a process.name (an empty entry when there is none). The
// entry is the store's own: read it, never change it.
func (st *Store) Process(ctx context.Context, name string) (*Entry, error) {
	s, err := st.proc(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.val, nil
}

func (st *Store) proc(ctx context.Context, name string) (*slot[Entry], error) {
	if s := st.procs[name]; s != nil {
		return s, nil
	}
	s, err := load[Entry](ctx, st.kv, processKey(name))
	if err != nil {
		return nil, err
	}
	st.procs[name] = s
	return s, nil
}

// Fleet returns the fleet's history. Like Process, it is read-only.
func (st *Store) Fleet(ctx context.Context) (*Fleet, error) {
	if st.fleet == nil {
		s, err := load[Fleet](ctx, st.kv, fleetKey)
		if err != nil {
			return nil, err
		}
		st.fleet = s
	}
	return st.fleet.val, nil
}

// Sync reads how far the shared history is. When another replica applied summaries since
// this store's last, it forgets its cached entries, so what it reads next is what that
// replica committed.
func (st *Store) Sync(ctx context.Context) error {
	e, err := st.kv.Get(ctx, progressKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		st.synced = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("enricher: history progress: %w", err)
	}
	var p Progress
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return fmt.Errorf("enricher: history progress: %w", err)
	}
	st.synced = true
	if p.Stream != st.stream || p.Seq <= st.prog.Seq {
		return nil
	}
	st.prog = p
	for name, s := range st.procs {
		if len(s.pending) == 0 {
			delete(st.procs, name)
		}
	}
	if st.fleet != nil && len(st.fleet.pending) == 0 {
		st.fleet = nil
	}
	return nil
}

// Synced reports whether Sync has read the progress at least once.
func (st *Store) Synced() bool { return st.synced }

// Holds reports whether the history holds every summary of the bucket starting at bucket,
// given that the scorer published n summary messages for it, as far as this store knows.
func (st *Store) Holds(bucket int64, n int) bool {
	return st.prog.Bucket > bucket || st.prog.Bucket == bucket && st.prog.Count >= n
}

// ApplyAt applies the summary at stream sequence seq, unless the history already has it (a
// redelivery), and counts it in the progress.
func (st *Store) ApplyAt(ctx context.Context, seq uint64, sum *record.BucketSummary) error {
	if seq <= st.prog.Seq {
		return nil
	}
	if err := st.Apply(ctx, sum); err != nil {
		return err
	}
	if st.prog.Bucket == sum.Timestamp {
		st.prog.Count++
	} else {
		st.prog.Bucket, st.prog.Count = sum.Timestamp, 1
	}
	st.prog.Seq, st.prog.Stream, st.progDirty = seq, st.stream, true
	return nil
}

// Apply adds a bucket summary to the history. The change is visible at once to Process and
// Fleet, and durable after Commit.
func (st *Store) Apply(ctx context.Context, sum *record.BucketSummary) error {
	span := sum.BucketSpan * 1000
	if span <= 0 {
		return fmt.Errorf("enricher: bucket summary with bucket span %d", sum.BucketSpan)
	}
	if _, err := st.Fleet(ctx); err != nil {
		return err
	}
	for _, v := range sum.Values {
		o := observation{bucket: sum.Timestamp, span: span, value: v, runs: st.runs}
		s, err := st.proc(ctx, v.Value)
		if err != nil {
			return err
		}
		s.val.Name = v.Value
		s.val.apply(o)
		s.pending = append(s.pending, o)
		st.fleet.val.apply(o)
		st.fleet.pending = append(st.fleet.pending, o)
	}
	return nil
}

// Commit writes every changed entry. On a conflict (another replica wrote the entry since it
// was read) it reads the entry again, applies its own observations onto it, and retries.
func (st *Store) Commit(ctx context.Context) error {
	names := st.changed()
	apply := func(e *Entry, o observation) {
		e.Name = o.value.Value
		e.apply(o)
	}
	if st.js != nil {
		if err := st.sendAll(ctx, names); err != nil {
			return err
		}
	}
	for _, name := range names {
		if len(st.procs[name].pending) == 0 {
			continue // written by sendAll
		}
		s, err := commitSlot(ctx, st.kv, processKey(name), st.procs[name], apply)
		if err != nil {
			return err
		}
		st.procs[name] = s
	}
	if st.fleet != nil && len(st.fleet.pending) > 0 {
		s, err := commitSlot(ctx, st.kv, fleetKey, st.fleet, (*Fleet).apply)
		if err != nil {
			return err
		}
		st.fleet = s
	}
	if len(st.procs) > maxCached {
		clear(st.procs)
	}
	// Last: once the progress says so, other replicas read these entries.
	if st.progDirty {
		b, err := json.Marshal(st.prog)
		if err != nil {
			return err
		}
		if _, err := st.kv.Put(ctx, progressKey, b); err != nil {
			return fmt.Errorf("enricher: history progress: %w", err)
		}
		st.progDirty = false
	}
	return nil
}

// changed returns the names of the processes with pending observations, sorted: a stable
// write order keeps revisions reproducible.
func (st *Store) changed() []string {
	names := make([]string, 0, len(st.procs))
	for name, s := range st.procs {
		if len(s.pending) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// sendAll publishes the changed entries of names and the fleet at once, each with
// compare-and-set on its revision as KeyValue.Update does (a KV write is a publish on the
// key's subject expecting the subject's last sequence), and waits for them together. An
// entry whose write conflicted keeps its pending observations, for commitSlot to merge.
func (st *Store) sendAll(ctx context.Context, names []string) error {
	buf := st.buf[:0]
	st.buf = nil // until every write is answered
	writes, buf, err := st.encodeChanged(buf, names)
	if err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(writes))
	for _, w := range writes {
		m := nats.NewMsg("$KV." + st.kv.Bucket() + "." + w.key)
		m.Data = w.data
		f, err := st.js.PublishMsgAsync(m, jetstream.WithExpectLastSequencePerSubject(w.rev), jetstream.WithStallWait(natsutil.PublishAckTimeout))
		if err != nil {
			return fmt.Errorf("enricher: history put %s: %w", w.key, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			writes[i].done(ack.Sequence)
		case err := <-f.Err():
			if !isConflict(err) {
				return fmt.Errorf("enricher: history put %s: %w", f.Msg().Subject, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Every write is answered: nats.go publishes none of them again, so buf is free.
	if cap(buf) <= maxKeptBuf {
		st.buf = buf
	}
	return nil
}

// write is a changed entry encoded for its write: a process's or the fleet's.
type write struct {
	key   string
	data  []byte
	rev   uint64 // expected
	proc  *slot[Entry]
	fleet *slot[Fleet]
}

// done marks the entry written at revision rev.
func (w write) done(rev uint64) {
	if w.proc != nil {
		w.proc.rev, w.proc.pending = rev, reuse(w.proc.pending)
	} else {
		w.fleet.rev, w.fleet.pending = rev, reuse(w.fleet.pending)
	}
}

// encodeChanged encodes the changed entries of names and the fleet one after the other in
// buf, each in a slice of its own (a later one may grow buf: the earlier keep their bytes).
func (st *Store) encodeChanged(buf []byte, names []string) ([]write, []byte, error) {
	writes := make([]write, 0, len(names)+1)
	encode := func(val any, keys *keyOrder) ([]byte, error) {
		start := len(buf)
		var err error
		buf, err = appendHistory(buf, val, keys, &st.nums)
		return buf[start:len(buf):len(buf)], err
	}
	for _, name := range names {
		s := st.procs[name]
		data, err := encode(s.val, &s.keys)
		if err != nil {
			return nil, nil, err
		}
		writes = append(writes, write{key: s.key, data: data, rev: s.rev, proc: s})
	}
	if f := st.fleet; f != nil && len(f.pending) > 0 {
		data, err := encode(f.val, &f.keys)
		if err != nil {
			return nil, nil, err
		}
		writes = append(writes, write{key: f.key, data: data, rev: f.rev, fleet: f})
	}
	return writes, buf, nil
}

// reuse empties a slot's pending observations, keeping their memory for the next ones.
func reuse(pending []observation) []observation {
	clear(pending) // what they refer to (the summaries' strings) is not kept alive
	return pending[:0]
}

// commitRetries bounds the re-reads of one entry in one commit.
const commitRetries = 5

func commitSlot[T any](ctx context.Context, kv jetstream.KeyValue, key string, s *slot[T], apply func(*T, observation)) (*slot[T], error) {
	for range commitRetries {
		b, err := marshalHistory(s.val)
		if err != nil {
			return nil, err
		}
		var rev uint64
		if s.rev == 0 {
			rev, err = kv.Create(ctx, key, b)
		} else {
			rev, err = kv.Update(ctx, key, b, s.rev)
		}
		if err == nil {
			s.rev, s.pending = rev, reuse(s.pending)
			return s, nil
		}
		if !isConflict(err) {
			return nil, fmt.Errorf("enricher: history put %s: %w", key, err)
		}
		fresh, err := load[T](ctx, kv, key)
		if err != nil {
			return nil, err
		}
		for _, o := range s.pending {
			apply(fresh.val, o)
		}
		fresh.pending = s.pending
		s = fresh
	}
	return nil, fmt.Errorf("%w: %s", ErrHistoryConflict, key)
}

// isConflict reports a compare-and-set failure: the key exists (Create) or has another
// revision (Update).
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

package windower

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/record"
)

// state is the windower's memory in the rarenet_windower bucket, for one rule: the last run
// (to catch up after downtime), the records waiting for runs (so a restart or a takeover
// loses none), and the suppression groups.
type state struct {
	kv   jetstream.KeyValue
	pub  *natsutil.Publisher // writes go out with the stage's publishes (natsutil.KVPut)
	rule string              // ruleKey of the rule id
	// added and pruned are the pending records changed since the last save.
	added  map[string]record.Record
	pruned map[string]bool
	// lastRun is the time of the last run, to be written by the next save when lastRunDue.
	lastRun    time.Time
	lastRunDue bool
}

func newState(kv jetstream.KeyValue, pub *natsutil.Publisher, ruleID string) *state {
	return &state{kv: kv, pub: pub, rule: ruleKey(ruleID), added: map[string]record.Record{}, pruned: map[string]bool{}}
}

func (s *state) lastRunKey() string          { return "lastrun." + s.rule }
func (s *state) pendingKey(id string) string { return "pending." + s.rule + "." + hashKey(id) }
func (s *state) suppressKey(g string) string { return "suppress." + s.rule + "." + hashKey(g) }

// load returns the last run (zero if none) and the pending records, all read through one
// watcher: keys and values from one replica's view of the bucket at one moment. It listed the
// keys through a watcher and then read each by Get, which on an R3 bucket is a direct get any
// replica may answer: a windower taking over from one just killed could list a pending record
// on one replica and find it "not found" on another that had not yet stored it, and drop it
// (a likely cause of a TestReplicasSurviveKills failure: the run after the takeover found its
// record gone and signalled nothing). A replica that lags as a whole is still possible.
func (s *state) load(ctx context.Context) (time.Time, []record.Record, error) {
	entries, err := latest(ctx, s.kv, s.lastRunKey(), "pending."+s.rule+".*")
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("windower: read the last run and the pending records: %w", err)
	}
	var last time.Time
	var recs []record.Record
	for _, e := range entries {
		if e.Key() == s.lastRunKey() {
			if last, err = time.Parse(time.RFC3339Nano, string(e.Value())); err != nil {
				return last, nil, fmt.Errorf("windower: last run %q: %w", e.Value(), err)
			}
			continue
		}
		var r record.Record
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return last, nil, fmt.Errorf("windower: pending record %s: %w", e.Key(), err)
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b record.Record) int { return strings.Compare(a.ID, b.ID) })
	return last, recs, nil
}

// latest returns the current entries of the keys matching filters, deleted ones left out.
func latest(ctx context.Context, kv jetstream.KeyValue, filters ...string) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.WatchFiltered(ctx, filters, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []jetstream.KeyValueEntry
	err = initial(ctx, w, func(e jetstream.KeyValueEntry) { out = append(out, e) })
	return out, err
}

// initial calls fn with each of the entries w holds when it starts: they end with a nil entry.
func initial(ctx context.Context, w jetstream.KeyWatcher, fn func(jetstream.KeyValueEntry)) error {
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return nil
			}
			fn(e)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *state) add(r record.Record) { s.added[r.ID] = r; delete(s.pruned, r.ID) }

func (s *state) prune(id string) {
	if _, ok := s.added[id]; ok {
		delete(s.added, id)
		return
	}
	s.pruned[id] = true
}

// save writes the pending records changed since the last save and the last run's time, with
// the stage's next Flush. The stage saves at its commit, once for every rule run since the
// last one: a replay's catch-up runs the rule once a bucket, and wrote the last run (an R3 KV
// write on a cluster) for each.
func (s *state) save() error {
	for id, r := range s.added {
		b, err := json.Marshal(&r)
		if err != nil {
			return err
		}
		if err := s.pub.Publish(natsutil.KVPut(s.kv, s.pendingKey(id), b), ""); err != nil {
			return fmt.Errorf("windower: save pending record: %w", err)
		}
	}
	for id := range s.pruned {
		if err := s.pub.Publish(natsutil.KVPurge(s.kv, s.pendingKey(id)), ""); err != nil {
			return fmt.Errorf("windower: forget pending record: %w", err)
		}
	}
	clear(s.added)
	clear(s.pruned)
	if s.lastRunDue {
		// A watermark: should this put be lost and published again at a Flush after a later
		// save's put (a tick's save is not flushed at once), the older time would overwrite
		// the newer; in doubt, the next one waits for it (natsutil.PublishWatermark).
		if err := s.pub.PublishWatermark(natsutil.KVPut(s.kv, s.lastRunKey(), []byte(s.lastRun.UTC().Format(time.RFC3339Nano)))); err != nil {
			return fmt.Errorf("windower: save last run: %w", err)
		}
		s.lastRunDue = false
	}
	return nil
}

// setLastRun records the time of a run, for the next save.
func (s *state) setLastRun(t time.Time) { s.lastRun, s.lastRunDue = t, true }

// clear forgets the last run and every waiting record of the rule (the end of a replay).
func (s *state) clear(ctx context.Context) error {
	if err := s.kv.Purge(ctx, s.lastRunKey()); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("windower: forget last run: %w", err)
	}
	kl, err := s.kv.ListKeysFiltered(ctx, "pending."+s.rule+".*")
	if err != nil {
		return fmt.Errorf("windower: list pending records: %w", err)
	}
	for key := range kl.Keys() {
		if err := s.kv.Purge(ctx, key); err != nil {
			return fmt.Errorf("windower: forget pending record: %w", err)
		}
	}
	clear(s.added)
	clear(s.pruned)
	s.lastRunDue = false
	return nil
}

// suppression is the first signal of a group (host.name and process.name) while it
// suppresses later ones.
type suppression struct {
	First    time.Time `json:"first"`
	SignalID string    `json:"signal_id"`
}

// suppressGroup is the suppression group of r: its hosts and its process, never global.
func suppressGroup(r *record.Record) string {
	hosts := slices.Clone(recordValues(r, "host.name"))
	slices.Sort(hosts)
	return strings.Join(hosts, ",") + "\x00" + r.ByFieldValue
}

func (s *state) getSuppression(ctx context.Context, group string) (suppression, bool, error) {
	e, err := s.kv.Get(ctx, s.suppressKey(group))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return suppression{}, false, nil
	}
	if err != nil {
		return suppression{}, false, fmt.Errorf("windower: read suppression: %w", err)
	}
	var sp suppression
	if err := json.Unmarshal(e.Value(), &sp); err != nil {
		return suppression{}, false, nil
	}
	return sp, true, nil
}

// putSuppression writes a suppression group, with the stage's next Flush.
func (s *state) putSuppression(group string, sp suppression) error {
	b, _ := json.Marshal(sp)
	if err := s.pub.Publish(natsutil.KVPut(s.kv, s.suppressKey(group), b), ""); err != nil {
		return fmt.Errorf("windower: save suppression: %w", err)
	}
	return nil
}

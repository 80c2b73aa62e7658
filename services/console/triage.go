package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/stream"
)

// ErrBadStatus is returned for a workflow status other than open, acknowledged or closed.
var ErrBadStatus = errors.New("console: bad workflow status")

// ErrBadSignalID is returned for a signal id that cannot be a key of the triage bucket.
var ErrBadSignalID = errors.New("console: bad signal id")

// maxNote bounds a triage note.
const maxNote = 4096

// Triage is a signal's triage state: what the console stores under status.<id> in
// stream.ConsoleBucket and publishes on stream.TriageSubject at every change.
type Triage struct {
	ID     string    `json:"kibana.alert.uuid"`
	RuleID string    `json:"kibana.alert.rule.rule_id,omitempty"`
	Status string    `json:"kibana.alert.workflow_status"`
	Note   string    `json:"note,omitempty"`
	By     string    `json:"by"`
	At     time.Time `json:"@timestamp"`
	// Revision is the entry's revision in the bucket (not stored in the document).
	Revision uint64 `json:"-"`
}

var signalIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

func statusKey(id string) string { return "status." + id }

// triageHistory is how many revisions of a signal's triage state the bucket keeps (the most
// JetStream allows): the history shown on the signal's page.
const triageHistory = 64

// EnsureTriageKV creates or updates the console's bucket (stream.ConsoleBucket) with the
// storage and replication c gives.
func EnsureTriageKV(ctx context.Context, js jetstream.JetStream, c stream.Config) error {
	return stream.EnsureKeyValue(ctx, js, c, jetstream.KeyValueConfig{
		Bucket:      stream.ConsoleBucket,
		Description: "triage state of each signal, kept by the console",
		History:     triageHistory,
	})
}

// TriageKV opens the console's bucket, or returns jetstream.ErrBucketNotFound when no console
// ever ran: then every signal is as its document says.
func TriageKV(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	return js.KeyValue(ctx, stream.ConsoleBucket)
}

// SetStatus stores a signal's new triage state and publishes it on stream.TriageSubject.
func SetStatus(ctx context.Context, nc *nats.Conn, kv jetstream.KeyValue, t *Triage) error {
	if !slices.Contains(Statuses, t.Status) {
		return fmt.Errorf("%w: %q: want %s", ErrBadStatus, t.Status, strings.Join(Statuses, ", "))
	}
	if !signalIDPattern.MatchString(t.ID) {
		return fmt.Errorf("%w: %q", ErrBadSignalID, t.ID)
	}
	if len(t.Note) > maxNote {
		return fmt.Errorf("console: note of %d bytes, at most %d", len(t.Note), maxNote)
	}
	if t.At.IsZero() {
		t.At = time.Now().UTC()
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	rev, err := kv.Put(ctx, statusKey(t.ID), b)
	if err != nil {
		return fmt.Errorf("console: store the status of %s: %w", t.ID, err)
	}
	t.Revision = rev
	// The bucket is the record; the subject tells subscribers. A lost notice loses nothing.
	if err := nc.Publish(stream.TriageSubject, b); err != nil {
		return fmt.Errorf("console: publish the status of %s: %w", t.ID, err)
	}
	return nil
}

// ReadStatus returns a signal's triage state, or nil when it was never triaged.
func ReadStatus(ctx context.Context, kv jetstream.KeyValue, id string) (*Triage, error) {
	if !signalIDPattern.MatchString(id) {
		return nil, nil
	}
	e, err := kv.Get(ctx, statusKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: read the status of %s: %w", id, err)
	}
	return decodeTriage(e)
}

func decodeTriage(e jetstream.KeyValueEntry) (*Triage, error) {
	var t Triage
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return nil, fmt.Errorf("console: triage entry %s: %w", e.Key(), err)
	}
	t.Revision = e.Revision()
	return &t, nil
}

// TriageHistory returns every kept revision of a signal's triage state, newest first.
func TriageHistory(ctx context.Context, kv jetstream.KeyValue, id string) ([]Triage, error) {
	if !signalIDPattern.MatchString(id) {
		return nil, nil
	}
	es, err := kv.History(ctx, statusKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: triage history of %s: %w", id, err)
	}
	out := make([]Triage, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Operation() != jetstream.KeyValuePut {
			continue
		}
		t, err := decodeTriage(es[i])
		if err != nil {
			continue // one bad revision does not hide the others
		}
		out = append(out, *t)
	}
	return out, nil
}

// WithStatus returns the signal document doc with its workflow status set to status
// (kibana.alert.workflow_status in 8.x, signal.status in 7.x). doc is returned unchanged when
// it already says so or is not a JSON object.
func WithStatus(doc []byte, status string) []byte {
	var d map[string]any
	if json.Unmarshal(doc, &d) != nil {
		return doc
	}
	if sig, ok := d["signal"].(map[string]any); ok {
		if sig["status"] == status {
			return doc
		}
		sig["status"] = status
	} else {
		if d["kibana.alert.workflow_status"] == status {
			return doc
		}
		d["kibana.alert.workflow_status"] = status
	}
	b, err := json.Marshal(d)
	if err != nil {
		return doc
	}
	return b
}

// SignalID returns the id of a signal document (kibana.alert.uuid, or signal.id in 7.x).
func SignalID(doc []byte) string {
	var d struct {
		UUID   string `json:"kibana.alert.uuid"`
		Signal struct {
			ID string `json:"id"`
		} `json:"signal"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return ""
	}
	return cmp.Or(d.UUID, d.Signal.ID)
}

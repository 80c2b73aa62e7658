package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

// ModelHistory is how much the model has learned, as its last checkpoint says: what `rarenet
// run` tells a user who wonders why no signal comes yet.
type ModelHistory struct {
	// Buckets is the number of buckets from the first to the last the model took in (0 before
	// the first); First and Last are their starts.
	Buckets     int64
	First, Last time.Time
	// Values is the number of process names the model knows.
	Values int
}

// ReadModelHistory reads the model's checkpoint; a pipeline that never closed a bucket has
// none, and an empty history. span is the job's bucket span.
func ReadModelHistory(ctx context.Context, js jetstream.JetStream, span time.Duration) (ModelHistory, error) {
	obj, err := js.ObjectStore(ctx, stream.ModelStore)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return ModelHistory{}, nil
	}
	if err != nil {
		return ModelHistory{}, fmt.Errorf("scorer: model store: %w", err)
	}
	b, err := natsutil.GetObject(ctx, obj, CheckpointObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ModelHistory{}, nil
	}
	if err != nil {
		return ModelHistory{}, fmt.Errorf("scorer: read model checkpoint: %w", err)
	}
	var cp modelCheckpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return ModelHistory{}, fmt.Errorf("scorer: decode model checkpoint: %w", err)
	}
	r := cp.Rarity
	h := ModelHistory{Values: len(r.Model.Values)}
	if r.First != noBucket && r.Modelled != noBucket && span > 0 {
		h.Buckets = r.Modelled - r.First + 1
		h.First = time.Unix(0, r.First*int64(span)).UTC()
		h.Last = time.Unix(0, r.Modelled*int64(span)).UTC()
	}
	return h, nil
}

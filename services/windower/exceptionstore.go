package windower

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrExceptionNotFound is returned by RemoveException when no exception has the id.
var ErrExceptionNotFound = errors.New("exception not found")

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ruleKey is a rule id as one key-value token: the id itself when it is plain (rule ids are
// uuids), else a hash of it.
func ruleKey(ruleID string) string {
	if plainKey.MatchString(ruleID) {
		return ruleID
	}
	h := sha256.Sum256([]byte(ruleID))
	return "h" + hex.EncodeToString(h[:12])
}

// hashKey is a key-value token for any string.
func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// AddException stores x under a new id (set in x and returned).
func AddException(ctx context.Context, kv jetstream.KeyValue, x *Exception) (string, error) {
	if err := x.Validate(); err != nil {
		return "", err
	}
	if x.ID == "" {
		x.ID = uuid.NewString()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return "", err
	}
	if _, err := kv.Create(ctx, ruleKey(x.RuleID)+"."+x.ID, b); err != nil {
		return "", fmt.Errorf("windower: add exception: %w", err)
	}
	return x.ID, nil
}

// ListExceptions returns the exceptions of ruleID (every rule's when empty), by rule and id.
func ListExceptions(ctx context.Context, kv jetstream.KeyValue, ruleID string) ([]Exception, error) {
	filter := ">"
	if ruleID != "" {
		filter = ruleKey(ruleID) + ".*"
	}
	kl, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("windower: list exceptions: %w", err)
	}
	var out []Exception
	for key := range kl.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("windower: read exception %s: %w", key, err)
		}
		var x Exception
		if err := json.Unmarshal(e.Value(), &x); err != nil {
			return nil, fmt.Errorf("windower: exception %s: %w", key, err)
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b Exception) int {
		return strings.Compare(a.RuleID+"\x00"+a.ID, b.RuleID+"\x00"+b.ID)
	})
	return out, nil
}

// RemoveException deletes the exception with id (of ruleID, or of any rule when empty).
func RemoveException(ctx context.Context, kv jetstream.KeyValue, ruleID, id string) error {
	xs, err := ListExceptions(ctx, kv, ruleID)
	if err != nil {
		return err
	}
	for _, x := range xs {
		if x.ID == id {
			return kv.Delete(ctx, ruleKey(x.RuleID)+"."+x.ID)
		}
	}
	return fmt.Errorf("windower: %w: %s", ErrExceptionNotFound, id)
}

// exceptionWatch keeps the exceptions of one rule current from the bucket, without a goroutine
// of its own: the windower drains the updates before each run.
type exceptionWatch struct {
	w   jetstream.KeyWatcher
	set map[string]Exception
}

func watchExceptions(ctx context.Context, kv jetstream.KeyValue, ruleID string) (*exceptionWatch, error) {
	w, err := kv.Watch(ctx, ruleKey(ruleID)+".*")
	if err != nil {
		return nil, fmt.Errorf("windower: watch exceptions: %w", err)
	}
	x := &exceptionWatch{w: w, set: map[string]Exception{}}
	if err := initial(ctx, w, x.apply); err != nil {
		w.Stop()
		return nil, err
	}
	return x, nil
}

func (x *exceptionWatch) apply(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		delete(x.set, e.Key())
		return
	}
	var ex Exception
	if json.Unmarshal(e.Value(), &ex) == nil {
		x.set[e.Key()] = ex
	}
}

// current applies the updates received so far and returns the exceptions.
func (x *exceptionWatch) current() map[string]Exception {
	for {
		select {
		case e, ok := <-x.w.Updates():
			if !ok {
				// The watcher stopped (the windower is shutting down): a closed channel would
				// otherwise answer at once, for ever.
				return x.set
			}
			if e != nil {
				x.apply(e)
			}
		default:
			return x.set
		}
	}
}

func (x *exceptionWatch) stop() { _ = x.w.Stop() }

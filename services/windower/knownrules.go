package windower

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/shared/stream"
)

// ErrUnknownRule is returned by CheckRuleID for a rule id that is neither built in nor run
// by any windower on the server: an exception for it would never apply.
var ErrUnknownRule = errors.New("unknown rule id")

// KnownRules returns the rule ids an exception can be for: the built-in rules' and those of
// the rules a windower has run on this server (their last run is in the windower's bucket).
// A rule whose id is not a plain token is known by its key only, and is not listed.
func KnownRules(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	ids := []string{DefaultRule().ID}
	if v1, err := BuiltinRule(BuiltinV1); err == nil && !slices.Contains(ids, v1.ID) {
		ids = append(ids, v1.ID)
	}
	kv, err := js.KeyValue(ctx, stream.WindowerBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return ids, nil
	}
	if err != nil {
		return nil, fmt.Errorf("windower: key-value bucket %s: %w", stream.WindowerBucket, err)
	}
	keys, err := kv.ListKeysFiltered(ctx, "lastrun.*")
	if err != nil {
		return nil, fmt.Errorf("windower: list the rules run: %w", err)
	}
	for key := range keys.Keys() {
		id := strings.TrimPrefix(key, "lastrun.")
		if plainKey.MatchString(id) && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// CheckRuleID returns nil when ruleID is built in or a windower has run it on this server,
// else ErrUnknownRule naming the known ids.
func CheckRuleID(ctx context.Context, js jetstream.JetStream, ruleID string) error {
	if ruleID == DefaultRule().ID {
		return nil
	}
	kv, err := js.KeyValue(ctx, stream.WindowerBucket)
	if err == nil {
		_, err = kv.Get(ctx, "lastrun."+ruleKey(ruleID))
		if err == nil {
			return nil
		}
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("windower: look the rule up: %w", err)
	}
	known, err := KnownRules(ctx, js)
	if err != nil {
		return err
	}
	if slices.Contains(known, ruleID) {
		return nil
	}
	return fmt.Errorf("%w %q: the known ones are %s (built in, or run by a windower on this server)", ErrUnknownRule, ruleID, strings.Join(known, ", "))
}

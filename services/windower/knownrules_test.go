package windower

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rarenet/rarenet/shared/natstest"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/stream"
)

func TestCheckRuleID(t *testing.T) {
	ts := natstest.Start(t)
	builtin := DefaultRule().ID
	if err := CheckRuleID(ts.Ctx, ts.JS, builtin); err != nil {
		t.Errorf("the built-in rule: %v", err)
	}
	err := CheckRuleID(ts.Ctx, ts.JS, "not-a-rule")
	if !errors.Is(err, ErrUnknownRule) || !strings.Contains(err.Error(), builtin) {
		t.Errorf("an unknown rule: %v, want ErrUnknownRule naming %s", err, builtin)
	}
	// A custom rule becomes known once a windower has run it here.
	const custom = "3f6a9c2e-5b1d-4e0f-9a7c-custom"
	if err := ensureStateBuckets(ts.Ctx, ts.JS, stream.Config{Memory: true}); err != nil {
		t.Fatal(err)
	}
	kv, err := ts.JS.KeyValue(ts.Ctx, stream.WindowerBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRuleID(ts.Ctx, ts.JS, custom); !errors.Is(err, ErrUnknownRule) {
		t.Errorf("a rule never run: %v", err)
	}
	pub := natsutil.NewPublisher(ts.JS)
	st := newState(kv, pub, custom)
	st.setLastRun(time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC))
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(ts.Ctx); err != nil {
		t.Fatal(err)
	}
	if err := CheckRuleID(ts.Ctx, ts.JS, custom); err != nil {
		t.Errorf("a rule a windower ran: %v", err)
	}
	known, err := KnownRules(ts.Ctx, ts.JS)
	if err != nil || strings.Join(known, " ") != builtin+" "+custom {
		t.Errorf("known rules %q, %v", known, err)
	}
}

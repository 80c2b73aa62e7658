package windower

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/rarenet/rarenet/shared/lease"
	"github.com/rarenet/rarenet/shared/service"
)

// Clock modes.
const (
	ClockWatermark = "watermark"
	ClockWall      = "wall"
)

// Defaults of the configuration's zero values.
const (
	DefaultMaxCatchUp = 24 * time.Hour
	DefaultLeaseTTL   = lease.DefaultTTL
	// DefaultEmittedTTL is how long the signalled records' ids are remembered: well over the
	// rule's look-back.
	DefaultEmittedTTL = 24 * time.Hour
)

// Config configures the windower.
type Config struct {
	// Rule is the rule to run. RulePath or RuleBuiltin, when set, replace it at Validate; an
	// empty Rule (no rule_id) is the built-in "current".
	Rule Rule
	// RulePath is a rule file in the elastic/detection-rules TOML layout (--rule).
	RulePath string
	// RuleBuiltin names a built-in rule: current or v1 (--rule-builtin).
	RuleBuiltin string
	// RuleVersionLock is detection-rules' version.lock.json (--rule-version-lock): the version
	// of a RulePath rule that has none in its file.
	RuleVersionLock string
	// AnomalyThreshold and MaxSignals, when not nil, override the rule's.
	AnomalyThreshold *float64
	MaxSignals       *int
	// Clock is ClockWall (runs on wall-clock interval boundaries) or ClockWatermark (runs as
	// the records' watermark passes the boundaries: replay).
	Clock string
	// SignalFormat is Format8x (the default when empty) or Format7x.
	SignalFormat string
	// SignalLate makes the next run signal records that arrived too late for every run that
	// could cover them (marked rarenet.late), instead of only reporting them.
	SignalLate bool
	// SuppressFor, when positive, suppresses the signals of a group (host.name and
	// process.name) for this long after the group's first signal.
	SuppressFor time.Duration
	// MaxCatchUp bounds how far back a live windower catches up over missed runs after
	// downtime (0: DefaultMaxCatchUp).
	MaxCatchUp time.Duration
	// LeaseTTL is how long a silent active windower keeps its lease before a standby takes
	// over (0: DefaultLeaseTTL).
	LeaseTTL time.Duration
	// EmittedTTL is how long the ids of signalled records are remembered (stream.EmittedBucket);
	// it must exceed the rule's look-back (0: DefaultEmittedTTL).
	EmittedTTL time.Duration
	// ScorerWait is how long the windower waits at start for a scorer to announce the rule's
	// jobs before it fails with ErrJobNotProduced (0: DefaultScorerWait).
	ScorerWait time.Duration
}

// RegisterFlags registers the stage's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Rule = DefaultRule()
	service.ClockFlag(fs, &c.Clock)
	fs.StringVar(&c.RulePath, "rule", "", "load the rule from this file (elastic/detection-rules TOML layout) instead of a built-in")
	fs.StringVar(&c.RuleVersionLock, "rule-version-lock", "", "detection-rules' version.lock.json: the version of a --rule file that has none (default: 1)")
	fs.StringVar(&c.RuleBuiltin, "rule-builtin", BuiltinCurrent, "built-in rule: current (version 209, job v3_linux_anomalous_network_activity_ea) or v1 (stack 7.7, job linux_anomalous_network_activity_ecs)")
	fs.Var(optFloat{&c.AnomalyThreshold}, "anomaly-threshold", "override the rule's anomaly_threshold (record_score >=)")
	fs.Var(optInt{&c.MaxSignals}, "max-signals", "override the rule's max_signals per run")
	fs.StringVar(&c.SignalFormat, "signal-format", Format8x, "signal document shape: 8x (kibana.alert.*) or 7x (signal.*)")
	fs.BoolVar(&c.SignalLate, "signal-late", false, "signal records that arrived too late for every run anyway, in the next run (rarenet.late: true)")
	fs.DurationVar(&c.SuppressFor, "suppress-for", 0, "suppress later signals of the same host.name and process.name for this long after the first (0: off)")
	fs.DurationVar(&c.MaxCatchUp, "max-catch-up", DefaultMaxCatchUp, "after downtime, run the missed intervals of at most this long (live)")
	fs.DurationVar(&c.ScorerWait, "scorer-wait", DefaultScorerWait, "at start, wait this long for a scorer to announce the rule's jobs, then fail")
	service.LeaseTTLFlag(fs, &c.LeaseTTL)
	fs.DurationVar(&c.EmittedTTL, "emitted-ttl", DefaultEmittedTTL, "how long the windower remembers signalled records (longer than the rule's look-back)")
}

// Validate loads the rule the configuration names, applies the overrides and checks the
// configuration.
func (c *Config) Validate() error {
	if err := c.LoadRule(); err != nil {
		return err
	}
	switch {
	case c.Clock != ClockWall && c.Clock != ClockWatermark:
		return fmt.Errorf("windower: clock must be %s or %s, got %q", ClockWall, ClockWatermark, c.Clock)
	case c.SignalFormat != "" && c.SignalFormat != Format8x && c.SignalFormat != Format7x:
		return fmt.Errorf("windower: --signal-format must be %s or %s, got %q", Format8x, Format7x, c.SignalFormat)
	case c.SuppressFor < 0 || c.MaxCatchUp < 0 || c.LeaseTTL < 0 || c.ScorerWait < 0 || c.EmittedTTL < 0:
		return fmt.Errorf("windower: --suppress-for, --max-catch-up, --lease-ttl, --scorer-wait and --emitted-ttl must not be negative")
	case c.MaxCatchUp > 0 && c.MaxCatchUp < c.Rule.Interval:
		return fmt.Errorf("windower: --max-catch-up %s is shorter than the rule's interval %s", c.MaxCatchUp, c.Rule.Interval)
	}
	return c.Rule.Validate()
}

// LoadRule loads the rule the configuration names (RulePath with RuleVersionLock, or
// RuleBuiltin; an empty Rule is the built-in current) and applies the overrides.
func (c *Config) LoadRule() error {
	if c.RuleVersionLock != "" && c.RulePath == "" {
		return fmt.Errorf("windower: --rule-version-lock %s: give the rule file with --rule", c.RuleVersionLock)
	}
	switch {
	case c.RulePath != "":
		var lock *VersionLock
		if c.RuleVersionLock != "" {
			var err error
			if lock, err = LoadVersionLock(c.RuleVersionLock); err != nil {
				return err
			}
		}
		r, err := LoadRule(c.RulePath, lock)
		if err != nil {
			return err
		}
		c.Rule = r
	case c.RuleBuiltin != "":
		r, err := BuiltinRule(c.RuleBuiltin)
		if err != nil {
			return err
		}
		c.Rule = r
	case c.Rule.ID == "":
		c.Rule = DefaultRule()
	}
	if c.AnomalyThreshold != nil {
		c.Rule.Threshold = *c.AnomalyThreshold
	}
	if c.MaxSignals != nil {
		c.Rule.MaxSignals = *c.MaxSignals
	}
	return nil
}

func (c *Config) maxCatchUp() time.Duration {
	if c.MaxCatchUp == 0 {
		return DefaultMaxCatchUp
	}
	return c.MaxCatchUp
}

func (c *Config) leaseTTL() time.Duration {
	if c.LeaseTTL == 0 {
		return DefaultLeaseTTL
	}
	return c.LeaseTTL
}

// optFloat and optInt are flags that are nil until given.
type optFloat struct{ p **float64 }

func (o optFloat) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return strconv.FormatFloat(**o.p, 'g', -1, 64)
}

func (o optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*o.p = &v
	return nil
}

type optInt struct{ p **int }

func (o optInt) String() string {
	if o.p == nil || *o.p == nil {
		return ""
	}
	return strconv.Itoa(**o.p)
}

func (o optInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	*o.p = &v
	return nil
}

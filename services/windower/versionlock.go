package windower

import (
	"encoding/json"
	"fmt"
	"os"
)

// VersionLock is elastic/detection-rules' version lock (detection_rules/etc/version.lock.json):
// the released version of each prebuilt rule by rule_id. The rule files themselves carry no
// version; the lock does. Every format the repository has used since 2020 holds "version" at
// the top of each entry (later ones add "previous" and "stack_emit", which are not read).
type VersionLock struct {
	// Path is the file, for messages.
	Path  string
	rules map[string]lockEntry
}

type lockEntry struct {
	RuleName string `json:"rule_name"`
	Version  *int   `json:"version"`
}

// LoadVersionLock reads a version lock file.
func LoadVersionLock(path string) (*VersionLock, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("windower: version lock: %w", err)
	}
	return ParseVersionLock(path, b)
}

// ParseVersionLock reads a version lock; path names it in messages.
func ParseVersionLock(path string, b []byte) (*VersionLock, error) {
	var rules map[string]lockEntry
	if err := json.Unmarshal(b, &rules); err != nil {
		return nil, fmt.Errorf("windower: version lock %s: expected detection-rules' version.lock.json (an object of rules by rule_id): %w", path, err)
	}
	for id, e := range rules {
		if e.Version == nil || *e.Version < 1 {
			return nil, fmt.Errorf("windower: version lock %s: %s (%s): version: expected a number of at least 1", path, id, e.RuleName)
		}
	}
	return &VersionLock{Path: path, rules: rules}, nil
}

// Version returns the locked version of a rule.
func (l *VersionLock) Version(ruleID string) (int, bool) {
	e, ok := l.rules[ruleID]
	if !ok {
		return 0, false
	}
	return *e.Version, true
}

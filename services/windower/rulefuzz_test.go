package windower

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseRule: no rule file crashes the parser, and every refusal is ErrInvalidRule.
func FuzzParseRule(f *testing.F) {
	f.Add([]byte(validRule))
	for _, v := range ruleVersions {
		f.Add([]byte(ruleFileOf(v)))
	}
	f.Add([]byte("[rule]\nrule = 5\n"))
	f.Add([]byte("rule = 5\n"))
	lock, err := ParseVersionLock("version.lock.json", []byte(versionLockNow))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range []*VersionLock{nil, lock} {
			r, err := ParseRuleLocked("fuzz.toml", data, l)
			if err != nil {
				if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), "fuzz.toml") {
					t.Fatalf("error %v: want ErrInvalidRule naming the file", err)
				}
				continue
			}
			if r.Version < 1 || len(r.JobIDs) == 0 || r.Validate() != nil {
				t.Fatalf("accepted an invalid rule: %+v", r)
			}
		}
	})
}

// FuzzParseVersionLock: no lock file crashes the parser; an accepted lock gives versions of at
// least 1.
func FuzzParseVersionLock(f *testing.F) {
	f.Add([]byte(versionLockNow))
	f.Add([]byte(versionLock2020))
	f.Add([]byte(`{"x": {"version": null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseVersionLock("lock.json", data)
		if err != nil {
			return
		}
		for id := range l.rules {
			if v, ok := l.Version(id); !ok || v < 1 {
				t.Fatalf("%s: version %d", id, v)
			}
		}
	})
}

package windower

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/record"
)

// Exception operators, as Kibana's exception builder names them.
const (
	OpIs      = "is"
	OpIsOneOf = "is one of"
	OpMatches = "matches" // a glob: * any run of characters, ? one, [...] a class
)

// ExceptionFields are the fields an exception entry may test: the record's by-field and its
// influencers.
var ExceptionFields = []string{"process.name", "host.name", "user.name", "destination.ip", "host.id", "user.id", "event.module"}

// ErrBadException is wrapped by the errors of ParseEntry and Exception.Validate.
var ErrBadException = errors.New("bad exception")

// Entry is one condition of an exception: field, operator and values.
type Entry struct {
	Field    string   `json:"field"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// Exception is a rule exception: a record matching every entry is not signalled.
type Exception struct {
	ID      string    `json:"id"`
	RuleID  string    `json:"rule_id"`
	Entries []Entry   `json:"entries"`
	Comment string    `json:"comment,omitempty"`
	Created time.Time `json:"created,omitzero"`
}

// ParseEntry reads an entry written as "FIELD is VALUE", "FIELD is one of V1,V2" or
// "FIELD matches GLOB".
func ParseEntry(s string) (Entry, error) {
	field, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return Entry{}, fmt.Errorf("%w: entry %q: want FIELD is|is one of|matches VALUE", ErrBadException, s)
	}
	rest = strings.TrimSpace(rest)
	var e Entry
	switch {
	case strings.HasPrefix(rest, OpIsOneOf+" "):
		e = Entry{Field: field, Operator: OpIsOneOf}
		for _, v := range strings.Split(strings.TrimPrefix(rest, OpIsOneOf+" "), ",") {
			if v = strings.TrimSpace(v); v != "" {
				e.Values = append(e.Values, v)
			}
		}
	case strings.HasPrefix(rest, OpIs+" "):
		e = Entry{Field: field, Operator: OpIs, Values: []string{strings.TrimSpace(strings.TrimPrefix(rest, OpIs+" "))}}
	case strings.HasPrefix(rest, OpMatches+" "):
		e = Entry{Field: field, Operator: OpMatches, Values: []string{strings.TrimSpace(strings.TrimPrefix(rest, OpMatches+" "))}}
	default:
		return Entry{}, fmt.Errorf("%w: entry %q: want FIELD is|is one of|matches VALUE", ErrBadException, s)
	}
	return e, e.Validate()
}

// String writes the entry as ParseEntry reads it.
func (e Entry) String() string {
	return e.Field + " " + e.Operator + " " + strings.Join(e.Values, ",")
}

// Validate checks the entry.
func (e Entry) Validate() error {
	if !slices.Contains(ExceptionFields, e.Field) {
		return fmt.Errorf("%w: field %q: want one of %s", ErrBadException, e.Field, strings.Join(ExceptionFields, ", "))
	}
	if len(e.Values) == 0 || slices.Contains(e.Values, "") {
		return fmt.Errorf("%w: %s: no value", ErrBadException, e.Field)
	}
	switch e.Operator {
	case OpIs, OpMatches:
		if len(e.Values) != 1 {
			return fmt.Errorf("%w: %s %s takes one value, got %d", ErrBadException, e.Field, e.Operator, len(e.Values))
		}
		if _, err := path.Match(e.Values[0], ""); e.Operator == OpMatches && err != nil {
			return fmt.Errorf("%w: %s matches %q: %w", ErrBadException, e.Field, e.Values[0], err)
		}
	case OpIsOneOf:
	default:
		return fmt.Errorf("%w: operator %q: want %q, %q or %q", ErrBadException, e.Operator, OpIs, OpIsOneOf, OpMatches)
	}
	return nil
}

// Validate checks the exception.
func (x *Exception) Validate() error {
	if x.RuleID == "" {
		return fmt.Errorf("%w: no rule id", ErrBadException)
	}
	if len(x.Entries) == 0 {
		return fmt.Errorf("%w: no entry", ErrBadException)
	}
	for _, e := range x.Entries {
		if err := e.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Matches reports whether r matches every entry of the exception. An entry on a field with
// several values (an influencer seen with many hosts) matches when any value does.
func (x *Exception) Matches(r *record.Record) bool {
	for _, e := range x.Entries {
		if !e.matches(recordValues(r, e.Field)) {
			return false
		}
	}
	return len(x.Entries) > 0
}

func (e Entry) matches(values []string) bool {
	for _, v := range values {
		switch e.Operator {
		case OpIs, OpIsOneOf:
			if slices.Contains(e.Values, v) {
				return true
			}
		case OpMatches:
			if ok, _ := path.Match(e.Values[0], v); ok {
				return true
			}
		}
	}
	return false
}

// recordValues are the values of field in r: the by-field value and the influencer's values.
func recordValues(r *record.Record, field string) []string {
	var out []string
	if r.ByFieldName == field {
		out = append(out, r.ByFieldValue)
	}
	for _, inf := range r.Influencers {
		if inf.FieldName == field {
			out = append(out, inf.FieldValues...)
		}
	}
	return out
}

// excepted returns the first exception r matches, or nil.
func excepted(xs map[string]Exception, r *record.Record) *Exception {
	ids := make([]string, 0, len(xs))
	for id := range xs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if x := xs[id]; x.Matches(r) {
			return &x
		}
	}
	return nil
}

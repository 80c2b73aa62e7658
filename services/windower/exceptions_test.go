package windower

import (
	"errors"
	"testing"

	"github.com/rarenet/rarenet/shared/record"
)

func TestParseEntry(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "process.name is teleport", want: "process.name is teleport"},
		{in: " host.name is one of web-1, web-2 ,web-3", want: "host.name is one of web-1,web-2,web-3"},
		{in: "destination.ip matches 10.*", want: "destination.ip matches 10.*"},
		{in: "user.name is  root", want: "user.name is root"},
		{in: "process.name", err: true},
		{in: "process.name equals x", err: true},
		{in: "process.args is x", err: true},
		{in: "process.name matches [", err: true},
		{in: "host.name is one of ,", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseEntry(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadException) {
					t.Errorf("err = %v, want ErrBadException", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.String() != tt.want {
				t.Errorf("%q, want %q", e.String(), tt.want)
			}
		})
	}
}

func TestExceptionMatches(t *testing.T) {
	r := sampleRecord() // nc on h1 and h2 as bob to 203.0.113.7
	entry := func(s string) Entry {
		e, err := ParseEntry(s)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		entries []string
		want    bool
	}{
		{[]string{"process.name is nc"}, true},
		{[]string{"process.name is ncat"}, false},
		{[]string{"process.name is nc", "host.name is one of web-1,h2"}, true}, // any value of a multi-valued influencer
		{[]string{"process.name is nc", "host.name is one of web-1,web-2"}, false},
		{[]string{"destination.ip matches 203.0.113.*", "user.name is bob"}, true},
		{[]string{"destination.ip matches 10.*"}, false},
		{[]string{"process.name matches n?"}, true},
		{[]string{"user.id is 0"}, false}, // a field the record lacks never matches
	}
	for _, tt := range tests {
		x := Exception{RuleID: "r"}
		for _, s := range tt.entries {
			x.Entries = append(x.Entries, entry(s))
		}
		if got := x.Matches(&r); got != tt.want {
			t.Errorf("%q: Matches = %v, want %v", tt.entries, got, tt.want)
		}
	}
	xs := map[string]Exception{
		"b": {ID: "b", RuleID: "r", Entries: []Entry{entry("process.name is nc")}},
		"a": {ID: "a", RuleID: "r", Entries: []Entry{entry("host.name is h1")}},
	}
	if x := excepted(xs, &r); x == nil || x.ID != "a" {
		t.Errorf("excepted = %+v, want the first by id", x)
	}
	other := record.Record{ByFieldName: "process.name", ByFieldValue: "perl"}
	if x := excepted(xs, &other); x != nil {
		t.Errorf("perl excepted by %+v", x)
	}
}

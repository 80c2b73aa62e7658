package datafeed

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/shared/job"
)

// doc is a flat set of ECS fields for queries.
type doc map[string][]string

func (d doc) FieldValues(name string) []string { return d[name] }

// Field is the one value of a single-valued field, as event.Event answers it.
func (d doc) Field(name string) string {
	if v := d[name]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// builtinQuery is the parsed query of a built-in datafeed.
func builtinQuery(name string) (Query, error) {
	_, d, err := job.Builtin(name)
	if err != nil {
		return Query{}, err
	}
	f, err := fromFeed(name, "", d)
	return f.Query, err
}

// parsed is a datafeed file's content as shared/job reads it, named feed.json.
func parsed(t *testing.T, s string) job.Datafeed {
	t.Helper()
	d, err := job.ParseDatafeed([]byte(s), "feed.json")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuiltinDatafeeds(t *testing.T) {
	v1 := doc{"event.action": {"connected-to"}, "agent.type": {"auditbeat"}, "process.name": {"curl"}, "destination.ip": {"203.0.113.9"}}
	v3 := doc{"event.category": {"network"}, "event.type": {"connection", "start"}, "host.os.type": {"linux"},
		"process.name": {"curl"}, "user.name": {"alice"}, "destination.ip": {"203.0.113.9"}}
	with := func(d doc, k string, v ...string) doc {
		c := doc{}
		for kk, vv := range d {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	without := func(d doc, k string) doc {
		c := with(d, k)
		delete(c, k)
		return c
	}
	tests := []struct {
		feed string
		doc  doc
		want string // "" matches; else a substring of the explanation
	}{
		{job.BuiltinV1, v1, ""},
		{job.BuiltinV1, with(v1, "destination.ip", "127.0.0.53"), "must_not"},
		{job.BuiltinV1, with(v1, "destination.ip", "0:0:0:0:0:0:0:1"), "must_not"}, // ::1, written long
		{job.BuiltinV1, with(v1, "destination.ip", "127.0.0.2"), ""},               // listed addresses only
		{job.BuiltinV1, with(v1, "agent.type", "filebeat"), "agent.type: auditbeat"},
		{job.BuiltinV3, v3, ""},
		{job.BuiltinV3, with(without(v3, "host.os.type"), "host.os.family", "ubuntu"), ""},
		{job.BuiltinV3, without(v3, "host.os.type"), "should"},
		{job.BuiltinV3, with(v3, "user.name", "jenkins"), "must_not"},
		{job.BuiltinV3, with(v3, "process.name", "metricbeat"), "must_not"},
		{job.BuiltinV3, with(v3, "destination.ip", "::"), "must_not"},
		{job.BuiltinV3, with(v3, "event.type", "end"), "event.type: start"},
		// Elastic Defend for Windows reports its connects in the same vocabulary: the host
		// clause keeps them out of the Linux job.
		{job.BuiltinV3, with(v3, "host.os.type", "windows"), "host.os.type: linux"},
		{job.BuiltinV3, with(v3, "process.name", "elastic-agent.exe"), "must_not"},
		{job.JobV3EA, with(v3, "host.os.type", "windows"), "host.os.type: linux"},
		{job.JobV3EA, with(v3, "process.name", "winlogbeat"), "must_not"},
		{job.JobV3EA, v3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.feed+" "+tt.want, func(t *testing.T) {
			q, err := builtinQuery(tt.feed)
			if err != nil {
				t.Fatal(err)
			}
			got := q.Explain(tt.doc)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("Explain = %q, want %q", got, tt.want)
			}
			if m := q.Compile().Match(tt.doc); m != (tt.want == "") {
				t.Fatalf("compiled Match = %v, Explain %q", m, got)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		query string
		doc   doc
		match bool
	}{
		{`{"term": {"destination.ip": "127.0.0.0/8"}}`, doc{"destination.ip": {"127.1.2.3"}}, true},
		{`{"term": {"destination.ip": "127.0.0.0/8"}}`, doc{"destination.ip": {"::ffff:127.0.0.1"}}, true},
		{`{"term": {"destination.ip": {"value": "10.0.0.1"}}}`, doc{"destination.ip": {"10.0.0.1"}}, true},
		{`{"terms": {"destination.port": [22, 443]}}`, doc{"destination.port": {"443"}}, true},
		{`{"exists": {"field": "user.name"}}`, doc{}, false},
		{`{"wildcard": {"process.name": {"value": "kworker*"}}}`, doc{"process.name": {"kworkerds"}}, true},
		{`{"match_phrase": {"event.action": "connected-to"}}`, doc{"event.action": {"connected-to"}}, true},
		{`{"bool": {"should": [{"term": {"a": "1"}}, {"term": {"b": "2"}}], "minimum_should_match": 2}}`, doc{"a": {"1"}}, false},
		{`{"bool": {"filter": {"term": {"a": "1"}}}}`, doc{"a": {"1"}}, true},
		{`{"match_all": {}}`, doc{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := ParseQuery(json.RawMessage(tt.query))
			if err != nil {
				t.Fatal(err)
			}
			if got := q.Match(tt.doc); got != tt.match {
				t.Fatalf("Match = %v, want %v (%s)", got, tt.match, q.Explain(tt.doc))
			}
			if got := q.Compile().Match(tt.doc); got != tt.match {
				t.Fatalf("compiled Match = %v, want %v", got, tt.match)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
		is               error
	}{
		{"range", `{"query": {"bool": {"filter": [{"range": {"x": {"gt": 1}}}]}}}`, "query.bool.filter[0].range", ErrUnsupportedQuery},
		{"two kinds", `{"query": {"term": {"a": "1"}, "exists": {"field": "a"}}}`, "expected exactly one query type", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fromFeed("feed", "", parsed(t, tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "feed.json: ") {
				t.Fatalf("err = %v, want it to name feed.json and contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

// FuzzMatcher checks that a compiled query answers as the query does, on the built-in
// datafeeds and rarenet's own, for documents of any values.
func FuzzMatcher(f *testing.F) {
	f.Add("connected-to", "network", "start", "linux", "curl", "alice", "203.0.113.9")
	f.Add("connection_attempted", "network", "end", "windows", "metricbeat", "jenkins", "::ffff:127.0.0.1")
	f.Add("", "", "", "", "", "", "0:0:0:0:0:0:0:1")
	var queries []Query
	for _, name := range []string{job.BuiltinV1, job.BuiltinV3} {
		q, err := builtinQuery(name)
		if err != nil {
			f.Fatal(err)
		}
		queries = append(queries, q)
	}
	cidr, err := ParseQuery(json.RawMessage(`{"bool": {"must_not": [{"terms": {"destination.ip": ["127.0.0.0/8", "::1", "fe80::/10", "not-an-ip"]}}]}}`))
	if err != nil {
		f.Fatal(err)
	}
	queries = append(queries, cidr)
	f.Fuzz(func(t *testing.T, action, category, typ, os, process, user, ip string) {
		d := doc{}
		for k, v := range map[string]string{"event.action": action, "event.category": category, "host.os.type": os,
			"process.name": process, "user.name": user, "destination.ip": ip, "agent.type": "auditbeat"} {
			if v != "" {
				d[k] = []string{v}
			}
		}
		if typ != "" {
			d["event.type"] = []string{"connection", typ}
		}
		for i := range queries {
			if want, got := queries[i].Match(d), queries[i].Compile().Match(d); got != want {
				t.Fatalf("query %d: compiled Match = %v, Match = %v, doc %v", i, got, want, d)
			}
		}
	})
}

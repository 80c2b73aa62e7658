package ecs

import (
	"testing"

	"github.com/rarenet/rarenet/services/ingest/datafeed"
)

// TestDatafeedPassThrough checks that the documents of each shipper pass rarenet's datafeed
// filter after decoding, in particular Elastic Defend's connection_attempted and documents
// wrapped as Beats send them to the bulk API or as search hits return them.
func TestDatafeedPassThrough(t *testing.T) {
	const defendNested = `{"@timestamp":"2026-02-10T08:20:05.123Z","agent":{"type":"endpoint","version":"8.17.0"},` +
		`"event":{"action":"connection_attempted","category":["network"],"type":["start"],"kind":"event",` +
		`"module":"endpoint","dataset":"endpoint.events.network","outcome":"unknown"},` +
		`"host":{"name":"web-01","os":{"type":"linux","family":"ubuntu"}},` +
		`"process":{"name":"nc","pid":31877,"executable":"/usr/bin/nc.openbsd","entity_id":"x"},` +
		`"user":{"name":"www-data","id":"33"},"source":{"ip":"10.20.0.14","port":50722},` +
		`"destination":{"ip":"203.0.113.9","port":4444},"network":{"direction":"egress","transport":"tcp","type":"ipv4"}}`
	// Only the v1-era action, no category or type: still a connection for rarenet.
	const defendActionOnly = `{"@timestamp":"2026-02-10T08:20:05Z","event.action":"connection_attempted",` +
		`"process.name":"nc","destination.ip":"203.0.113.9","destination.port":4444,"host.os.type":"linux"}`
	tests := []struct {
		name  string
		lines []string
		want  int // events that pass
	}{
		{"defend connection_attempted", []string{defendNested}, 1},
		{"defend action only", []string{defendActionOnly}, 1},
		{"v1 auditbeat", []string{auditbeat7}, 1},
		{"auditd manager v3", []string{auditdManager8}, 1},
		{"search hit with _source", []string{`{"_index":".ds-logs-endpoint.events.network-default-2026.02.10-000001","_id":"aZ3",` +
			`"_score":1.0,"_source":` + defendNested + `}`}, 1},
		{"bulk body: create action, then the document", []string{
			`{"create":{"_index":"auditbeat-8.17.0"}}`, auditdManager8,
			`{"index":{"_index":"logs-endpoint.events.network-default","_id":"q1"}}`, defendNested,
		}, 2},
	}
	filter := datafeed.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := decodeLines(t, tt.lines)
			passed := 0
			for _, r := range rs {
				if r.Err != nil {
					t.Fatalf("line %d rejected: %v", r.Line, r.Err)
				}
				if reason := filter.Reason(r.Event); reason != "" {
					t.Errorf("line %d filtered: %s", r.Line, reason)
					continue
				}
				passed++
			}
			if passed != tt.want {
				t.Errorf("%d events passed, want %d (of %d results)", passed, tt.want, len(rs))
			}
		})
	}
}

// TestBulkActionLinesOnly checks that what looks like a bulk action but is not one is still
// decoded (and rejected for its missing @timestamp).
func TestBulkActionLinesOnly(t *testing.T) {
	for _, line := range []string{`{"index":"x"}`, `{"index":{},"@x":1}`, `{"delete":{"_id":"1"}}`} {
		rs := decodeLines(t, []string{line})
		if len(rs) != 1 || rs[0].Err == nil {
			t.Errorf("%s: results %+v, want one reject", line, rs)
		}
	}
}

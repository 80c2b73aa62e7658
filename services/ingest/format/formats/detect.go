package formats

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/rarenet/rarenet/services/ingest/format"
)

// Markers of the text formats.
var (
	// auditMarker occurs in every audit record header, with or without a node= prefix.
	auditMarker = []byte("msg=audit(")
	// sysmonElement and sysmonProvider occur in every Sysmon record: the XML root and the
	// provider name (Linux-Sysmon, or Microsoft-Windows-Sysmon).
	sysmonElement  = []byte("<Event")
	sysmonProvider = []byte("Sysmon")
)

// Detect guesses the format of an input from its first non-empty line, "" when it cannot
// tell. It runs once per source, so it may decode the line's top-level JSON keys; it never
// looks deeper than that.
//
// A line that is not a JSON object is auditd when it holds "msg=audit(", else Sysmon when
// it holds "<Event" and "Sysmon" (the XML alone or in a syslog line).
//
// A JSON object is told by its top-level keys, in this order of precedence:
//
//  1. ECS: "@timestamp" or "_source" (a search hit), or a bulk action line
//     ({"index":{...}} or {"create":{...}}). ECS comes first because every shipper that
//     forwards the other sensors' JSON (Filebeat, Elastic Agent, Vector in ECS mode) adds
//     @timestamp, and the ECS decoder then reads the fields it mapped.
//  2. Tetragon: "time" and a key starting with "process_" (process_exec, process_kprobe,
//     process_connect, ...).
//  3. osquery: "hostIdentifier" with "columns", "snapshot" or "diffResults".
//  4. Falco: "output_fields", or "rule" with "priority" and "output".
//  5. Sysmon: the line holds "<Event" (or its JSON escape \u003cEvent) and "Sysmon": a log
//     workspace's row wrapping the XML.
//  6. ECS for any other object, or for a line that is not valid JSON, so the ECS decoder
//     reports why.
func Detect(firstLine []byte) string {
	line := bytes.TrimLeft(firstLine, " \t\r\n\ufeff")
	switch {
	case len(line) > 0 && line[0] == '{':
		return detectJSON(line)
	case bytes.Contains(line, auditMarker):
		return format.Auditd
	case bytes.Contains(line, sysmonElement) && bytes.Contains(line, sysmonProvider):
		return format.Sysmon
	}
	return ""
}

// detectJSON applies Detect's precedence to a line that starts with '{'.
func detectJSON(line []byte) string {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(line, &keys); err != nil {
		return format.ECS
	}
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case has("@timestamp") || has("_source") || isBulkAction(keys):
		return format.ECS
	case has("time") && hasPrefix(keys, "process_"):
		return format.Tetragon
	case has("hostIdentifier") && (has("columns") || has("snapshot") || has("diffResults")):
		return format.Osquery
	case has("output_fields") || (has("rule") && has("priority") && has("output")):
		return format.Falco
	case bytes.Contains(line, sysmonProvider) &&
		(bytes.Contains(line, sysmonElement) || bytes.Contains(line, []byte(`\u003cEvent`))):
		return format.Sysmon
	}
	return format.ECS
}

// isBulkAction reports whether keys are those of an Elasticsearch bulk action line, which
// the ECS decoder skips.
func isBulkAction(keys map[string]json.RawMessage) bool {
	if len(keys) != 1 {
		return false
	}
	for _, k := range []string{"index", "create"} {
		if v, ok := keys[k]; ok && len(v) > 0 && v[0] == '{' {
			return true
		}
	}
	return false
}

func hasPrefix(keys map[string]json.RawMessage, prefix string) bool {
	for k := range keys {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

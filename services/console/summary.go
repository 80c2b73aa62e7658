package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Workflow statuses of a signal, as Kibana names them (kibana.alert.workflow_status).
const (
	StatusOpen         = "open"
	StatusAcknowledged = "acknowledged"
	StatusClosed       = "closed"
)

// Statuses are the workflow statuses in the order the console offers them.
var Statuses = []string{StatusOpen, StatusAcknowledged, StatusClosed}

// ErrNotSignal is returned by ParseSummary for a document that is not a signal.
var ErrNotSignal = errors.New("console: not a signal document")

// Summary is what the list shows of one signal, and what the index keeps: a few hundred bytes
// per signal. The full document stays in the SIGNALS stream and is read by its sequence when
// the signal's page is opened.
type Summary struct {
	// Seq is the signal's sequence in the SIGNALS stream.
	Seq uint64 `json:"seq"`
	// ID is kibana.alert.uuid (signal.id in 7.x documents).
	ID       string `json:"id"`
	RuleID   string `json:"rule_id"`
	RuleName string `json:"rule_name"`
	// Time is the bucket start (kibana.alert.original_time); Signalled the signal's @timestamp.
	Time      time.Time `json:"time"`
	Signalled time.Time `json:"signalled"`
	Score     float64   `json:"score"`
	Process   string    `json:"process"`
	// Detector is empty for the reference's fleet-wide detector, else the enhanced profile's
	// detector that wrote the record.
	Detector     string        `json:"detector,omitempty"`
	Hosts        []string      `json:"hosts"`
	Users        []string      `json:"users"`
	Destinations []Destination `json:"destinations"`
	Reason       string        `json:"reason"`
	Late         bool          `json:"late,omitempty"`
	// Status is the current workflow status: the console's triage state when there is one,
	// else the document's own.
	Status string `json:"status"`

	// text is everything free-text search looks in, lower-cased.
	text string
}

// Destination is one destination of a signal as the list shows it.
type Destination struct {
	IP       string `json:"ip"`
	Port     int    `json:"port,omitempty"`
	Class    string `json:"class,omitempty"`
	Service  string `json:"service,omitempty"`
	Country  string `json:"country,omitempty"`
	ASNumber uint64 `json:"as_number,omitempty"`
	ASOrg    string `json:"as_org,omitempty"`
}

// Addr is ip:port, or the ip alone.
func (d Destination) Addr() string {
	if d.Port == 0 {
		return d.IP
	}
	if strings.Contains(d.IP, ":") {
		return "[" + d.IP + "]:" + strconv.Itoa(d.Port)
	}
	return d.IP + ":" + strconv.Itoa(d.Port)
}

// ParseSummary reads the summary of a signal document, 8.x (kibana.alert.*) or 7.x (signal.*).
func ParseSummary(seq uint64, b []byte) (*Summary, error) {
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSignal, err)
	}
	s := &Summary{Seq: seq}
	s.ID = str(d["kibana.alert.uuid"])
	s.RuleID, s.RuleName = str(d["kibana.alert.rule.rule_id"]), str(d["kibana.alert.rule.name"])
	when, reason, status := str(d["kibana.alert.original_time"]), str(d["kibana.alert.reason"]), str(d["kibana.alert.workflow_status"])
	if sig, ok := d["signal"].(map[string]any); ok {
		s.ID, when, reason, status = str(sig["id"]), str(sig["original_time"]), str(sig["reason"]), str(sig["status"])
		if rule, ok := sig["rule"].(map[string]any); ok {
			s.RuleID, s.RuleName = str(rule["rule_id"]), str(rule["name"])
		}
	}
	if s.ID == "" {
		return nil, fmt.Errorf("%w: no kibana.alert.uuid nor signal.id", ErrNotSignal)
	}
	var err error
	if s.Time, err = time.Parse(time.RFC3339Nano, when); err != nil {
		return nil, fmt.Errorf("%w: original_time %q: %w", ErrNotSignal, when, err)
	}
	s.Signalled, _ = time.Parse(time.RFC3339Nano, str(d["@timestamp"]))
	s.Score, _ = d["record_score"].(float64)
	s.Process = str(d["by_field_value"])
	s.Hosts, s.Users = strs(d["host.name"]), strs(d["user.name"])
	s.Reason, s.Status = reason, status
	if s.Status == "" {
		s.Status = StatusOpen
	}
	s.Late = d["rarenet.late"] == true
	if ex, ok := d["rarenet.explanation"].(map[string]any); ok {
		s.Detector = str(ex["detector"])
	}
	s.Destinations = destinations(d)
	s.index()
	return s, nil
}

// destinations are the context's destinations when the enricher gave them, else the
// destination.ip influencer's values.
func destinations(d map[string]any) []Destination {
	var out []Destination
	if ctx, ok := d["rarenet.context"].(map[string]any); ok {
		list, _ := ctx["destinations"].([]any)
		for _, x := range list {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, destinationOf(m))
		}
	}
	if len(out) > 0 {
		return out
	}
	ips := strs(d["destination.ip"])
	// GeoIP may also come as ECS arrays beside destination.ip, one value per address.
	asn, org, cc := lookupList(d, "destination.as.number"), lookupList(d, "destination.as.organization.name"), lookupList(d, "destination.geo.country_iso_code")
	for i, ip := range ips {
		dst := Destination{IP: ip}
		if i < len(cc) {
			dst.Country = str(cc[i])
		}
		if i < len(org) {
			dst.ASOrg = str(org[i])
		}
		if i < len(asn) {
			dst.ASNumber = uint64(num(asn[i]))
		}
		out = append(out, dst)
	}
	return out
}

// destinationOf reads one destination of rarenet.context. Its GeoIP fields are read under
// every spelling they may take: the enricher's as.number / as.organization / geo.* and ECS's
// as.organization.name, nested or dotted.
func destinationOf(m map[string]any) Destination {
	dst := Destination{IP: str(m["ip"]), Class: str(m["ip_class"]), Service: str(m["service"])}
	dst.Port = int(num(m["port"]))
	dst.ASNumber = uint64(num(lookup(m, "as.number")))
	switch org := lookup(m, "as.organization").(type) {
	case string:
		dst.ASOrg = org
	case map[string]any:
		dst.ASOrg = str(org["name"])
	}
	if dst.ASOrg == "" {
		dst.ASOrg = str(lookup(m, "as.organization.name"))
	}
	dst.Country = str(lookup(m, "geo.country_iso_code"))
	return dst
}

// lookup finds a dotted path in nested objects whose keys may themselves hold dots
// ({"as": {"organization.name": ...}}, {"as.number": ...}).
func lookup(m map[string]any, path string) any {
	if v, ok := m[path]; ok {
		return v
	}
	for i := strings.IndexByte(path, '.'); i >= 0; {
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v := lookup(sub, path[i+1:]); v != nil {
				return v
			}
		}
		j := strings.IndexByte(path[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

// lookupList is lookup for a value that may be one value or an array of them.
func lookupList(m map[string]any, path string) []any {
	switch v := lookup(m, path).(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// index prepares the free-text search string.
func (s *Summary) index() {
	var b strings.Builder
	for _, part := range [][]string{{s.ID, s.Process, s.Reason, s.Detector}, s.Hosts, s.Users} {
		for _, p := range part {
			b.WriteString(p)
			b.WriteByte('\n')
		}
	}
	for _, d := range s.Destinations {
		for _, p := range []string{d.Addr(), d.Class, d.Service, d.Country, d.ASOrg} {
			b.WriteString(p)
			b.WriteByte('\n')
		}
	}
	s.text = strings.ToLower(b.String())
}

// matchesText reports whether the summary's searchable text holds lower (lower-cased).
func (s *Summary) matchesText(lower string) bool { return strings.Contains(s.text, lower) }

// Band is the anomaly-score band of the score, as Elastic's anomaly explorer colours them:
// critical from 75, major from 50, minor from 25, warning below.
func Band(score float64) string {
	switch {
	case score >= 75:
		return "critical"
	case score >= 50:
		return "major"
	case score >= 25:
		return "minor"
	}
	return "warning"
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func num(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case string:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return 0
}

// strs reads a field that holds a string or an array of them.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s := str(x); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

package notify

import (
	"net/url"
	"path"
	"slices"
	"strings"
)

// route is a RouteConfig ready to match.
type route struct {
	RouteConfig
	text, subject *Template // per destination kind: see render
}

// matches reports whether every condition of the route holds for s.
func (r *route) matches(s *Signal) bool {
	if s.Score < r.MinScore {
		return false
	}
	if len(r.Hosts) > 0 && !anyMatch(r.Hosts, s.Hosts) {
		return false
	}
	if len(r.Processes) > 0 && !anyMatch(r.Processes, s.Processes) {
		return false
	}
	if r.Profile != "" && r.Profile != s.Profile {
		return false
	}
	if len(r.Detectors) > 0 && !slices.Contains(r.Detectors, s.Detector) {
		return false
	}
	return true
}

// anyMatch reports whether a pattern matches a value. Patterns were checked when the
// configuration was loaded.
func anyMatch(patterns, values []string) bool {
	for _, p := range patterns {
		for _, v := range values {
			if ok, _ := path.Match(p, v); ok {
				return true
			}
		}
	}
	return false
}

// consoleLink fills the console URL's {id}.
func consoleLink(base, id string) string {
	if base == "" {
		return ""
	}
	return strings.ReplaceAll(base, "{id}", url.PathEscape(id))
}

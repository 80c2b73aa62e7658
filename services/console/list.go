package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pageSize is the number of signals on one page of the list.
const pageSize = 50

// maxPageSize bounds the API's limit.
const maxPageSize = 1000

// timeLayouts are the forms a time filter may take: a browser's datetime-local, RFC 3339, a
// date. Times without a zone are UTC, as the console shows them.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02 15:04", "2006-01-02"}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, v, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: want a time as 2006-01-02T15:04 (UTC) or RFC 3339", field, v)
}

// parseQuery reads the list's filters from the query string; an error names the field.
func parseQuery(v url.Values) (Query, error) {
	q := Query{Process: strings.TrimSpace(v.Get("process")), Host: strings.TrimSpace(v.Get("host")),
		User: strings.TrimSpace(v.Get("user")), Status: v.Get("status"), Text: v.Get("q"), Limit: pageSize}
	var err error
	if q.From, err = parseTime("from", v.Get("from")); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to", v.Get("to")); err != nil {
		return q, err
	}
	if m := v.Get("min"); m != "" {
		if q.MinScore, err = strconv.ParseFloat(m, 64); err != nil || q.MinScore < 0 || q.MinScore > 100 {
			return q, fmt.Errorf("min %q: want a score from 0 to 100", m)
		}
	}
	if q.Status != "" && !slices.Contains(Statuses, q.Status) {
		return q, fmt.Errorf("status %q: want %s", q.Status, strings.Join(Statuses, ", "))
	}
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 || q.Limit > maxPageSize {
			return q, fmt.Errorf("limit %q: want 1 to %d", l, maxPageSize)
		}
	}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return q, fmt.Errorf("page %q: want 1 or more", p)
		}
		q.Offset = (n - 1) * q.Limit
	} else if o := v.Get("offset"); o != "" {
		if q.Offset, err = strconv.Atoi(o); err != nil || q.Offset < 0 {
			return q, fmt.Errorf("offset %q: want 0 or more", o)
		}
	}
	return q, nil
}

// listView is the list page's content.
type listView struct {
	Query   Query
	Values  url.Values
	Error   string
	Result  Result
	Page    int
	Pages   int
	Prev    string
	Next    string
	Chart   template.HTML
	Axis    []string
	Process *activity
	// Facets suggest values for the filters.
	Processes, Hosts, Users []Facet
	Ready                   bool
	Indexed                 int
	FromValue, ToValue      string
	BinName                 string
}

func (s *Server) listPage(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := parseQuery(v)
	view := listView{Values: v, Ready: s.Ready(), Indexed: s.ix.Len(), FromValue: v.Get("from"), ToValue: v.Get("to")}
	status := http.StatusOK
	if err != nil {
		view.Error, status = err.Error(), http.StatusBadRequest
		q = Query{Limit: pageSize}
	}
	view.Query = q
	view.Result = s.ix.Search(q)
	view.Page = q.Offset/q.Limit + 1
	view.Pages = max(1, (view.Result.Total+q.Limit-1)/q.Limit)
	if view.Page > 1 {
		view.Prev = withParam(v, "page", strconv.Itoa(view.Page-1))
	}
	if view.Page < view.Pages {
		view.Next = withParam(v, "page", strconv.Itoa(view.Page+1))
	}
	view.Chart, view.Axis = timelineChart(view.Result, v)
	view.BinName = binName(view.Result.BinWidth)
	view.Processes, view.Hosts, view.Users = s.ix.Facets(200)
	if q.Process != "" {
		view.Process = s.processActivity(r.Context(), q.Process, "")
	}
	title := "Signals"
	if q.Process != "" {
		title = q.Process + " · signals"
	}
	s.render(w, r, status, "list.html", page{Title: title, Nav: "signals", Body: view})
}

// withParam returns the query string v with key set to value (and the page reset unless the
// key is the page).
func withParam(v url.Values, key, value string) string {
	c := url.Values{}
	for k, vs := range v {
		if k != "page" || key == "page" {
			c[k] = vs
		}
	}
	if value == "" {
		c.Del(key)
	} else {
		c.Set(key, value)
	}
	if len(c) == 0 {
		return "/"
	}
	return "/?" + c.Encode()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// apiList is the list as JSON: the same filters, plus limit and offset.
func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	res := s.ix.Search(q)
	items := res.Items
	if items == nil {
		items = []Summary{}
	}
	type bin struct {
		Start time.Time `json:"start"`
		Count int       `json:"count"`
	}
	bins := make([]bin, len(res.Bins))
	for i, n := range res.Bins {
		bins[i] = bin{res.First.Add(time.Duration(i) * res.BinWidth), n}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"total": res.Total, "offset": q.Offset, "limit": q.Limit, "signals": items,
		"timeline": map[string]any{"bin_seconds": int64(res.BinWidth / time.Second), "bins": bins},
		"ready":    s.Ready(),
	})
}

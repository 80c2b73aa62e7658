package console

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultMaxSignals bounds the index: beyond it the oldest signals (by bucket time) are
// dropped from the console's memory (never from the stream). A summary takes about 1 KiB
// with its index entries, so the default costs about 200 MiB at most.
const DefaultMaxSignals = 200_000

// Index keeps the summaries of the signals in memory, ordered by bucket time, with posting
// lists per process, host and user, so the list's queries touch only the signals that can
// match. It is safe for concurrent use.
type Index struct {
	mu  sync.RWMutex
	max int
	// all is every summary, ascending by (Time, Score, ID): the newest is last.
	all  []*Summary
	byID map[string]*Summary
	// Posting lists, each in the order of all.
	byProcess, byHost, byUser map[string][]*Summary
	// status is the triage state by signal id, also for signals not (yet) in the index: the
	// state's watch and the signals' feed are not ordered with each other.
	status map[string]string
}

// NewIndex returns an empty index holding at most max summaries (DefaultMaxSignals when 0).
func NewIndex(max int) *Index {
	if max <= 0 {
		max = DefaultMaxSignals
	}
	return &Index{max: max, byID: map[string]*Summary{},
		byProcess: map[string][]*Summary{}, byHost: map[string][]*Summary{}, byUser: map[string][]*Summary{},
		status: map[string]string{}}
}

func less(a, b *Summary) int {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Score, b.Score), strings.Compare(a.ID, b.ID))
}

// insert puts s into a list kept in the order of less; signals mostly come in time order, so
// this is an append.
func insert(list []*Summary, s *Summary) []*Summary {
	if n := len(list); n == 0 || less(list[n-1], s) < 0 {
		return append(list, s)
	}
	i, _ := slices.BinarySearchFunc(list, s, less)
	return slices.Insert(list, i, s)
}

// Add puts a summary into the index, and reports false when a signal of that id is already
// there (a signal published twice).
func (ix *Index) Add(s *Summary) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, dup := ix.byID[s.ID]; dup {
		return false
	}
	if st, ok := ix.status[s.ID]; ok {
		s.Status = st
	}
	ix.byID[s.ID] = s
	ix.all = insert(ix.all, s)
	ix.byProcess[s.Process] = insert(ix.byProcess[s.Process], s)
	for _, h := range s.Hosts {
		ix.byHost[h] = insert(ix.byHost[h], s)
	}
	for _, u := range s.Users {
		ix.byUser[u] = insert(ix.byUser[u], s)
	}
	if len(ix.all) > ix.max {
		ix.evict()
	}
	return true
}

// evict drops the oldest sixteenth of the bound at once, so the cost of rebuilding the
// posting lists is spread over many additions.
func (ix *Index) evict() {
	n := len(ix.all) - ix.max + ix.max/16
	gone := ix.all[:n]
	for _, s := range gone {
		delete(ix.byID, s.ID)
	}
	ix.all = slices.Clone(ix.all[n:])
	prune := func(m map[string][]*Summary) {
		for k, list := range m {
			list = slices.DeleteFunc(list, func(s *Summary) bool { return ix.byID[s.ID] != s })
			if len(list) == 0 {
				delete(m, k)
			} else {
				m[k] = list
			}
		}
	}
	prune(ix.byProcess)
	prune(ix.byHost)
	prune(ix.byUser)
}

// SetStatus records a signal's triage status, and reports whether the signal is in the index.
func (ix *Index) SetStatus(id, status string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.status[id] = status
	if s := ix.byID[id]; s != nil {
		s.Status = status
		return true
	}
	return false
}

// Get returns a copy of the summary of signal id.
func (ix *Index) Get(id string) (Summary, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := ix.byID[id]
	if s == nil {
		return Summary{}, false
	}
	return *s, true
}

// Len is the number of signals in the index.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.all)
}

// Query selects signals for the list. Empty fields do not filter.
type Query struct {
	// From and To bound the bucket time: From <= Time < To.
	From, To time.Time
	// Process, Host and User are exact values (the index's posting lists).
	Process, Host, User string
	MinScore            float64
	Status              string
	// Text is searched in the id, process, reason, hosts, users and destinations, ignoring case.
	Text string
	// Offset and Limit page through the matches, newest first.
	Offset, Limit int
}

// Result is one page of a query.
type Result struct {
	// Total is the number of matching signals.
	Total int
	Items []Summary
	// Bins are the matching signals per bin of BinWidth, from First (the bin start of the
	// oldest match, or From) to Last (the end of the newest match's bin, or To).
	Bins []int
	// BinMax is the highest score of each bin (for its colour); only set when the query
	// visited every match (a filter tested signal by signal), else nil.
	BinMax      []float64
	BinWidth    time.Duration
	First, Last time.Time
}

// binWidths are the widths the timeline may use; the narrowest giving at most maxBins bins wins.
var binWidths = []time.Duration{time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 28 * 24 * time.Hour}

const maxBins = 168

// binMaxVisit is how many matches a query answered without visiting them still visits for
// the bins' highest scores (a millisecond's work); beyond, the timeline's bars are uncoloured.
const binMaxVisit = 20_000

// Search runs a query.
func (ix *Index) Search(q Query) Result {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	// Start from the shortest posting list that applies: every match is in it. Only the
	// filters it does not already answer are tested signal by signal.
	list := ix.all
	base := ""
	for _, p := range []struct {
		m        map[string][]*Summary
		key, tag string
	}{{ix.byProcess, q.Process, "process"}, {ix.byHost, q.Host, "host"}, {ix.byUser, q.User, "user"}} {
		if p.key == "" {
			continue
		}
		if l := p.m[p.key]; len(l) < len(list) || l == nil {
			list, base = l, p.tag
		}
	}
	// The time range is a slice of the ordered list.
	lo, hi := 0, len(list)
	if !q.From.IsZero() {
		lo, _ = slices.BinarySearchFunc(list, q.From, func(s *Summary, t time.Time) int {
			return cmp.Or(s.Time.Compare(t), 1) // equal counts as after: From is in, To is out
		})
	}
	if !q.To.IsZero() {
		hi, _ = slices.BinarySearchFunc(list, q.To, func(s *Summary, t time.Time) int {
			return cmp.Or(s.Time.Compare(t), 1) // equal counts as after: From is in, To is out
		})
	}
	if hi < lo {
		hi = lo
	}
	list = list[lo:hi]
	res := Result{}
	if len(list) > 0 {
		res.First, res.Last = list[0].Time, list[len(list)-1].Time
	}
	if !q.From.IsZero() {
		res.First = q.From
	}
	if !q.To.IsZero() {
		res.Last = q.To
	}
	res.BinWidth = binWidths[len(binWidths)-1]
	for _, w := range binWidths {
		if res.Last.Sub(res.First.Truncate(w)) < w*maxBins {
			res.BinWidth = w
			break
		}
	}
	res.First = res.First.Truncate(res.BinWidth)
	if len(list) > 0 {
		res.Bins = make([]int, int(res.Last.Sub(res.First)/res.BinWidth)+1)
		if q.To.IsZero() {
			res.Last = res.First.Add(time.Duration(len(res.Bins)) * res.BinWidth)
		}
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	limit := cmp.Or(q.Limit, 50)
	checkProcess := q.Process != "" && base != "process"
	checkHost := q.Host != "" && base != "host"
	checkUser := q.User != "" && base != "user"
	if !checkProcess && !checkHost && !checkUser && q.MinScore <= 0 && q.Status == "" && text == "" {
		// Every signal of the slice matches: the page is a slice of it, and each bin's count
		// the distance between two binary searches. No signal is visited but the page's.
		res.Total = len(list)
		for i := len(list) - 1 - q.Offset; i >= 0 && len(res.Items) < limit; i-- {
			res.Items = append(res.Items, *list[i])
		}
		for b := range res.Bins {
			end := res.First.Add(time.Duration(b+1) * res.BinWidth)
			n, _ := slices.BinarySearchFunc(list, end, func(s *Summary, t time.Time) int { return cmp.Or(s.Time.Compare(t), 1) })
			res.Bins[b] = n
		}
		for b := len(res.Bins) - 1; b > 0; b-- {
			res.Bins[b] -= res.Bins[b-1]
		}
		if len(list) <= binMaxVisit {
			res.BinMax = make([]float64, len(res.Bins))
			for _, s := range list {
				if b := int(s.Time.Sub(res.First) / res.BinWidth); b >= 0 && b < len(res.Bins) {
					res.BinMax[b] = max(res.BinMax[b], s.Score)
				}
			}
		}
		return res
	}
	res.BinMax = make([]float64, len(res.Bins))
	for i := len(list) - 1; i >= 0; i-- {
		s := list[i]
		if s.Score < q.MinScore ||
			q.Status != "" && s.Status != q.Status ||
			checkProcess && s.Process != q.Process ||
			checkHost && !slices.Contains(s.Hosts, q.Host) ||
			checkUser && !slices.Contains(s.Users, q.User) ||
			text != "" && !s.matchesText(text) {
			continue
		}
		if res.Total >= q.Offset && len(res.Items) < limit {
			res.Items = append(res.Items, *s)
		}
		res.Total++
		if b := int(s.Time.Sub(res.First) / res.BinWidth); b >= 0 && b < len(res.Bins) {
			res.Bins[b]++
			res.BinMax[b] = max(res.BinMax[b], s.Score)
		}
	}
	return res
}

// Of returns a copy of every summary of a process, oldest first.
func (ix *Index) Of(process string) []Summary {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	list := ix.byProcess[process]
	out := make([]Summary, len(list))
	for i, s := range list {
		out[i] = *s
	}
	return out
}

// Facet is a value of a field and the number of signals that have it.
type Facet struct {
	Value string
	Count int
}

// Facets returns the n most frequent processes, hosts and users, for the filters' suggestions.
func (ix *Index) Facets(n int) (processes, hosts, users []Facet) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	top := func(m map[string][]*Summary) []Facet {
		out := make([]Facet, 0, len(m))
		for k, l := range m {
			if k != "" {
				out = append(out, Facet{k, len(l)})
			}
		}
		slices.SortFunc(out, func(a, b Facet) int { return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value)) })
		return out[:min(n, len(out))]
	}
	return top(ix.byProcess), top(ix.byHost), top(ix.byUser)
}

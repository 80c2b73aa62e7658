package httpin

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Anonymous is the token label of requests without a valid token in the metrics, and the
// rate limiter's key when no token file is given.
const Anonymous = ""

// authenticate returns the entry of the request's bearer token. Without a token file every
// request passes (as anonymous, a nil entry); with one, a request without a known token is
// answered 401 here and ok is false.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (e *tokens.Entry, ok bool) {
	if h.cfg.Tokens == nil {
		return nil, true
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rarenet"`)
		reply(w, http.StatusUnauthorized, 0, "missing Authorization: Bearer TOKEN (a token of the input's token file)")
		return nil, false
	}
	if e = h.cfg.Tokens.Lookup(strings.TrimSpace(token)); e == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rarenet", error="invalid_token"`)
		reply(w, http.StatusUnauthorized, 0, "unknown token")
		h.log.Debug("unknown token", "client", clientIP(r))
		return nil, false
	}
	return e, true
}

// limiters hands out one token bucket per token name (the anonymous one without a token
// file): a shipper that floods is slowed alone.
type limiters struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

func newLimiters(perSecond float64, burst int) *limiters {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &limiters{rate: rate.Limit(perSecond), burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes a request from name's bucket, or says how long to wait for one.
func (l *limiters) allow(name string, now time.Time) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	lim := l.m[name]
	if lim == nil {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[name] = lim
	}
	l.mu.Unlock()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// retryAfter is the Retry-After header's value for a wait of d: whole seconds, at least one.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// checkHosts decodes the request's lines as ingest will and returns an error naming the first
// event whose host.name e may not speak for: the request is then refused whole. Lines that do
// not decode are left to ingest, which dead-letters them with the source's name.
func checkHosts(formatName string, lines [][]byte, e *tokens.Entry) error {
	if e == nil || len(e.Hosts) == 0 {
		return nil
	}
	var dec format.Decoder
	var bad error
	emit := func(r format.Result) {
		if bad != nil || r.Event == nil {
			return
		}
		if host := r.Event.Host.Name; !e.AllowsHost(host) {
			what := fmt.Sprintf("host.name %q", host)
			if host == "" {
				what = "no host.name"
			}
			bad = fmt.Errorf("line %d: an event with %s, and the token %s may only send events of hosts %s: nothing of the request was stored",
				r.Line, what, e.Name, strings.Join(e.Hosts, " "))
		}
	}
	for i, l := range lines {
		if bad != nil {
			return bad
		}
		if dec == nil {
			name := formatName
			if name == format.Auto {
				if len(bytes.TrimSpace(l)) == 0 {
					continue
				}
				if name = formats.Detect(l); name == "" {
					continue // ingest rejects the line and detects again on the next one
				}
			}
			var err error
			if dec, err = formats.New(name); err != nil {
				return nil // the format was checked before; ingest dead-letters what it cannot decode
			}
		}
		dec.Decode(format.Line{Source: e.Name, Num: int64(i + 1), Data: l}, emit)
	}
	if dec != nil && bad == nil {
		dec.Flush(emit)
	}
	return bad
}

// Stats counts the endpoint's requests by token name and answer, and the lines accepted by
// token name, for /metrics. The zero Stats is ready.
type Stats struct {
	mu       sync.Mutex
	requests map[requestKey]int64
	lines    map[string]int64
}

type requestKey struct {
	token string
	code  int
}

func (s *Stats) count(token string, code, lines int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests == nil {
		s.requests, s.lines = map[requestKey]int64{}, map[string]int64{}
	}
	s.requests[requestKey{token, code}]++
	if lines > 0 {
		s.lines[token] += int64(lines)
	}
}

// Requests calls emit with the count of requests of each token name (Anonymous without a
// valid token) and HTTP status code, as label values token, code.
func (s *Stats) Requests(emit func(value int64, labelValues ...string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.requests {
		emit(v, k.token, strconv.Itoa(k.code))
	}
}

// Lines calls emit with the count of lines accepted from each token name (label token).
func (s *Stats) Lines(emit func(value int64, labelValues ...string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.lines {
		emit(v, k)
	}
}

// Count returns the requests of token answered with code.
func (s *Stats) Count(token string, code int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[requestKey{token, code}]
}

// statusWriter remembers the status code written, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

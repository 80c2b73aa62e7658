// Package httpin is the HTTP input of rarenet: shippers such as Vector or Fluent Bit POST
// NDJSON (or raw audit lines) to /v1/events and the lines are published on
// rarenet.raw.<format> in chunks, as every other source publishes them. The ingest stage runs
// it when given --http-listen.
//
//	POST /v1/events[?format=auto|ecs|auditd|...]   body: lines; gzip with Content-Encoding
//	  202 {"accepted":N}   N non-blank lines (or JSON documents) stored by JetStream
//	  400 empty body or unknown format; 413 body or line too large; 415 not a text body
//	  503 NATS unavailable or the publish not acknowledged (retry later)
//	GET /healthz   200 when connected to NATS and JetStream answers, 503 otherwise
//
// A body of JSON documents that span or share lines (pretty-printed, concatenated, an array,
// an Elasticsearch _search response, whose hits' _source are the documents) is published one
// document per line, each on the line of the body it starts on (jsondoc), so rejects name
// the body's lines.
//
// With a token file (Config.Tokens, --http-tokens) every request carries
// "Authorization: Bearer TOKEN": 401 without a known token, 403 when an event names a host
// outside the token's host patterns (the request is refused whole: nothing of it is stored),
// 429 with Retry-After past the token's rate, 503 with Retry-After past the concurrent
// requests allowed. The token's name is then the source of the lines (rarenet.source on
// every event, and in dead letters), whatever X-Rarenet-Source says.
//
// Without tokens, the header X-Rarenet-Source names the input in dead letters and
// explanations (default "http:<client IP>"). Lines are numbered from 1 in each request.
// With an Idempotency-Key header the chunks get message ids derived from it, so a shipper's
// retry of the same request within JetStream's duplicate window (2 minutes) is stored once.
package httpin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/auditd"
	"github.com/rarenet/rarenet/services/ingest/format/formats"
	"github.com/rarenet/rarenet/services/ingest/format/jsondoc"
	"github.com/rarenet/rarenet/services/sources/chunk"
	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/natsutil"
	"github.com/rarenet/rarenet/shared/tokens"
)

// Paths and headers of the endpoint.
const (
	EventsPath     = "/v1/events"
	HealthPath     = "/healthz"
	HeaderSource   = "X-Rarenet-Source"
	HeaderIdemKey  = "Idempotency-Key"
	DefaultMaxBody = 8 << 20
)

// Config configures the endpoint.
type Config struct {
	// MaxBody bounds a request body, decompressed (default 8 MiB).
	MaxBody int64
	// AckTimeout bounds the wait for JetStream's acks (default 10s).
	AckTimeout time.Duration
	// Tokens, when set, admits only requests bearing one of its tokens (see package tokens).
	Tokens *tokens.File
	// Rate is how many requests a second each token (or, without tokens, all clients
	// together) may make, with bursts of Burst (default: Rate rounded up); 0: no limit.
	Rate  float64
	Burst int
	// MaxConcurrent bounds the requests served at once (default DefaultMaxConcurrent); the
	// others are answered 503 with Retry-After.
	MaxConcurrent int
	// Stats, when set, counts requests and lines by token name.
	Stats *Stats

	// The server's side (Listen):

	// TLSCert and TLSKey, when set, serve HTTPS; TLSClientCA, when set too, requires a client
	// certificate signed by one of its CAs.
	TLSCert, TLSKey, TLSClientCA string
	// Insecure allows a non-loopback address without Tokens.
	Insecure bool
	// Timeouts against slow clients (defaults: 10s to send the headers, a minute for the
	// whole request, 2 minutes for the answer, 2 minutes idle between requests).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// DefaultMaxConcurrent is Config.MaxConcurrent's default.
const DefaultMaxConcurrent = 64

func (c Config) withDefaults() Config {
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 10 * time.Second
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.ReadHeaderTimeout, 10 * time.Second}, {&c.ReadTimeout, time.Minute}, {&c.WriteTimeout, 2 * time.Minute}, {&c.IdleTimeout, 2 * time.Minute}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	return c
}

// Handler serves the endpoint, publishing with js.
type Handler struct {
	cfg   Config
	js    jetstream.JetStream
	log   *slog.Logger
	mux   *http.ServeMux
	lim   *limiters
	slots chan struct{}
	// bufs holds the buffers of bodies and chunks between requests: each request of a
	// shipper under load read a body of a megabyte or so into new memory and copied it into
	// chunks of new memory, four fifths of ingest's allocations (docs/performance.md, item 29).
	bufs sync.Pool
}

// NewHandler returns the endpoint's handler.
func NewHandler(js jetstream.JetStream, cfg Config, log *slog.Logger) *Handler {
	cfg = cfg.withDefaults()
	h := &Handler{cfg: cfg, js: js, log: log.With("source", "http"), mux: http.NewServeMux(),
		lim: newLimiters(cfg.Rate, cfg.Burst), slots: make(chan struct{}, cfg.MaxConcurrent),
		bufs: sync.Pool{New: func() any { return new([]byte) }}}
	h.mux.HandleFunc("POST "+EventsPath, h.events)
	h.mux.HandleFunc("GET "+HealthPath, h.health)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Response is the JSON body of every answer.
type Response struct {
	Accepted int    `json:"accepted"`
	Error    string `json:"error,omitempty"`
}

func reply(w http.ResponseWriter, code int, accepted int, errMsg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(Response{Accepted: accepted, Error: errMsg})
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	if st := h.js.Conn().Status(); st != nats.CONNECTED {
		reply(w, http.StatusServiceUnavailable, 0, "NATS "+st.String())
		return
	}
	// Connected is not enough: a JetStream that stopped answering takes no event either.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := h.js.AccountInfo(ctx); err != nil {
		reply(w, http.StatusServiceUnavailable, 0, "JetStream not answering: "+err.Error())
		return
	}
	reply(w, http.StatusOK, 0, "")
}

func (h *Handler) events(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw}
	var entry *tokens.Entry
	accepted := 0
	defer func() {
		name := Anonymous
		if entry != nil {
			name = entry.Name
		}
		h.cfg.Stats.count(name, w.code, accepted)
	}()
	entry, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	name := Anonymous
	if entry != nil {
		name = entry.Name
	}
	if wait, ok := h.lim.allow(name, time.Now()); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		reply(w, http.StatusTooManyRequests, 0, fmt.Sprintf("more than %g requests a second: retry in %s", float64(h.lim.rate), wait.Round(time.Millisecond)))
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		reply(w, http.StatusServiceUnavailable, 0, fmt.Sprintf("busy: %d requests in progress already", h.cfg.MaxConcurrent))
		return
	}
	accepted = h.store(w, r, entry)
}

// store reads, checks and publishes the request's lines, and returns how many were stored.
func (h *Handler) store(w http.ResponseWriter, r *http.Request, entry *tokens.Entry) int {
	if !textBody(r.Header.Get("Content-Type")) {
		reply(w, http.StatusUnsupportedMediaType, 0, "Content-Type must be NDJSON, JSON or text, got "+r.Header.Get("Content-Type"))
		return 0
	}
	formatName := r.URL.Query().Get("format")
	if formatName == "" {
		formatName = format.Auto
	}
	if err := rawpub.CheckFormat(formatName); err != nil {
		reply(w, http.StatusBadRequest, 0, err.Error())
		return 0
	}
	buf := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(buf)
	body, code, err := h.readBody(w, r, buf)
	if err != nil {
		reply(w, code, 0, err.Error())
		return 0
	}
	source := r.Header.Get(HeaderSource)
	if entry != nil {
		source = entry.Name
	} else if source == "" {
		source = "http:" + clientIP(r)
	}
	if formatName != format.Auditd && jsondoc.Sniff(body, true) {
		return h.documents(w, r, formatName, source, body, entry)
	}
	lines := splitLines(body)
	n := 0
	for i, l := range lines {
		if len(l) > rawpub.MaxBytes {
			reply(w, http.StatusRequestEntityTooLarge, 0, fmt.Sprintf("line %d has %d bytes, more than %d", i+1, len(l), rawpub.MaxBytes))
			return 0
		}
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
	}
	if n == 0 {
		reply(w, http.StatusBadRequest, 0, "empty body: send one event per line")
		return 0
	}
	if st := h.js.Conn().Status(); st != nats.CONNECTED {
		reply(w, http.StatusServiceUnavailable, 0, "NATS "+st.String())
		return 0
	}
	if err := checkHosts(formatName, lines, entry); err != nil {
		h.log.Warn("request refused: an event of a host outside the token's", "token", entry.Name, "client", clientIP(r), "err", err)
		reply(w, http.StatusForbidden, 0, err.Error())
		return 0
	}
	if err := h.publish(r.Context(), formatName, boundName(entry), source, r.Header.Get(HeaderIdemKey), lines); err != nil {
		h.log.Warn("publish failed", "source", source, "lines", n, "err", err)
		reply(w, http.StatusServiceUnavailable, 0, "not stored: "+err.Error())
		return 0
	}
	reply(w, http.StatusAccepted, n, "")
	return n
}

// readBody reads the body, decompressed, within the size limit, into *buf's memory (and
// leaves the memory it used there); the code goes with the error.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, buf *[]byte) ([]byte, int, error) {
	var in io.Reader = http.MaxBytesReader(w, r.Body, h.cfg.MaxBody)
	size := int64(0) // the body's length, when known
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		size = min(max(r.ContentLength, 0), h.cfg.MaxBody)
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, tooLargeOr(err, http.StatusBadRequest), fmt.Errorf("gzip body: %w", err)
		}
		defer zr.Close()
		in = zr
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q: only gzip is supported", enc)
	}
	// A body of known length is read into memory of its size, not grown as it comes.
	b := bytes.NewBuffer((*buf)[:0])
	b.Grow(int(size) + bytes.MinRead)
	_, err := b.ReadFrom(io.LimitReader(in, h.cfg.MaxBody+1))
	body := b.Bytes()
	*buf = body[:0]
	if err != nil {
		return nil, tooLargeOr(err, http.StatusBadRequest), fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(body)) > h.cfg.MaxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", h.cfg.MaxBody)
	}
	return body, 0, nil
}

func tooLargeOr(err error, code int) int {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	return code
}

// boundName is the source a request's lines are published as (rarenet.raw.<format>.<name>):
// its token's name, or none without a token.
func boundName(entry *tokens.Entry) string {
	if entry == nil {
		return ""
	}
	return entry.Name
}

// publish sends the lines in chunks and waits until JetStream stored every one. With a token
// (bound, its name) they go on the subject naming the token's source, as a NATS source bound
// to it would publish them: ingest then knows them authenticated (event Origin.AuthSource),
// which a header set by any publisher could not tell.
//
// Ingest decodes each chunk on its own, so an auditd event's records go in one chunk: a full
// chunk ends at the last place between events it holds (auditd.Boundary, as tail and replay
// cut), and the lines after it start the next. It is cut anywhere only when it holds no such
// place.
func (h *Handler) publish(ctx context.Context, formatName, bound, source, idemKey string, lines [][]byte) error {
	s := h.newChunkSender(formatName, bound, source, idemKey, func(_ int, ch chunk.Chunk) string {
		return "http:" + source + ":" + idemKey + ":" + strconv.FormatInt(ch.FirstLine, 10)
	})
	defer s.release()
	s.c.Next = 1
	between := eventStarts(formatName, lines)
	safe := 0 // lines of the chunk before the last place between events in it (0: none)
	// cut sends the chunk before line i, or only its lines up to the last place between
	// events, and returns the line to go on from.
	cut := func(i int) (int, error) {
		n := s.c.Len()
		if between != nil && i < len(lines) && !between[i] && safe > 0 {
			n = safe
		}
		i -= s.c.Len() - n
		safe = 0
		return i, s.send(n)
	}
	for i := 0; i < len(lines); {
		if s.c.Len() > 0 && !s.c.Room(len(lines[i])) {
			var err error
			if i, err = cut(i); err != nil {
				return err
			}
			continue
		}
		if between != nil && between[i] && s.c.Len() > 0 {
			safe = s.c.Len()
		}
		if s.c.Len() == 0 {
			s.c.SizeHint = chunkSize(lines[i:])
		}
		full := s.c.Add(lines[i])
		i++
		if full {
			var err error
			if i, err = cut(i); err != nil {
				return err
			}
		}
	}
	return s.finish(ctx)
}

// chunkSize is how many bytes the next chunk takes of lines, at most about MaxBytes.
func chunkSize(lines [][]byte) int {
	n := 0
	for _, l := range lines {
		if n += len(l) + 1; n >= rawpub.MaxBytes {
			break
		}
	}
	return n
}

// eventStarts tells, for the lines of an auditd log (by format, or for auto by its first
// line), where an event may end before each line (auditd.Boundary); nil for any other
// format, whose every line is an event.
func eventStarts(formatName string, lines [][]byte) []bool {
	if formatName == format.Auto {
		for _, l := range lines {
			if len(bytes.TrimSpace(l)) > 0 {
				formatName = formats.Detect(l)
				break
			}
		}
	}
	if formatName != format.Auditd {
		return nil
	}
	var b auditd.Boundary
	between := make([]bool, len(lines))
	for i, l := range lines {
		between[i] = b.Add(l)
	}
	return between
}

// chunkSender publishes a request's chunks (chunk.Builder) as raw messages and waits until
// JetStream stored every one: what publish and publishDocs share.
type chunkSender struct {
	c                         chunk.Builder
	pub                       *natsutil.Publisher
	formatName, bound, source string
	ackTimeout                time.Duration
	// id names the nth chunk for JetStream's de-duplication; nil without an idempotency key.
	id func(n int, ch chunk.Chunk) string
	n  int
	// buf holds the chunks' memory, from the handler's pool: a chunk is published as a
	// compressed copy, so the next chunk reuses its memory, and release gives it back.
	buf  *[]byte
	bufs *sync.Pool
}

// newChunkSender returns a sender of a request's chunks; id names them only with an
// idempotency key.
func (h *Handler) newChunkSender(formatName, bound, source, idemKey string, id func(int, chunk.Chunk) string) *chunkSender {
	if idemKey == "" {
		id = nil
	}
	s := &chunkSender{pub: natsutil.NewPublisher(h.js), formatName: formatName, bound: bound, source: source,
		ackTimeout: h.cfg.AckTimeout, id: id, buf: h.bufs.Get().(*[]byte), bufs: &h.bufs}
	s.c.Reuse(*s.buf)
	return s
}

// release gives the chunks' memory back to the handler's pool, once the request is done.
func (s *chunkSender) release() { s.bufs.Put(s.buf) }

// send publishes the first n lines of the chunk gathered so far, if any, and drops the rest
// (chunk.Builder.TakeLines), which the caller adds again.
func (s *chunkSender) send(n int) error {
	ch, ok := s.c.TakeLines(n)
	if !ok {
		return nil
	}
	s.n++
	id := ""
	if s.id != nil {
		id = s.id(s.n, ch)
	}
	err := s.pub.Publish(rawpub.BoundMessage(s.formatName, s.bound, s.source, ch.FirstLine, ch.Data), id)
	// The message holds a compressed copy (rawdata.CompressAs): the next chunk takes the memory.
	if cap(ch.Data) > cap(*s.buf) {
		*s.buf = ch.Data[:0]
	}
	s.c.Reuse(ch.Data)
	return err
}

// finish sends the last chunk and waits, for at most the ack timeout, until every chunk is
// stored.
func (s *chunkSender) finish(ctx context.Context) error {
	if err := s.send(s.c.Len()); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.ackTimeout)
	defer cancel()
	return s.pub.Flush(ctx)
}

// splitLines splits body at newlines; a final newline ends the last line rather than
// starting an empty one, and a carriage return before a newline is dropped.
func splitLines(body []byte) [][]byte {
	body = bytes.TrimSuffix(body, []byte{'\n'})
	if len(body) == 0 {
		return nil
	}
	lines := bytes.Split(body, []byte{'\n'})
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte{'\r'})
	}
	return lines
}

// textBody accepts the media types shippers use for lines of JSON or text, and no type at
// all; forms, multipart and binary types are refused.
func textBody(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	typ, sub, _ := strings.Cut(mt, "/")
	switch typ {
	case "text":
		return true
	case "application":
		return strings.Contains(sub, "json") || sub == "x-ndjson" || sub == "jsonl"
	}
	return false
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

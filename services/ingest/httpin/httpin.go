// Package httpin is the HTTP input of rarenet: shippers such as Vector or Fluent Bit POST
// NDJSON (or raw audit lines) to /v1/events and the lines are published on
// rarenet.raw.<format> in chunks, as every other source publishes them. The ingest stage runs
// it when given --http-listen.
//
//	POST /v1/events[?format=auto|ecs|auditd|...]   body: lines; gzip with Content-Encoding
//	  202 {"accepted":N}   N non-blank lines (or JSON documents) stored by JetStream
//	  400 empty body or unknown format; 413 body or line too large; 415 not a text body
//	  503 NATS unavailable or the publish not acknowledged (retry later)
//	GET /healthz   200 when connected to NATS, 503 otherwise
//
// A body of JSON documents that span or share lines (pretty-printed, concatenated, an array,
// an Elasticsearch _search response, whose hits' _source are the documents) is published one
// document per line, each on the line of the body it starts on (jsondoc), so rejects name
// the body's lines.
//
// The header X-Rarenet-Source names the input in dead letters and explanations (default
// "http:<client IP>"); lines are numbered from 1 in each request. With an Idempotency-Key
// header the chunks get message ids derived from it, so a shipper's retry of the same
// request within JetStream's duplicate window (2 minutes) is stored once.
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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/ingest/format"
	"github.com/rarenet/rarenet/services/ingest/format/jsondoc"
	"github.com/rarenet/rarenet/services/ingest/rawpub"
	"github.com/rarenet/rarenet/shared/natsutil"
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
}

func (c Config) withDefaults() Config {
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 10 * time.Second
	}
	return c
}

// Handler serves the endpoint, publishing with js.
type Handler struct {
	cfg Config
	js  jetstream.JetStream
	log *slog.Logger
	mux *http.ServeMux
}

// NewHandler returns the endpoint's handler.
func NewHandler(js jetstream.JetStream, cfg Config, log *slog.Logger) *Handler {
	h := &Handler{cfg: cfg.withDefaults(), js: js, log: log.With("source", "http"), mux: http.NewServeMux()}
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

func (h *Handler) health(w http.ResponseWriter, _ *http.Request) {
	if st := h.js.Conn().Status(); st != nats.CONNECTED {
		reply(w, http.StatusServiceUnavailable, 0, "NATS "+st.String())
		return
	}
	reply(w, http.StatusOK, 0, "")
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	if !textBody(r.Header.Get("Content-Type")) {
		reply(w, http.StatusUnsupportedMediaType, 0, "Content-Type must be NDJSON, JSON or text, got "+r.Header.Get("Content-Type"))
		return
	}
	formatName := r.URL.Query().Get("format")
	if formatName == "" {
		formatName = format.Auto
	}
	if err := rawpub.CheckFormat(formatName); err != nil {
		reply(w, http.StatusBadRequest, 0, err.Error())
		return
	}
	body, code, err := h.readBody(w, r)
	if err != nil {
		reply(w, code, 0, err.Error())
		return
	}
	source := r.Header.Get(HeaderSource)
	if source == "" {
		source = "http:" + clientIP(r)
	}
	if formatName != format.Auditd && jsondoc.Sniff(body, true) {
		h.documents(w, r, formatName, source, body)
		return
	}
	lines := splitLines(body)
	n := 0
	for i, l := range lines {
		if len(l) > rawpub.MaxBytes {
			reply(w, http.StatusRequestEntityTooLarge, 0, fmt.Sprintf("line %d has %d bytes, more than %d", i+1, len(l), rawpub.MaxBytes))
			return
		}
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
	}
	if n == 0 {
		reply(w, http.StatusBadRequest, 0, "empty body: send one event per line")
		return
	}
	if st := h.js.Conn().Status(); st != nats.CONNECTED {
		reply(w, http.StatusServiceUnavailable, 0, "NATS "+st.String())
		return
	}
	if err := h.publish(r.Context(), formatName, source, r.Header.Get(HeaderIdemKey), lines); err != nil {
		h.log.Warn("publish failed", "source", source, "lines", n, "err", err)
		reply(w, http.StatusServiceUnavailable, 0, "not stored: "+err.Error())
		return
	}
	reply(w, http.StatusAccepted, n, "")
}

// readBody reads the body, decompressed, within the size limit; the code goes with the error.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	var in io.Reader = http.MaxBytesReader(w, r.Body, h.cfg.MaxBody)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
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
	body, err := io.ReadAll(io.LimitReader(in, h.cfg.MaxBody+1))
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

// publish sends the lines in chunks and waits until JetStream stored every one.
func (h *Handler) publish(ctx context.Context, formatName, source, idemKey string, lines [][]byte) error {
	pub := natsutil.NewPublisher(h.js)
	c := rawpub.Chunker{Next: 1}
	send := func() error {
		ch, ok := c.Take()
		if !ok {
			return nil
		}
		id := ""
		if idemKey != "" {
			id = "http:" + source + ":" + idemKey + ":" + strconv.FormatInt(ch.FirstLine, 10)
		}
		return pub.Publish(rawpub.Message(formatName, source, ch.FirstLine, ch.Data), id)
	}
	for _, l := range lines {
		if !c.Room(len(l)) {
			if err := send(); err != nil {
				return err
			}
		}
		if c.Add(l) {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := send(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.AckTimeout)
	defer cancel()
	return pub.Flush(ctx)
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

package httpin

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/rarenet/rarenet/services/ingest/format/jsondoc"
	"github.com/rarenet/rarenet/services/sources/chunk"
	"github.com/rarenet/rarenet/services/sources/rawpub"
	"github.com/rarenet/rarenet/shared/tokens"
)

// doc is one JSON document of a body and the line it starts on.
type doc struct {
	line int64
	data []byte
}

// documents answers a body of JSON documents that span or share lines, and returns how many
// were stored.
func (h *Handler) documents(w http.ResponseWriter, r *http.Request, formatName, source string, body []byte, entry *tokens.Entry) int {
	var docs []doc
	var tooLong error
	_, err := jsondoc.Each(bytes.NewReader(body), rawpub.MaxBytes, func(d jsondoc.Doc) error {
		if d.Size > 0 {
			tooLong = fmt.Errorf("the JSON document at line %d has %d bytes, more than %d", d.Line, d.Size, rawpub.MaxBytes)
			return tooLong
		}
		docs = append(docs, doc{d.Line, bytes.Clone(d.Data)})
		return nil
	})
	switch {
	case tooLong != nil:
		reply(w, http.StatusRequestEntityTooLarge, 0, tooLong.Error())
		return 0
	case err != nil:
		reply(w, http.StatusBadRequest, 0, "reading the body: "+err.Error())
		return 0
	case len(docs) == 0:
		reply(w, http.StatusBadRequest, 0, "no JSON document in the body")
		return 0
	}
	if st := h.js.Conn().Status(); st != nats.CONNECTED {
		reply(w, http.StatusServiceUnavailable, 0, "NATS "+st.String())
		return 0
	}
	if err := checkHosts(formatName, docLines(docs), entry); err != nil {
		h.log.Warn("request refused: an event of a host outside the token's", "token", entry.Name, "client", clientIP(r), "err", err)
		reply(w, http.StatusForbidden, 0, err.Error())
		return 0
	}
	if err := h.publishDocs(r.Context(), formatName, boundName(entry), source, r.Header.Get(HeaderIdemKey), docs); err != nil {
		h.log.Warn("publish failed", "source", source, "documents", len(docs), "err", err)
		reply(w, http.StatusServiceUnavailable, 0, "not stored: "+err.Error())
		return 0
	}
	reply(w, http.StatusAccepted, len(docs), "")
	return len(docs)
}

// docLines lays the documents out as lines, each on the line it starts on (documents that
// share a line on the lines after it), for checkHosts' messages to name the body's lines.
func docLines(docs []doc) [][]byte {
	var lines [][]byte
	for _, d := range docs {
		for int64(len(lines)) < d.line-1 {
			lines = append(lines, nil)
		}
		lines = append(lines, d.data)
	}
	return lines
}

// publishDocs sends the documents in chunks, each on the line it starts on (blank lines
// between, which ingest skips), and waits until JetStream stored every chunk. Documents that
// share a line (a _search response on one line) go in chunks of their own, each naming the
// line; the chunks' ids count them, so a retry's are the same. bound is as publish's.
func (h *Handler) publishDocs(ctx context.Context, formatName, bound, source, idemKey string, docs []doc) error {
	s := h.newChunkSender(formatName, bound, source, idemKey, func(n int, _ chunk.Chunk) string {
		return "http:" + source + ":" + idemKey + ":doc" + strconv.Itoa(n)
	})
	defer s.release()
	last := int64(0)
	for _, d := range docs {
		gap := int(d.line - last - 1)
		if s.c.Len() > 0 && (gap < 0 || !s.c.Room(gap+len(d.data))) {
			if err := s.send(s.c.Len()); err != nil {
				return err
			}
		}
		if s.c.Len() == 0 {
			s.c.Next = d.line
		} else {
			for range gap {
				s.c.Add(nil)
			}
		}
		last = d.line
		if s.c.Add(d.data) {
			if err := s.send(s.c.Len()); err != nil {
				return err
			}
		}
	}
	return s.finish(ctx)
}

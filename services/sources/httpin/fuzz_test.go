package httpin

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// FuzzEvents posts arbitrary bodies, headers and gzip streams to the handler (tokens with host
// patterns, over a real JetStream): whatever comes, it answers one of its documented codes
// with a JSON body, and 202 only with lines accepted. Run it longer with
// go test -fuzz FuzzEvents ./services/sources/httpin.
func FuzzEvents(f *testing.F) {
	f.Add([]byte(hostLine("web-1")), "Bearer "+shipperToken, "application/x-ndjson", "", "ecs", false)
	f.Add([]byte(hostLine("db-1")+"\n"+hostLine("web-1")), "Bearer "+shipperToken, "", "", "auto", true)
	f.Add([]byte("type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=42 node=web-1"), "Bearer "+shipperToken, "text/plain", "", "auditd", false)
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"), "Bearer "+anyToken, "", "gzip", "", false)
	f.Add([]byte(`{"host":{"name":["a"]}}`), "Bearer "+anyToken, "application/json; charset=utf-8", "identity", "osquery", true)
	f.Add([]byte{}, "", "multipart/form-data", "br", "sysmon", false)
	_, _, js, _ := startJetStream(f)
	h := NewHandler(js, Config{Tokens: tokenFile(f), MaxBody: 64 << 10}, slog.New(slog.DiscardHandler))
	allowed := []int{http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable}
	f.Fuzz(func(t *testing.T, body []byte, auth, contentType, encoding, formatName string, gz bool) {
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(body)
			zw.Close()
			body, encoding = b.Bytes(), "gzip"
		}
		req := httptest.NewRequest(http.MethodPost, EventsPath, bytes.NewReader(body))
		q := req.URL.Query()
		q.Set("format", formatName)
		req.URL.RawQuery = q.Encode()
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Content-Encoding", encoding)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var r Response
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("status %d with a body that is not JSON: %q", rec.Code, rec.Body)
		}
		if (rec.Code == http.StatusAccepted) != (r.Accepted > 0) {
			t.Fatalf("status %d with %d accepted", rec.Code, r.Accepted)
		}
	})
}

package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTP headers the notifier sends with every webhook and chat message.
const (
	// HeaderIdempotencyKey carries Message.Key, by the IETF draft's name
	// (draft-ietf-httpapi-idempotency-key-header): receivers drop a key they have seen.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderSignalIDs lists the message's signal ids (kibana.alert.uuid), comma separated.
	HeaderSignalIDs = "X-Rarenet-Signal-Id"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body under the webhook's
	// secret, as GitHub signs its webhooks (X-Hub-Signature-256).
	HeaderSignature = "X-Rarenet-Signature-256"
)

// httpSender posts webhooks and chat messages.
type httpSender struct {
	kind    string
	url     string
	client  *http.Client
	secret  []byte
	headers http.Header
}

func newHTTPSender(kind string, u *url.URL, d *DestinationConfig) (*httpSender, error) {
	target := *u
	target.Scheme = strings.TrimPrefix(u.Scheme, kind+"+")
	s := &httpSender{kind: kind, url: target.String(), headers: http.Header{}}
	tc, err := tlsConfig(d, "")
	if err != nil {
		return nil, err
	}
	s.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment,
		ResponseHeaderTimeout: 30 * time.Second, MaxIdleConnsPerHost: 2,
	}}
	if kind == KindWebhook {
		sec, err := secret(d.SecretFile, d.SecretEnv, "secret")
		if err != nil {
			return nil, err
		}
		s.secret = []byte(sec)
	}
	for k, v := range d.Headers {
		s.headers.Set(k, v)
	}
	for k, f := range d.HeaderFiles {
		v, err := secret(f, "", "header")
		if err != nil {
			return nil, fmt.Errorf("header_files %s: %w", k, err)
		}
		s.headers.Set(k, v)
	}
	return s, nil
}

// webhookEnvelope is a webhook's default body: the rendered text and the signal documents as
// published.
type webhookEnvelope struct {
	IdempotencyKey string            `json:"idempotency_key"`
	Route          string            `json:"route"`
	Text           string            `json:"text"`
	Signals        []json.RawMessage `json:"signals"`
}

// chatMessage is an incoming-webhook message in the shape Slack and Mattermost share: the
// text in their markup. Mattermost also takes the sender's name.
type chatMessage struct {
	Text     string `json:"text"`
	Username string `json:"username,omitempty"`
}

func (s *httpSender) body(m *Message) ([]byte, error) {
	switch s.kind {
	case KindSlack:
		return json.Marshal(chatMessage{Text: m.Text})
	case KindMattermost:
		return json.Marshal(chatMessage{Text: m.Text, Username: "rarenet"})
	}
	if m.Body != "" {
		return []byte(m.Body), nil
	}
	env := webhookEnvelope{IdempotencyKey: m.Key, Route: m.Route, Text: m.Text}
	for _, sig := range m.Signals {
		env.Signals = append(env.Signals, json.RawMessage(sig.Raw))
	}
	return json.Marshal(env)
}

// Sign is the value of HeaderSignature for body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (s *httpSender) Send(ctx context.Context, m *Message) error {
	body, err := s.body(m)
	if err != nil {
		return fmt.Errorf("%w: encode: %w", ErrPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rarenet-notify")
	req.Header.Set(HeaderIdempotencyKey, m.Key)
	req.Header.Set(HeaderSignalIDs, strings.Join(m.IDs(), ","))
	if len(s.secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(s.secret, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The error names the URL, whose path may be a token: say only what failed.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return fmt.Errorf("post: %w", uerr.Err)
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(reply)))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout ||
		resp.StatusCode == http.StatusTooEarly || resp.StatusCode/100 == 5:
		if d := retryAfter(resp.Header.Get("Retry-After")); d > 0 {
			return &retryAfterError{err: err, after: d}
		}
		return err
	}
	// Any other answer (400, 403, 404, 410, a redirect not followed) will not change.
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

func (s *httpSender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// retryAfterError is a failure whose server said when to try again.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// retryAfter reads a Retry-After header in seconds (the form Slack and most APIs use).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

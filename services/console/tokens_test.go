package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/console"
	"github.com/rarenet/rarenet/shared/tokens"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     console.Config
		exposed bool
	}{
		{console.Config{Listen: "127.0.0.1:8080"}, false},
		{console.Config{Listen: "[::1]:8080"}, false},
		{console.Config{Listen: "localhost:8080"}, false},
		{console.Config{Listen: ""}, false},
		{console.Config{Listen: ":8080"}, true},
		{console.Config{Listen: "0.0.0.0:8080"}, true},
		{console.Config{Listen: "192.0.2.10:8080"}, true},
		{console.Config{Listen: "0.0.0.0:8080", Insecure: true}, false},
		{console.Config{Listen: "0.0.0.0:8080", TokenFile: "tokens"}, false},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if got := errors.Is(err, console.ErrExposed); got != tt.exposed {
			t.Errorf("%+v: %v, want exposed=%v", tt.cfg, err, tt.exposed)
		}
	}
	if err := (&console.Config{Listen: "nonsense"}).Validate(); err == nil || !strings.Contains(err.Error(), "want host:port") {
		t.Errorf("a bad address: %v", err)
	}
}

// TestTokens runs a second console on the handlers' server with a token file: a read token
// may look, a triage token may change, no token gets nothing, a browser signs in with a cookie.
// It triages bash: this file sorts after handlers_test.go, whose tests expect it untouched.
func TestTokens(t *testing.T) {
	base := getSample(t, "handlers")
	file := filepath.Join(t.TempDir(), "tokens")
	content := "# console users\n" +
		"reader " + tokens.Hash("read-secret") + "\n" +
		"alice " + tokens.Hash("triage-secret") + " role=triage\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c := startConsole(t, ctx, base.srv, console.Config{Listen: "127.0.0.1:0", TokenFile: file}, done)
	t.Cleanup(func() { cancel(); <-done })
	s := &sample{url: strings.TrimSuffix(c.URL(), "/")}
	id := base.ids["bash"]

	code, _ := s.get(t, "/")
	if code != http.StatusSeeOther {
		t.Errorf("no token: GET / %d, want a redirect to sign in", code)
	}
	for _, p := range []string{"/api/signals", "/events", "/api/signals/" + id} {
		if code, _ := s.get(t, p); code != http.StatusUnauthorized {
			t.Errorf("no token: GET %s %d, want 401", p, code)
		}
	}
	if code, _ := s.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz needs no token: %d", code)
	}
	if code, _ := s.get(t, "/api/signals", "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	var l apiList
	code, body := s.get(t, "/api/signals", "Authorization", "Bearer read-secret")
	if code != http.StatusOK || !strings.Contains(body, `"total"`) {
		t.Errorf("read token: GET /api/signals %d", code)
	}
	_ = l
	code, body = s.postJSON(t, "/api/signals/"+id+"/status", map[string]string{"status": "closed"}, "Authorization", "Bearer read-secret")
	if code != http.StatusForbidden || !strings.Contains(body, "role=triage") {
		t.Errorf("read token may triage: %d %s", code, body)
	}
	code, body = s.postJSON(t, "/api/signals/"+id+"/status", map[string]string{"status": "acknowledged", "note": "mine"}, "Authorization", "Bearer triage-secret")
	if code != http.StatusOK || !strings.Contains(body, `"by": "alice"`) {
		t.Errorf("triage token: %d %s", code, body)
	}
	// A browser: a wrong token stays on the sign-in page; the right one gets a cookie.
	code, _, body = s.postForm(t, "/login", url.Values{"token": {"nope"}, "next": {"/"}})
	if code != http.StatusUnauthorized || !strings.Contains(body, "not in the console") {
		t.Errorf("wrong sign-in: %d", code)
	}
	code, loc, _ := s.postForm(t, "/login", url.Values{"token": {"read-secret"}, "next": {"//elsewhere.example/"}})
	if code != http.StatusSeeOther || loc != "/" {
		t.Errorf("sign-in: %d to %q, want / (never another site)", code, loc)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/login", strings.NewReader("token=read-secret&next=%2Fexceptions"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "rarenet_console_token" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || strings.Contains(cookie.Value, "read-secret") && cookie.Value == "read-secret" {
		t.Fatalf("sign-in cookie %+v", cookie)
	}
	code, body = s.get(t, "/signals/"+id, "Cookie", cookie.Name+"="+cookie.Value)
	if code != http.StatusOK || !strings.Contains(body, "reader · read") || !strings.Contains(body, "Your token has the read role") {
		t.Errorf("signed-in page: %d", code)
	}
}

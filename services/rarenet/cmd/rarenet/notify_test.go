package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rarenet/rarenet/services/notify"
)

// TestNotifyTest: `rarenet notify --test --to URL` sends one sample message, signed, to a
// real HTTP server, and fails naming the destination when a destination refuses.
func TestNotifyTest(t *testing.T) {
	var got []byte
	var key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		key = r.Header.Get(notify.HeaderIdempotencyKey)
	}))
	defer srv.Close()
	if err := notifyCmd(context.Background(), []string{"--test", "--to", "webhook+" + srv.URL + "/hook"}); err != nil {
		t.Fatal(err)
	}
	var env struct {
		Text    string            `json:"text"`
		Signals []json.RawMessage `json:"signals"`
	}
	if err := json.Unmarshal(got, &env); err != nil || len(env.Signals) != 1 || key == "" {
		t.Fatalf("the receiver got %s (key %q): %v", got, key, err)
	}
	if !strings.Contains(env.Text, "rarenet notify --test") || !strings.Contains(env.Text, "kworkerds") {
		t.Errorf("text %q", env.Text)
	}
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(403) }))
	defer refuse.Close()
	err := notifyCmd(context.Background(), []string{"--test", "--to", "webhook+" + refuse.URL})
	if err == nil || !strings.Contains(err.Error(), "1 of 1") {
		t.Errorf("a refusing destination: %v", err)
	}
}

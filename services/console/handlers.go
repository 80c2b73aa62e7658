package console

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
)

// Handler is the console's HTTP handler: pages, the JSON API, live updates and assets.
//
//	GET  /                          the signals list (filters in the query string)
//	GET  /signals/{id}              a signal's page: the guide's five answers
//	GET  /signals/{id}/raw          the signal document
//	POST /signals/{id}/status       set status and note (form or JSON)
//	GET  /exceptions                the rule exceptions; POST /exceptions adds one
//	POST /exceptions/{id}/delete    removes one
//	GET  /events                    server-sent events: "signal", "status"
//	GET  /api/signals[?...]         the list as JSON;  GET /api/signals/{id}: document, status, history
//	POST /api/signals/{id}/status   JSON {"status": ..., "note": ...}
//	GET  /api/exceptions            JSON;  POST /api/exceptions: JSON exception
//	GET  /healthz, /readyz          liveness, readiness (index caught up)
//	GET  /login, POST /login, POST /logout, GET /static/...
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheable(http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	mux.Handle("GET /{$}", s.signedIn(s.listPage))
	mux.Handle("GET /signals/{id}", s.signedIn(s.signalPage))
	mux.Handle("GET /signals/{id}/raw", s.signedIn(s.signalRaw))
	mux.Handle("POST /signals/{id}/status", s.triager(s.setStatus))
	mux.Handle("GET /exceptions", s.signedIn(s.exceptionsPage))
	mux.Handle("POST /exceptions", s.triager(s.addException))
	mux.Handle("POST /exceptions/{id}/delete", s.triager(s.removeException))
	mux.Handle("GET /events", s.signedIn(s.events))

	mux.Handle("GET /api/signals", s.signedIn(s.apiList))
	mux.Handle("GET /api/signals/{id}", s.signedIn(s.apiSignal))
	mux.Handle("POST /api/signals/{id}/status", s.triager(s.setStatus))
	mux.Handle("GET /api/exceptions", s.signedIn(s.apiExceptions))
	mux.Handle("POST /api/exceptions", s.triager(s.addException))

	// Cross-origin protection (Sec-Fetch-Site, Origin) refuses state changes sent from other
	// sites' pages: with a sign-in cookie, a form elsewhere could otherwise triage.
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// securityHeaders: no framing, no sniffing, no outside resources: every asset is ours.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

func cacheable(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// signedIn lets requests with a valid token (or any, without a token file) through; others
// are sent to sign in (pages) or refused with 401 (API, live updates).
func (s *Server) signedIn(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.access.who(r)
		if !ok {
			if isAPI(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="rarenet console"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid token is needed (Authorization: Bearer TOKEN)"})
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

// triager is signedIn for changes: the token must have role=triage.
func (s *Server) triager(h http.HandlerFunc) http.Handler {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request) {
		if p := who(r); !p.CanTriage() {
			msg := "your token (" + p.Name + ") has the read role: triage needs role=triage in the token file"
			if isAPI(r) {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": msg})
				return
			}
			s.errorPage(w, r, http.StatusForbidden, msg)
			return
		}
		h(w, r)
	})
}

func who(r *http.Request) principal {
	p, _ := r.Context().Value(ctxKey{}).(principal)
	return p
}

// isAPI tells the JSON API and the event stream from pages: they get status codes, not pages.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/events" ||
		strings.Contains(r.Header.Get("Accept"), "application/json") && !strings.Contains(r.Header.Get("Accept"), "text/html")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.Ready() {
		http.Error(w, "reading the signals stream and the triage states", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login.html", page{Title: "Sign in", Body: map[string]any{
		"Next": localPath(r.URL.Query().Get("next")), "NoTokens": s.tokens == nil}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := localPath(r.PostFormValue("next"))
	if s.tokens == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	e := s.tokens.Lookup(token)
	if e == nil {
		s.log.Warn("console sign-in refused", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login.html", page{Title: "Sign in", Body: map[string]any{
			"Next": next, "Failed": true}})
		return
	}
	s.log.Info("console sign-in", "name", e.Name, "role", e.Role, "remote", r.RemoteAddr)
	signIn(w, r, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	signOut(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

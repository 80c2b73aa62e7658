package console

import (
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/rarenet/rarenet/shared/tokens"
)

// cookieName is the cookie holding the token a browser signed in with.
const cookieName = "rarenet_console_token"

// sessionLength is how long a browser stays signed in.
const sessionLength = 12 * time.Hour

// principal is who makes a request.
type principal struct {
	Name string
	Role string
}

// CanTriage reports whether the principal may change statuses and add exceptions.
func (p principal) CanTriage() bool { return p.Role == tokens.RoleTriage }

// access decides who a request comes from: without a token file, everyone (the console is on
// loopback, or was opened on purpose); with one, the holder of the token sent as
// "Authorization: Bearer TOKEN" or kept in the sign-in cookie.
type access struct {
	tokens *tokens.File
	open   principal
}

func newAccess(f *tokens.File, insecure bool) *access {
	a := &access{tokens: f, open: principal{Name: "local", Role: tokens.RoleTriage}}
	if insecure {
		a.open.Name = "anonymous"
	}
	return a
}

// who returns the request's principal, or false when it shows no valid token.
func (a *access) who(r *http.Request) (principal, bool) {
	if a.tokens == nil {
		return a.open, true
	}
	token := ""
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		token = strings.TrimSpace(h[7:])
	} else if c, err := r.Cookie(cookieName); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil {
			token = string(b)
		}
	}
	e := a.tokens.Lookup(token)
	if e == nil {
		return principal{}, false
	}
	return principal{Name: e.Name, Role: e.Role}, true
}

// signIn keeps a valid token in an HTTP-only, same-site cookie (base64url: a token may hold
// bytes a cookie cannot).
func signIn(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString([]byte(token)), Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionLength / time.Second)})
}

func signOut(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// localPath returns next when it is a path on this site, else "/": a sign-in never sends the
// browser elsewhere.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

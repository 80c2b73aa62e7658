package console

import (
	"fmt"
	"net/http"
	"time"
)

// keepAlive is how often an idle event stream gets a comment, so proxies keep it open.
const keepAlive = 25 * time.Second

// events streams server-sent events to a browser: "signal" (a new signal's summary) and
// "status" (a changed triage state). The browser's EventSource reconnects by itself.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The client retries after 2s when the console restarts.
	fmt.Fprint(w, "retry: 2000\n: rarenet console live updates\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	ch := s.hub.subscribe()
	defer s.hub.unsubscribe(ch)
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-ch:
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Kind, e.Data); err != nil {
				return
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

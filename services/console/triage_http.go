package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// statusRequest is the JSON body of POST /api/signals/{id}/status.
type statusRequest struct {
	Status string `json:"status"`
	Note   string `json:"note"`
}

// setStatus changes a signal's triage state: stored in the bucket, published on the triage
// subject, seen by every console through its watch.
func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req statusRequest
	asJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	if asJSON {
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: want {\"status\": \"open|acknowledged|closed\", \"note\": \"...\"}: " + err.Error()})
			return
		}
	} else {
		req.Status, req.Note = r.PostFormValue("status"), r.PostFormValue("note")
	}
	sum, ok := s.ix.Get(id)
	if !ok {
		s.signalError(w, r, ErrSignalNotFound)
		return
	}
	t := &Triage{ID: id, RuleID: sum.RuleID, Status: req.Status, Note: strings.TrimSpace(req.Note), By: who(r).Name}
	if err := SetStatus(r.Context(), s.nc, s.triage, t); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrBadStatus) || errors.Is(err, ErrBadSignalID) || strings.Contains(err.Error(), "note of") {
			status = http.StatusBadRequest
		}
		if asJSON || isAPI(r) {
			writeJSON(w, status, map[string]string{"error": err.Error()})
		} else {
			s.errorPage(w, r, status, err.Error())
		}
		return
	}
	// The watch brings it too; set it now so the page the browser goes back to shows it.
	s.ix.SetStatus(id, t.Status)
	s.log.Info("signal triaged", "id", id, "status", t.Status, "by", t.By)
	if asJSON || isAPI(r) {
		writeJSON(w, http.StatusOK, t)
		return
	}
	http.Redirect(w, r, "/signals/"+id, http.StatusSeeOther)
}

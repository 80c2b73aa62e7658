package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rarenet/rarenet/services/windower"
)

// exceptionForm is the "add exception" form, pre-filled from a signal.
type exceptionForm struct {
	RuleID  string
	Signal  string
	Entries []formEntry
	Fields  []string
	Comment string
}

type formEntry struct {
	Field    string
	Operator string
	Value    string
	On       bool
}

// maxFormEntries bounds the entries of the form.
const maxFormEntries = 8

// prefill proposes an exception for a signal: its process (on), its hosts (on), its users and
// destinations (off): the usual exception is "this program on these hosts".
func prefill(s Summary) exceptionForm {
	f := exceptionForm{RuleID: s.RuleID, Signal: s.ID, Fields: windower.ExceptionFields,
		Comment: fmt.Sprintf("from signal %s (%s, %s)", s.ID, s.Process, s.Time.Format("2006-01-02 15:04"))}
	if f.RuleID == "" {
		f.RuleID = windower.DefaultRule().ID
	}
	f.Entries = append(f.Entries, formEntry{Field: "process.name", Operator: windower.OpIs, Value: s.Process, On: s.Process != ""})
	add := func(field string, values []string, on bool) {
		switch len(values) {
		case 0:
		case 1:
			f.Entries = append(f.Entries, formEntry{Field: field, Operator: windower.OpIs, Value: values[0], On: on})
		default:
			f.Entries = append(f.Entries, formEntry{Field: field, Operator: windower.OpIsOneOf, Value: strings.Join(values, ","), On: on})
		}
	}
	add("host.name", s.Hosts, true)
	add("user.name", s.Users, false)
	var ips []string
	for _, d := range s.Destinations {
		ips = append(ips, d.IP)
	}
	add("destination.ip", ips, false)
	f.Entries = append(f.Entries, formEntry{Field: "", Operator: windower.OpIs})
	return f
}

// exceptionsKV opens the windower's exceptions bucket (the windower creates it at start).
func (s *Server) exceptionsKV(r *http.Request) (jetstream.KeyValue, error) {
	return windower.ExceptionsKV(r.Context(), s.js)
}

// exceptionFromForm reads an exception from the signal page's form (e0.field, e0.op,
// e0.value, e0.on, ...) or the exceptions page's (entries: one "FIELD is VALUE" a line).
func exceptionFromForm(r *http.Request) (windower.Exception, error) {
	x := windower.Exception{RuleID: strings.TrimSpace(r.PostFormValue("rule_id")), Comment: strings.TrimSpace(r.PostFormValue("comment"))}
	for i := range maxFormEntries {
		p := fmt.Sprintf("e%d.", i)
		if r.PostFormValue(p+"on") == "" || strings.TrimSpace(r.PostFormValue(p+"field")) == "" {
			continue
		}
		e := windower.Entry{Field: strings.TrimSpace(r.PostFormValue(p + "field")), Operator: r.PostFormValue(p + "op")}
		val := r.PostFormValue(p + "value")
		if e.Operator == windower.OpIsOneOf {
			for _, v := range strings.Split(val, ",") {
				if v = strings.TrimSpace(v); v != "" {
					e.Values = append(e.Values, v)
				}
			}
		} else {
			e.Values = []string{strings.TrimSpace(val)}
		}
		if err := e.Validate(); err != nil {
			return x, fmt.Errorf("entry %d: %w", i+1, err)
		}
		x.Entries = append(x.Entries, e)
	}
	for n, line := range strings.Split(r.PostFormValue("entries"), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		e, err := windower.ParseEntry(line)
		if err != nil {
			return x, fmt.Errorf("entries, line %d: %w", n+1, err)
		}
		x.Entries = append(x.Entries, e)
	}
	if x.RuleID == "" {
		x.RuleID = windower.DefaultRule().ID
	}
	return x, nil
}

// addException writes an exception to the bucket `rarenet exceptions` and the windower use.
func (s *Server) addException(w http.ResponseWriter, r *http.Request) {
	var x windower.Exception
	var err error
	asJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
	if asJSON {
		err = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&x)
		x.ID = "" // the store chooses it
		if x.RuleID == "" {
			x.RuleID = windower.DefaultRule().ID
		}
	} else {
		x, err = exceptionFromForm(r)
	}
	if err == nil {
		err = x.Validate()
	}
	fail := func(status int, err error) {
		if asJSON || isAPI(r) {
			writeJSON(w, status, map[string]string{"error": err.Error()})
		} else {
			s.errorPage(w, r, status, "The exception was not added: "+err.Error())
		}
	}
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	x.Created = time.Now().UTC()
	if x.Comment == "" {
		x.Comment = "added in the console by " + who(r).Name
	} else {
		x.Comment += " (by " + who(r).Name + ")"
	}
	kv, err := s.exceptionsKV(r)
	if err != nil {
		fail(http.StatusInternalServerError, err)
		return
	}
	id, err := windower.AddException(r.Context(), kv, &x)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, windower.ErrBadException) {
			status = http.StatusBadRequest
		}
		fail(status, err)
		return
	}
	s.log.Info("exception added", "id", id, "rule_id", x.RuleID, "by", who(r).Name)
	if asJSON || isAPI(r) {
		writeJSON(w, http.StatusCreated, x)
		return
	}
	http.Redirect(w, r, "/exceptions?added="+id, http.StatusSeeOther)
}

func (s *Server) removeException(w http.ResponseWriter, r *http.Request) {
	kv, err := s.exceptionsKV(r)
	if err == nil {
		err = windower.RemoveException(r.Context(), kv, "", r.PathValue("id"))
	}
	if errors.Is(err, windower.ErrExceptionNotFound) {
		s.errorPage(w, r, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.log.Info("exception removed", "id", r.PathValue("id"), "by", who(r).Name)
	http.Redirect(w, r, "/exceptions?removed="+r.PathValue("id"), http.StatusSeeOther)
}

// exceptionsView is the exceptions page's content.
type exceptionsView struct {
	Exceptions []windower.Exception
	Added      string
	Removed    string
	RuleID     string
	CanTriage  bool
	Error      string
}

func (s *Server) exceptionsPage(w http.ResponseWriter, r *http.Request) {
	v := exceptionsView{Added: r.URL.Query().Get("added"), Removed: r.URL.Query().Get("removed"),
		RuleID: windower.DefaultRule().ID, CanTriage: who(r).CanTriage()}
	kv, err := s.exceptionsKV(r)
	if err == nil {
		v.Exceptions, err = windower.ListExceptions(r.Context(), kv, "")
	}
	if err != nil {
		v.Error = err.Error()
	}
	s.render(w, r, http.StatusOK, "exceptions.html", page{Title: "Exceptions", Nav: "exceptions", Body: v})
}

func (s *Server) apiExceptions(w http.ResponseWriter, r *http.Request) {
	kv, err := s.exceptionsKV(r)
	var xs []windower.Exception
	if err == nil {
		xs, err = windower.ListExceptions(r.Context(), kv, r.URL.Query().Get("rule_id"))
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if xs == nil {
		xs = []windower.Exception{}
	}
	writeJSON(w, http.StatusOK, xs)
}

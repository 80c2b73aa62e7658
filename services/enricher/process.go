package enricher

import (
	"path"
	"slices"
	"strings"

	"github.com/rarenet/rarenet/shared/record"
)

// worldWritable are the directories anyone can write to, where droppers run from.
var worldWritable = []string{"/tmp", "/var/tmp", "/dev/shm", "/run/shm"}

// userKey names a user as the history does: user.name, or uid=<id> when only the id is known.
func userKey(name, id string) string {
	switch {
	case name != "":
		return name
	case id != "":
		return "uid=" + id
	}
	return ""
}

// Processes answers the guide's last question from the record's example events: each
// distinct process (host, user, executable, arguments, title, working directory), in the
// examples' order, with notes on what stands out.
func Processes(r *record.Record) []record.Process {
	var out []record.Process
	for _, e := range r.Examples {
		p := record.Process{Host: e.HostName, User: userKey(e.UserName, e.UserID), PID: e.PID, ParentPID: e.ParentPID, Executable: e.Executable,
			Args: e.Args, Title: e.Title, WorkingDirectory: e.WorkingDirectory}
		if p.Executable == "" && len(p.Args) == 0 && p.Title == "" && p.WorkingDirectory == "" {
			continue
		}
		if slices.ContainsFunc(out, func(q record.Process) bool { return sameProcess(p, q) }) {
			continue
		}
		p.Notes = processNotes(r.ByFieldValue, &p)
		out = append(out, p)
	}
	return out
}

func sameProcess(a, b record.Process) bool {
	return a.Host == b.Host && a.User == b.User && a.Executable == b.Executable && slices.Equal(a.Args, b.Args) &&
		a.Title == b.Title && a.WorkingDirectory == b.WorkingDirectory
}

// processNotes says what an analyst should not miss about a process.
func processNotes(name string, p *record.Process) []string {
	var notes []string
	exe := strings.TrimSuffix(p.Executable, " (deleted)")
	if exe != p.Executable {
		notes = append(notes, "its executable was deleted after it started")
	}
	if d := writableDir(exe); d != "" {
		notes = append(notes, "its executable is in "+d+", which anyone can write to")
	} else if d := writableDir(p.WorkingDirectory); d != "" {
		notes = append(notes, "it runs in "+d+", which anyone can write to")
	}
	if hidden(exe) {
		notes = append(notes, "its executable is under a hidden directory")
	}
	if base := path.Base(exe); exe != "" && name != "" && !strings.HasPrefix(base, name) && !strings.HasPrefix(name, base) {
		notes = append(notes, "its name "+name+" is not its executable's ("+base+")")
	}
	return notes
}

// writableDir returns the world-writable directory p lies in, or "".
func writableDir(p string) string {
	for _, d := range worldWritable {
		if p == d || strings.HasPrefix(p, d+"/") {
			return d
		}
	}
	return ""
}

// hidden reports a path with a directory whose name starts with a dot.
func hidden(p string) bool {
	dir := path.Dir(p)
	return p != "" && (strings.Contains(dir, "/.") || strings.HasPrefix(dir, "."))
}

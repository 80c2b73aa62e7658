package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// Help layout: flag names in a column, usages wrapped beside them.
const (
	helpWidth  = 100
	nameColumn = 32
)

// WriteHelp writes the command's help: the usage lines, what it does, its flags by group with
// one default each, and the notes.
func (c *Command) WriteHelp(w io.Writer) {
	var b strings.Builder
	for i, s := range c.Synopsis {
		if i == 0 {
			b.WriteString("Usage: " + s + "\n")
		} else {
			b.WriteString("       " + s + "\n")
		}
	}
	if c.Summary != "" {
		b.WriteString("\n" + strings.TrimRight(c.Summary, "\n") + "\n")
	}
	for g := range groups {
		fs := c.flagsOf(g)
		if len(fs) == 0 {
			continue
		}
		b.WriteString("\n" + g.String() + ":\n")
		for _, f := range fs {
			writeFlag(&b, f)
		}
	}
	if c.Notes != "" {
		b.WriteString("\n" + strings.TrimRight(c.Notes, "\n") + "\n")
	}
	io.WriteString(w, b.String())
}

// writeFlag writes one flag: "  --name VALUE   usage (default x)".
func writeFlag(b *strings.Builder, f *flag.Flag) {
	arg, usage := flag.UnquoteUsage(f)
	name := "  --" + f.Name
	if len(f.Name) == 1 {
		name = "  -" + f.Name // -v, as such flags are typed
	}
	if arg != "" {
		name += " " + metavar(f.Name, arg)
	}
	if def := shownDefault(f, usage); def != "" {
		usage += " (default " + def + ")"
	}
	lines := wrap(usage, helpWidth-nameColumn)
	if len(name) >= nameColumn-1 {
		b.WriteString(name + "\n")
		name = ""
	}
	for i, l := range lines {
		if i > 0 {
			name = ""
		}
		fmt.Fprintf(b, "%-*s%s\n", nameColumn, name, l)
	}
}

// metavar names a flag's argument: the backquoted word of its usage, else what the flag's
// name says it is (a file, a directory, a URL, an address), else its type.
func metavar(name, arg string) string {
	switch arg {
	case "value":
		return "VALUE"
	case "int", "uint", "int64", "uint64":
		return "N"
	case "float":
		return "NUMBER"
	case "duration":
		return "DURATION"
	case "string":
	default:
		return strings.ToUpper(arg) // backquoted in the usage
	}
	last := name[strings.LastIndexByte(name, '-')+1:]
	switch {
	case last == "file" || last == "ca" || last == "cert" || last == "key" || last == "creds" || last == "passwd" ||
		name == "out" || name == "stats" || name == "trace" || name == "cpuprofile" || name == "config" ||
		name == "state" || name == "labels" || name == "job" || name == "rule" || last == "asn" || last == "city":
		return "FILE"
	case last == "dir" || name == "proc":
		return "DIR"
	case last == "url":
		return "URL"
	case last == "id":
		return "ID"
	case name == "host":
		return "NAME"
	case last == "addr" || last == "listen":
		return "ADDR"
	}
	return "VALUE"
}

// shownDefault returns the default worth showing: none when it is the zero value, or when the
// usage already says what the default is.
func shownDefault(f *flag.Flag, usage string) string {
	switch f.DefValue {
	case "", "0", "0s", "false", "[]":
		return ""
	}
	if strings.Contains(usage, "default") {
		return ""
	}
	return f.DefValue
}

// wrap breaks s into lines of at most width runes, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		var line strings.Builder
		for _, w := range words {
			if line.Len() > 0 && line.Len()+1+len([]rune(w)) > width {
				lines = append(lines, line.String())
				line.Reset()
			}
			if line.Len() > 0 {
				line.WriteByte(' ')
			}
			line.WriteString(w)
		}
		lines = append(lines, line.String())
	}
	return lines
}

package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// Escaper makes a value safe inside a destination's message format: JSON string contents for
// webhook bodies, Slack's mrkdwn, Mattermost's Markdown, CEF extension values.
type Escaper func(string) string

// rawText is a value that passes the escaper unchanged: the template's own {{raw ...}}.
type rawText string

// Template is a message template (text/template) whose every {{action}} is escaped for its
// destination, as html/template does for HTML: a signal's reason or process name cannot break
// the JSON of a webhook body or the markup of a chat message. {{raw X}} opts out.
type Template struct {
	t *template.Template
}

// TemplateData is what a template sees: the signals of one message (one, or a rule run's
// digest), the first of them as .Signal, and where the message goes.
type TemplateData struct {
	Signals     []*Signal
	Signal      *Signal
	Count       int
	Route       string
	Destination string
}

// ParseTemplate parses text as a template escaped by esc (nil: no escaping).
func ParseTemplate(name, text string, esc Escaper) (*Template, error) {
	if esc == nil {
		esc = func(s string) string { return s }
	}
	funcs := template.FuncMap{
		"escape": func(v any) string {
			if r, ok := v.(rawText); ok {
				return string(r)
			}
			return esc(fmt.Sprint(v))
		},
		"raw":   func(v any) rawText { return rawText(fmt.Sprint(v)) },
		"join":  func(sep string, v []string) string { return strings.Join(v, sep) },
		"field": func(doc map[string]any, key string) any { return field(doc, key) },
		"json": func(v any) (rawText, error) {
			b, err := json.Marshal(v)
			return rawText(b), err
		},
		"score": func(f float64) string { return fmt.Sprintf("%.1f", f) },
		"upper": strings.ToUpper,
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			escapeList(tt.Tree.Root)
		}
	}
	return &Template{t: t}, nil
}

// escapeList appends the escaper to every action that prints, in the template and in the
// branches of its if, range and with.
func escapeList(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 { // {{$x := ...}} prints nothing
				continue
			}
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
				NodeType: parse.NodeCommand,
				Args:     []parse.Node{parse.NewIdentifier("escape").SetTree(nil).SetPos(n.Pos)},
			})
		case *parse.IfNode:
			escapeList(n.List)
			escapeList(n.ElseList)
		case *parse.RangeNode:
			escapeList(n.List)
			escapeList(n.ElseList)
		case *parse.WithNode:
			escapeList(n.List)
			escapeList(n.ElseList)
		}
	}
}

// Execute renders the template.
func (t *Template) Execute(d *TemplateData) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// jsonEscape writes s as the contents of a JSON string (without the quotes).
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to as control
// sequences (https://api.slack.com/reference/surfaces/formatting#escaping).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// markdownEscape backslash-escapes Markdown's punctuation for Mattermost, which renders
// CommonMark: a process named *x* or a reason with [brackets](...) stays literal text.
func markdownEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()#!|<>~&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// oneLine folds line breaks into spaces: mail subjects and syslog messages are one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

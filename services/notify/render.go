package notify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Default templates, by destination kind. Each serves one signal and digests alike.
const (
	defaultText = `{{if gt .Count 1}}{{.Count}} signals of {{.Signal.RuleName}}
{{end}}{{range .Signals}}[{{.Severity}} {{score .Score}}] {{.Process}} on {{.Host}} as {{.User}} to {{.Destination}}
{{.Reason}}{{if .ConsoleLink}}
{{.ConsoleLink}}{{end}}
{{end}}`
	defaultSlack = `{{if gt .Count 1}}*{{.Count}} signals* of _{{.Signal.RuleName}}_
{{end}}{{range .Signals}}:rotating_light: *{{.Process}}* on *{{.Host}}*, score *{{score .Score}}* ({{.Severity}}), user {{.User}}, destination {{.Destination}}
>{{.Reason}}{{if .ConsoleLink}}
<{{.ConsoleLink}}|Open in the console>{{end}}
{{end}}`
	defaultMattermost = `{{if gt .Count 1}}**{{.Count}} signals** of _{{.Signal.RuleName}}_
{{end}}{{range .Signals}}:rotating_light: **{{.Process}}** on **{{.Host}}**, score **{{score .Score}}** ({{.Severity}}), user {{.User}}, destination {{.Destination}}
> {{.Reason}}{{if .ConsoleLink}}
[Open in the console]({{.ConsoleLink}}){{end}}
{{end}}`
	defaultSyslog  = `{{.Signal.Reason}}`
	defaultSubject = `[rarenet] {{if gt .Count 1}}{{.Count}} signals: {{end}}{{.Signal.Process}} on {{.Signal.Host}} (score {{score .Signal.Score}}, {{.Signal.Severity}})`
)

// escaperOf is how values are escaped in a kind's message text.
func escaperOf(kind string) Escaper {
	switch kind {
	case KindSlack:
		return slackEscape
	case KindMattermost:
		return markdownEscape
	}
	return nil
}

func defaultTemplate(kind string) string {
	switch kind {
	case KindSlack:
		return defaultSlack
	case KindMattermost:
		return defaultMattermost
	case KindSyslog:
		return defaultSyslog
	}
	return defaultText
}

// templates are one destination's templates for one route.
type templates struct {
	text, subject, body *Template
}

// parseTemplates parses the templates a route uses for a destination: the route's own, else
// the destination's, else the kind's default.
func parseTemplates(kind string, d *DestinationConfig, r *RouteConfig) (*templates, error) {
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	var t templates
	var err error
	name := d.Name + "/" + r.Name
	if t.text, err = ParseTemplate(name+" template", pick(r.Template, d.Template, defaultTemplate(kind)), escaperOf(kind)); err != nil {
		return nil, err
	}
	if t.subject, err = ParseTemplate(name+" subject", pick(r.Subject, d.Subject, defaultSubject), nil); err != nil {
		return nil, err
	}
	if d.Body != "" {
		if kind != KindWebhook {
			return nil, fmt.Errorf("body: only webhooks take a body template")
		}
		if t.body, err = ParseTemplate(name+" body", d.Body, jsonEscape); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

// render fills a message's text, subject and body.
func (t *templates) render(kind string, m *Message, destination string) error {
	data := &TemplateData{Signals: m.Signals, Signal: m.Signals[0], Count: len(m.Signals), Route: m.Route, Destination: destination}
	var err error
	if m.Text, err = t.text.Execute(data); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	m.Text = strings.TrimRight(m.Text, "\n")
	if kind == KindSyslog {
		m.Text = oneLine(m.Text)
	}
	if m.Subject, err = t.subject.Execute(data); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	m.Subject = oneLine(m.Subject)
	if t.body != nil {
		if m.Body, err = t.body.Execute(data); err != nil {
			return fmt.Errorf("body: %w", err)
		}
		if !json.Valid([]byte(m.Body)) {
			return fmt.Errorf("body: the template does not make valid JSON")
		}
	}
	return nil
}

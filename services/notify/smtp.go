package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/wneessen/go-mail"
)

// smtpSender sends each message as one plain-text mail through an SMTP server, with STARTTLS
// required (go-mail's TLSMandatory: a server that does not offer it is refused, so the
// password never crosses the network in clear) and PLAIN authentication when the URL names
// a user.
type smtpSender struct {
	client *mail.Client
	from   string
	to     []string
}

func newSMTPSender(u *url.URL, d *DestinationConfig) (*smtpSender, error) {
	q := u.Query()
	to := strings.FieldsFunc(q.Get("to"), func(r rune) bool { return r == ',' || r == ' ' })
	if len(to) == 0 {
		return nil, errors.New("smtp: give the recipients as ?to=a@example.org,b@example.org")
	}
	port := 587
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("smtp: port %q: %w", p, err)
		}
		port = n
	}
	from := q.Get("from")
	if from == "" {
		from = "rarenet@" + u.Hostname()
	}
	tc, err := tlsConfig(d, u.Hostname())
	if err != nil {
		return nil, err
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tc)}
	if d.Timeout > 0 {
		opts = append(opts, mail.WithTimeout(d.Timeout))
	}
	if user := u.User.Username(); user != "" {
		pw, err := secret(d.PasswordFile, d.PasswordEnv, "password")
		if err != nil {
			return nil, err
		}
		if pw == "" {
			return nil, fmt.Errorf("smtp: user %s has no password: give password_file or password_env", user)
		}
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(user), mail.WithPassword(pw))
	}
	c, err := mail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return &smtpSender{client: c, from: from, to: to}, nil
}

func (s *smtpSender) Send(ctx context.Context, m *Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("%w: from: %w", ErrPermanent, err)
	}
	if err := msg.To(s.to...); err != nil {
		return fmt.Errorf("%w: to: %w", ErrPermanent, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// The idempotency key as Message-ID: mail clients and archives fold copies of one
	// message into one.
	msg.SetMessageIDWithValue(m.Key + "@rarenet")
	msg.SetGenHeader(mail.Header(HeaderIdempotencyKey), m.Key)
	msg.SetGenHeader(mail.Header(HeaderSignalIDs), strings.Join(m.IDs(), ","))
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		// A 5xx answer (no such mailbox, authentication refused) will not change.
		var se *mail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: smtp: %w", ErrPermanent, err)
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

func (s *smtpSender) Close() error { return nil }

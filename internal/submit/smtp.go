// Package submit hands finished (already signed and encrypted) messages to
// the mail system: SMTP submission with TLS (github.com/emersion/go-smtp),
// or a local sendmail program, and an outbox that keeps every message that
// could not be delivered until a later flush succeeds. Each outbox entry is
// claimed by whoever delivers it (Outbox.Claim, or Outbox.Put for a new
// one), so concurrent senders never deliver a message twice. Nothing here
// reads or changes message content.
package submit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of an SMTP connection.
const (
	TLSStartTLS = "starttls" // STARTTLS, required (port 587)
	TLSImplicit = "implicit" // TLS from the first byte (port 465)
)

// SMTP says how to reach the submission server.
type SMTP struct {
	// Addr is HOST[:PORT]; the port defaults to 587 for STARTTLS and 465
	// for implicit TLS.
	Addr string
	// TLS is TLSStartTLS (default) or TLSImplicit.
	TLS string
	// RootCAs verify the server certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// InsecurePlaintext sends without TLS, to a relay on loopback only: a
	// connection to any other address is refused before anything is sent.
	InsecurePlaintext bool
	// User and Password authenticate with AUTH PLAIN (or LOGIN); Password
	// is called only when the server is reached and TLS is up.
	User     string
	Password func() (string, error)
	// Timeout bounds connecting and each command; 0 means 60 s.
	Timeout time.Duration
}

// Envelope is the SMTP envelope of one transaction.
type Envelope struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	// MessageID is the message's Message-ID field; it is not sent in the
	// envelope. The outbox delivers a Message-ID to one set of recipients
	// once: an entry with the MessageID and recipients of one delivered
	// before is not sent again. "" turns that off for the entry.
	MessageID string `json:"message_id,omitempty"`
}

// Error is a submission failure. Temporary failures (no connection, TLS
// failure, timeout, 4xx) are worth retrying; permanent ones (5xx) are not.
type Error struct {
	Temporary bool
	// ByHand: sending again cures none of the messages named, and the
	// error says what to do instead (a damaged outbox entry to look at and
	// remove; one the server accepted that could not be removed).
	ByHand bool
	// Setup: the transport is set up wrongly (no STARTTLS, no TLS, a
	// certificate that does not verify): nothing was sent, and sending
	// the same way again fails the same, so nothing waits in the outbox.
	Setup bool
	// Uncertain: the end of the message was sent and no answer came (the
	// connection broke, or timed out): the server may have accepted it.
	// Such a failure is neither temporary nor permanent: sending again may
	// deliver a second copy, so the outbox holds the message for a person
	// to decide (see Outbox).
	Uncertain bool
	Err       error
}

func (e *Error) Error() string { return "submit: " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func temporary(format string, args ...any) error {
	return &Error{Temporary: true, Err: fmt.Errorf(format, args...)}
}

// classify turns an SMTP error into an Error.
func classify(step string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		code := strconv.Itoa(se.Code)
		if e := se.EnhancedCode; e != (smtp.EnhancedCode{}) {
			code += fmt.Sprintf(" %d.%d.%d", e[0], e[1], e[2])
		}
		return &Error{Temporary: se.Temporary(), Err: fmt.Errorf("%s: the server answered %s %s", step, code, se.Message)}
	}
	if e := setupError(step, "the server", err); e != nil {
		return e // TLS is set up at the first command after STARTTLS
	}
	return temporary("%s: %v", step, err)
}

// setupError is the permanent error for a failure to set up TLS that
// sending again cannot cure — no STARTTLS, no TLS where implicit TLS was
// asked for, a certificate that does not verify — naming the setting that
// fixes it (nothing is queued); nil for anything else (a reset, a
// timeout), which is temporary.
func setupError(step, addr string, err error) error {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var header tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return &Error{Setup: true, Err: fmt.Errorf("%s: the server's TLS certificate does not verify (%v): give the CA that issued it with --smtp-ca FILE (smtp-ca in the config), or use the host name it was issued for; nothing was sent", step, err)}
	case strings.Contains(msg, "doesn't support STARTTLS"):
		return &Error{Setup: true, Err: fmt.Errorf("%s: %s does not offer STARTTLS: if it speaks TLS from the start (port 465), use --smtp-tls implicit; nothing was sent", step, addr)}
	case errors.As(err, &header) || strings.Contains(msg, "first record does not look like a TLS handshake"):
		return &Error{Setup: true, Err: fmt.Errorf("%s: %s does not speak TLS from the start: use --smtp-tls starttls (port 587); nothing was sent", step, addr)}
	}
	return nil
}

// address returns host:port with the default port for the TLS mode.
func (s SMTP) address() (string, string, error) {
	addr := strings.TrimSpace(s.Addr)
	if addr == "" {
		return "", "", errors.New("no SMTP server: give --smtp HOST[:PORT] (or smtp in the config file)")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "587"
		if s.TLS == TLSImplicit {
			port = "465"
		}
	}
	return net.JoinHostPort(host, port), host, nil
}

// Send submits msg to the server for env. Every recipient must be
// accepted, else nothing is sent (the transaction is reset). commit (if
// not nil) is called after the message's data, before the line that ends
// it: until then the server cannot have accepted it. If commit fails, the
// connection is closed without that line, and nothing is delivered.
func (s SMTP) Send(env Envelope, msg io.Reader, commit func() error) error {
	switch s.TLS {
	case "", TLSStartTLS, TLSImplicit:
	default:
		return &Error{Err: fmt.Errorf("unknown TLS mode %q (starttls or implicit)", s.TLS)}
	}
	addr, host, err := s.address()
	if err != nil {
		return &Error{Err: err}
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	tlsConfig := &tls.Config{ServerName: host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
	dialer := &net.Dialer{Timeout: timeout}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var c *smtp.Client
	switch {
	case s.TLS == TLSImplicit:
		conn, err := (&tls.Dialer{NetDialer: dialer, Config: tlsConfig}).DialContext(ctx, "tcp", addr)
		if err != nil {
			if e := setupError("connecting to "+addr+" with TLS", addr, err); e != nil {
				return e
			}
			return temporary("connecting to %s with TLS: %v", addr, err)
		}
		c = smtp.NewClient(conn)
	default:
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return temporary("connecting to %s: %v", addr, err)
		}
		if s.InsecurePlaintext {
			if !loopback(conn.RemoteAddr()) {
				conn.Close()
				return &Error{Err: fmt.Errorf("sending without TLS is only for a relay on this machine (loopback), and %s is %v: use STARTTLS or implicit TLS (nothing was sent)", addr, conn.RemoteAddr())}
			}
			c = smtp.NewClient(conn)
		} else {
			c, err = smtp.NewClientStartTLS(conn, tlsConfig)
			if err != nil {
				if e := setupError("STARTTLS with "+addr, addr, err); e != nil {
					return e
				}
				return temporary("STARTTLS with %s: %v (nothing was sent)", addr, err)
			}
		}
	}
	defer c.Close()
	c.CommandTimeout = timeout
	c.SubmissionTimeout = 10 * time.Minute
	if s.User != "" {
		if s.Password == nil {
			return &Error{Err: errors.New("an SMTP user without a password")}
		}
		pw, err := s.Password()
		if err != nil {
			return &Error{Err: fmt.Errorf("SMTP password: %w", err)}
		}
		var client sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			client = sasl.NewPlainClient("", s.User, pw)
		case c.SupportsAuth(sasl.Login):
			client = sasl.NewLoginClient(s.User, pw)
		default:
			return &Error{Err: fmt.Errorf("%s offers neither AUTH PLAIN nor LOGIN", addr)}
		}
		if err := c.Auth(client); err != nil {
			return classify("AUTH", err)
		}
	}
	if err := c.Mail(env.From, nil); err != nil {
		return classify("MAIL FROM", err)
	}
	for _, rcpt := range env.To {
		if err := c.Rcpt(rcpt, nil); err != nil {
			c.Reset()
			return classify("RCPT TO "+rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := io.Copy(w, msg); err != nil {
		return temporary("sending the message: %v", err) // closing the connection without the end of data
	}
	if commit != nil {
		if err := commit(); err != nil {
			return temporary("before the end of the message: %v (nothing was delivered)", err)
		}
	}
	if err := w.Close(); err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			// The server may have the message and its answer was lost:
			// RFC 5321 section 4.1.1.4 (and RFC 1047) leave this open.
			return &Error{Uncertain: true, ByHand: true, Err: fmt.Errorf("end of DATA: %v: the connection failed after the whole message was sent and before the server answered, so it may have been delivered", err)}
		}
		return classify("end of DATA", err)
	}
	c.Quit()
	return nil
}

// Sendmail hands messages to a local MTA's sendmail program.
type Sendmail struct{ Path string }

// Send runs PATH -i -f FROM -- TO... with msg on stdin. A non-zero exit is
// temporary when it is EX_TEMPFAIL (75), as sendmail defines it. commit
// (if not nil) is called before the program starts: from then on it may
// queue the message.
func (s Sendmail) Send(env Envelope, msg io.Reader, commit func() error) error {
	args := []string{"-i", "-f", env.From, "--"}
	args = append(args, env.To...)
	cmd := exec.Command(s.Path, args...)
	cmd.Stdin = msg
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if commit != nil {
		if err := commit(); err != nil {
			return temporary("before running %s: %v (nothing was delivered)", s.Path, err)
		}
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		temp := true
		if errors.As(err, &ee) && ee.ExitCode() != 75 {
			temp = false
		}
		return &Error{Temporary: temp, Err: fmt.Errorf("%s: %v: %s", s.Path, err, strings.TrimSpace(stderr.String()))}
	}
	return nil
}

// Transport submits one message for one envelope. Send calls commit (when
// not nil) just before the point from which the message may be delivered
// (before the end of the SMTP data), and goes no further if it fails; a
// failure after that point whose outcome is unknown is an *Error with
// Uncertain set.
type Transport interface {
	Send(env Envelope, msg io.Reader, commit func() error) error
}

// loopback reports whether a is a loopback address (127.0.0.0/8, ::1).
func loopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

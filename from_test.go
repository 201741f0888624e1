package mailseal_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

// fromShapes are From fields as real mail has them (issue 14 class 6),
// for a message Eve signed, with the verdict Open must give and a warning
// it must carry ("" none asked for). Before the lenient parser, all but
// the plain ones made Open fail with unreadable input.
var fromShapes = []struct {
	from   string
	status mailseal.Status
	warn   string
}{
	{"Eve Example <eve@example.org>", mailseal.StatusGood, ""},
	// An unquoted display name holding an address, or an address and a dot.
	{"eve@example.org <eve@example.org>", mailseal.StatusGood, ""},
	{"manager@example.org <eve@example.org>", mailseal.StatusGood, "From display name shows an address (manager@example.org) that is not the sender (eve@example.org)"},
	{"manager@example.org                 . <eve@example.org>", mailseal.StatusGood, "From display name shows an address (manager@example.org)"},
	{"Eve . <eve@example.org>", mailseal.StatusGood, `From display name "Eve ." is not a name on the signer's key`},
	{"eve@example.org <manager@example.org>", mailseal.StatusSenderMismatch, "signer"},
	{"eve@example.org                 . <manager@example.org>", mailseal.StatusSenderMismatch, "signer"},
	// Obsolete syntax.
	{"Eve Example <@relay.example.net,@mx.example.net:eve@example.org>", mailseal.StatusGood, ""},
	{"eve @ example . org (Eve Example)", mailseal.StatusGood, ""},
	{`Eve Example <"eve"@example.org>`, mailseal.StatusGood, ""},
	// Raw 8-bit display names: UTF-8, and Latin-1.
	{"Eve Ex\u00e4mple <eve@example.org>", mailseal.StatusGood, `From display name "Eve Exämple" is not a name`},
	{"Eve Ex\xe4mple <eve@example.org>", mailseal.StatusGood, `From display name "Eve Exämple" is not a name`},
	// No address: nothing to bind the signer to.
	{"The Manager", mailseal.StatusSenderMismatch, "message has 0 From addresses (and 1 display name(s) without an address)"},
	// Two addresses: ambiguous, as before.
	{"<eve@example.org> <manager@example.org>", mailseal.StatusSenderMismatch, "message has 2 From addresses"},
	{"eve@example.org manager@example.org", mailseal.StatusSenderMismatch, "message has 2 From addresses"},
}

var fromLine = regexp.MustCompile(`(?m)^From: .*\r\n`)

// TestFromAsWritten opens a message Eve signed under each From shape:
// without Header Protection (the outer From decides), with it (the
// protected From decides, the outer one being plain), and with the shape
// in both. Each gives its verdict, never an error.
func TestFromAsWritten(t *testing.T) {
	eve := newKey("Eve Example <eve@example.org>")
	keys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgpList(eve)}}
	const plain = "From: Eve Example <eve@example.org>\r\n"
	draft := func(from string) string {
		return "From: " + from + "\r\nTo: bob@example.org\r\nSubject: pay this\r\nContent-Type: text/plain\r\n\r\nPay the invoice.\r\n"
	}
	for _, c := range fromShapes {
		// Outer only: a multipart/signed without Header Protection, its
		// outer From the shape.
		var outerOnly bytes.Buffer
		eng := pgp.New(core.Policy{})
		micalg, err := eng.Micalg(eve)
		if err != nil {
			t.Fatal(err)
		}
		var sig bytes.Buffer
		sw, err := eng.SignDetached(&sig, eve)
		if err != nil {
			t.Fatal(err)
		}
		outer := mime.Header{{Key: "From", Value: c.from}, {Key: "To", Value: "bob@example.org"}, {Key: "Subject", Value: "pay this"}}
		if err := mime.WriteSigned(&outerOnly, outer, "application/pgp-signature", micalg,
			strings.NewReader("Content-Type: text/plain\r\n\r\nPay the invoice.\r\n"), sw,
			mime.Header{{Key: "Content-Type", Value: "application/pgp-signature"}}, func() ([]byte, error) {
				if err := sw.Close(); err != nil {
					return nil, err
				}
				return sig.Bytes(), nil
			}); err != nil {
			t.Fatal(err)
		}
		// Protected: signed by mailseal with the shape as From, so that
		// the protected From is the shape; once with the outer From as
		// signed, once with it made plain.
		m := parse(draft(c.from))
		var protected bytes.Buffer
		if err := mailseal.Sign(&protected, m, pgp.Signer{Entity: eve}); err != nil {
			t.Fatal(err)
		}
		m.Close()
		loc := fromLine.FindIndex(protected.Bytes())
		if loc == nil {
			t.Fatalf("%q: no outer From in %s", c.from, protected.Bytes())
		}
		p := protected.Bytes()
		plainOuter := string(p[:loc[0]]) + plain + string(p[loc[1]:])
		for _, v := range []struct{ name, msg string }{
			{"outer only", outerOnly.String()},
			{"protected", protected.String()},
			{"protected, plain outer", plainOuter},
		} {
			m := parse(v.msg)
			o, err := mailseal.Open(m, keys, mailseal.OpenOptions{})
			m.Close()
			if err != nil {
				t.Errorf("%q, %s: %v", c.from, v.name, err)
				continue
			}
			if v.name == "outer only" && o.HeaderProtection != "" {
				t.Fatalf("%q: outer-only message has Header Protection %q", c.from, o.HeaderProtection)
			}
			if o.Status != c.status {
				t.Errorf("%q, %s: status %s (warnings %q), want %s", c.from, v.name, o.Status, o.Warnings, c.status)
			}
			found := c.warn == ""
			for _, w := range o.Warnings {
				found = found || strings.Contains(w, c.warn)
			}
			if !found {
				t.Errorf("%q, %s: warnings %q, want one with %q", c.from, v.name, o.Warnings, c.warn)
			}
		}
	}
}

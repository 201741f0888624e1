package mailseal

import (
	"strings"
	"testing"

	"github.com/mailseal/mailseal/mime"
)

// Bare local parts are found in every place an address list can hold one,
// and nothing else is touched: quoted commas, comments, groups, names
// without an address, addresses with a domain.
func TestQualifyList(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"root", "root@example.org"},
		{"root (Cron Daemon)", "root@example.org (Cron Daemon)"},
		{" (the admin) root ", " (the admin) root@example.org "},
		{"Bob <bob>, carol@example.net", "Bob <bob@example.org>, carol@example.net"},
		{`"Doe, J" <jd>, x`, `"Doe, J" <jd@example.org>, x@example.org`},
		{"root (cron, daily), ops", "root@example.org (cron, daily), ops@example.org"},
		{"The Manager", "The Manager"},
		{"undisclosed-recipients:;", "undisclosed-recipients:;"},
		{"a.b-c+d", "a.b-c+d@example.org"},
		{"a..b, .a", "a..b, .a"},
		{"Ünïcode", "Ünïcode"},
		{"<>", "<>"},
		{"Bob <bob", "Bob <bob"},
	} {
		if got := qualifyList(c.in, "example.org"); got != c.want {
			t.Errorf("qualifyList(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// An angle bracket inside a quoted display name or a comment is no
// address: a From with a domain whose name reads "<root>" is not system
// mail, so it is neither rewritten to SystemFrom (and signed by the host's
// key as the host) nor qualified inside its quotes.
func TestSystemMailQuotedAngle(t *testing.T) {
	for _, from := range []string{
		`"Alice <root>" <alice@bank.example>`,
		`(see <root>) alice@bank.example`,
	} {
		if got := qualifyList(from, "example.org"); got != from {
			t.Errorf("qualifyList(%q) = %q, want it unchanged", from, got)
		}
		m, err := mime.Parse(strings.NewReader("From: "+from+"\r\nTo: bob@example.net\r\nSubject: s\r\n\r\nhi\r\n"), mime.DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		fixed, err := systemMail(m, SendOptions{Domain: "example.org", SystemFrom: "cron@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if fixed != nil {
			got := fixed.Root.Header.Get("From")
			fixed.Close()
			t.Errorf("From %q rewritten to %q", from, got)
		}
		m.Close()
	}
}

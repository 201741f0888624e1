package mailseal

import (
	"errors"
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
		fixed, system, err := systemMail(m, SendOptions{Domain: "example.org", SystemFrom: "cron@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if fixed != nil || system {
			got := fixed.Root.Header.Get("From")
			fixed.Close()
			t.Errorf("From %q rewritten to %q", from, got)
		}
		m.Close()
	}
}

// A field the scanner and the message parser read differently is not
// rewritten (review finding): "<root> bob@example.org" is bob alone to
// the parser, and qualifying it added root@ as a recipient; "<root>
// ceo@example.org" has a domain to the parser, and the From was replaced.
func TestSystemMailReadsOneWay(t *testing.T) {
	for _, head := range []string{
		"From: cron@example.org\r\nTo: <root> bob@example.org\r\n",
		"From: <root> ceo@example.org\r\nTo: bob@example.org\r\n",
	} {
		m, err := mime.Parse(strings.NewReader(head+"Subject: s\r\n\r\nhi\r\n"), mime.DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		fixed, _, err := systemMail(m, SendOptions{Domain: "d.example", SystemFrom: "cron@example.org"})
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "reads two ways") {
			got := ""
			if fixed != nil {
				got = string(fixed.Root.Header.Get("To")) + " / " + fixed.Root.Header.Get("From")
				fixed.Close()
			}
			t.Errorf("%q: %v (%s)", head, err, got)
		}
		m.Close()
	}
}

// Each recipient address once, whatever names it: the sender (added by
// self) who is also in To, and --to repeating Cc, gave the same address
// two or three times in the no-key error (and asked for its key again).
func TestRecipientAddressesOnce(t *testing.T) {
	m, err := mime.Parse(strings.NewReader("From: Alice <alice@example.org>\r\nTo: alice@EXAMPLE.org, bob@example.net\r\nCc: Carol <carol@example.net>\r\nSubject: s\r\n\r\nhi\r\n"), mime.DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := RecipientAddresses(m, []string{"carol@example.net", "Bob@example.net"}, true)
	want := []string{"alice@EXAMPLE.org", "bob@example.net", "carol@example.net", "Bob@example.net"}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %q, %v; want %q (the local part is compared exactly)", got, err, want)
	}
}

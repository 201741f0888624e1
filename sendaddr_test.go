package mailseal

import "testing"

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

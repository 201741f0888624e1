package core

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/internal/lineartest"
)

func TestUserIDAddress(t *testing.T) {
	for _, c := range []struct {
		uid, addr string
		reason    string // "" when the user ID binds addr (or names none)
	}{
		// The accepted forms.
		{"Alice Example <alice@example.org>", "alice@example.org", ""},
		{"<alice@example.org>", "alice@example.org", ""},
		{"alice@example.org", "alice@example.org", ""},
		{"  alice@example.org  ", "alice@example.org", ""},
		{`"Example, Alice" <alice@example.org>`, "alice@example.org", ""},
		{`"Alice \"Al\" Example" <alice@example.org>`, "alice@example.org", ""},
		{`"Alice @ home" <alice@example.org>`, "", "outside its address"},
		{"Alice (work) <alice@example.org>", "alice@example.org", ""},
		{"Alice (work (really)) <alice@example.org>", "alice@example.org", ""},
		{"(Alice) <alice@example.org> (work)", "alice@example.org", ""},
		{"alice@example.org (Alice Example)", "alice@example.org", ""},
		{"John Q. Public <jqp@example.org>", "jqp@example.org", ""},
		{"Alice<alice@example.org>", "alice@example.org", ""},
		{"Jörg Müller <jörg@müller.example>", "jörg@müller.example", ""},
		{"Alice\u00a0Example <alice@example.org>", "alice@example.org", ""},
		{"Ali\u200dce <alice@example.org>", "alice@example.org", ""},
		{"Alice\t<alice@example.org>", "alice@example.org", ""},
		{"O'Brien & Sons <a.b+tag@example.org>", "a.b+tag@example.org", ""},
		{"=?x?=@example.org", "=?x?=@example.org", ""},
		// The display name or a comment may repeat the address.
		{"alice@example.org <alice@example.org>", "alice@example.org", ""},
		{`"alice@EXAMPLE.org" <alice@example.org>`, "alice@example.org", ""},
		{"Alice (alice@example.org) <alice@example.org>", "alice@example.org", ""},
		// No address at all: nothing to report.
		{"Alice Example", "", ""},
		{"", "", ""},
		{"Alice (work)", "", ""},
		{`"<not an address>"`, "", ""},
		{"Alice, Bob; Carol: [x]", "", ""},
		// More than one address.
		{"<alice@example.org> <eve@evil.org>", "", "names more than one address"},
		{"Eve <eve@evil.org>, Alice <alice@example.org>", "", "names more than one address"},
		{"alice@example.org <eve@evil.org>", "", "names more than one address"},
		{`"alice@example.org" <eve@evil.org>`, "", "names more than one address"},
		{"Alice (alice@example.org) <eve@evil.org>", "", "names more than one address"},
		{"<eve@evil.org> (alice@example.org)", "", "names more than one address"},
		{"Eve (hi <alice@example.org>) <eve@evil.org>", "", "names more than one address"},
		{"alice@example.org eve@evil.org", "", "neither"},
		{"Alice alice@example.org", "", "neither"},
		{"alice\uFF20example.org <eve@evil.org>", "", "names more than one address"},
		{"alice\uFE6Bexample.org <eve@evil.org>", "", "names more than one address"},
		{"Alice @ Work <alice@example.org>", "", "outside its address"},
		{"<alice\uFF20example.org>", "", "outside its address"},
		{"alice@example.org eve", "", "neither"},
		// Encoded words, which a reader might show decoded.
		{"=?utf-8?q?alice=40example.org?= <eve@evil.org>", "", "encoded word"},
		{"Eve (=?utf-8?q?alice=40example.org?=) <eve@evil.org>", "", "encoded word"},
		// Brackets, parentheses, quotes.
		{"<<alice@example.org>>", "", "nested angle brackets"},
		{"<alice@example.org", "", `unbalanced "<"`},
		{"alice@example.org>", "", `unbalanced ">"`},
		{"Alice <alice@example.org> x", "", "text after its address"},
		{"Alice <alice@example.org>>", "", "text after its address"},
		{"Alice (work <alice@example.org>", "", `unbalanced "("`},
		{"Alice ) <alice@example.org>", "", `unbalanced ")"`},
		{`"Alice <alice@example.org>`, "", `unbalanced '"'`},
		{`<a@b> (x\`, "", `unbalanced "("`},
		{`"Alice \<a@b>`, "", `unbalanced '"'`},
		// Group syntax.
		{"Friends: alice@example.org;", "", "neither"},
		{"Friends: <alice@example.org>;", "", "text after its address"},
		// Unquoted specials in a display name that names one address, as
		// GnuPG writes them: the address is bound.
		{"Example, Alice <alice@example.org>", "alice@example.org", ""},
		{"Alice [work] <alice@example.org>", "alice@example.org", ""},
		{"Müller, Hans; Dr.: <hans@example.de>", "hans@example.de", ""},
		{"Example, Alice, eve@evil.org <alice@example.org>", "", "more than one address"},
		{"Example, Alice <alice@example.org>, Eve <eve@evil.org>", "", "more than one address"},
		// The address itself.
		{"<>", "", "empty address"},
		{"Alice <alice>", "", `without "@"`},
		{`<"alice@example.org"@evil.org>`, "", "quoted local part"},
		{`"alice@example.org"@evil.org`, "", "quoted local part"},
		{"<alice@example.org@evil.org>", "", `more than one "@"`},
		{"<@example.org>", "", "without a local part"},
		{"<alice@>", "", "without a local part or a domain"},
		{"<alice@[192.0.2.1]>", "", "domain literal"},
		{"<alice..x@example.org>", "", "empty dot-separated part"},
		{"<alice@example.org.>", "", "empty dot-separated part"},
		{"<alice@-example.org>", "", "hyphen"},
		{"< alice@example.org>", "", "in its address"},
		{"<alice @example.org>", "", "in its address"},
		{"<alice@exa mple.org>", "", "in the domain"},
		{"<alice(x)@example.org>", "", "in its address"},
		{"<alice\u3000@example.org>", "", "in its address"},
		{"<alice@example_org>", "", "in the domain"},
		// Characters that hide or rearrange what is shown.
		{"Alice \u202e<gro.elpmaxe@ecila>", "", "control, format or private-use"},
		{"<alice\u200b@example.org>", "", "control, format or private-use"},
		{"Alice\u2028 <alice@example.org>", "", "control, format or private-use"},
		{"Alice\x1b[2J <alice@example.org>", "", "control, format or private-use"},
		{"Alice\r\n <alice@example.org>", "", "control, format or private-use"},
		{"Alice\x00 <alice@example.org>", "", "control, format or private-use"},
		{"Alice\ue000 <alice@example.org>", "", "control, format or private-use"},
		{"Alice \xff<alice@example.org>", "", "not valid UTF-8"},
	} {
		addr, err := UserIDAddress(c.uid)
		if addr != c.addr {
			t.Errorf("%q: address %q, want %q (%v)", c.uid, addr, c.addr, err)
			continue
		}
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%q: unexpected error %v", c.uid, err)
		case c.reason != "" && (err == nil || !strings.Contains(err.Error(), c.reason)):
			t.Errorf("%q: error %v, want one saying %q", c.uid, err, c.reason)
		case err != nil && !strings.HasSuffix(err.Error(), "; it binds to none"):
			t.Errorf("%q: error %q does not say it binds to none", c.uid, err)
		}
	}
}

// The error names the user ID, shortened when long, and quoted so that
// nothing in it reaches a terminal raw.
func TestUserIDAddressErrorText(t *testing.T) {
	_, err := UserIDAddress("<alice@example.org> <eve@evil.org>")
	if want := `user ID "<alice@example.org> <eve@evil.org>" names more than one address; it binds to none`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	_, err = UserIDAddress("Eve\x1b]0;x\x07 <eve@evil.org>")
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07") {
		t.Fatalf("error %q", err)
	}
	long := strings.Repeat("ä", 5000) + " <a@x> <b@y>"
	_, err = UserIDAddress(long)
	if err == nil || len(err.Error()) > 400 || !strings.Contains(err.Error(), "bytes)") {
		t.Fatalf("error for a long user ID: %.500s", err)
	}
	var ue *UserIDError
	if !errors.As(err, &ue) || ue.UserID != long || ue.Reason != "names more than one address" {
		t.Fatalf("error %#v", err)
	}
}

// The reading is linear: the bytes examined grow with the length alone,
// for inputs made to provoke rescanning.
func TestUserIDAddressLinear(t *testing.T) {
	const n = 20000
	for _, unit := range []string{
		"(", ")", "((a)", `\(`, `"`, `\"`, "<", ">", "<a@b>", "@", "a@", "a@b ",
		"=?", "A <a@b>, ", "(a@b)", "alice@example.org ", `"a@b" `, "ä", "\uFF20", ".", "a.", "-.",
	} {
		for _, s := range lineartest.Mailboxes(unit, n) {
			p := uidParser{s: s}
			p.parse()
			if p.work > 6*len(s)+64 {
				t.Errorf("%d bytes of %q…: %d bytes examined", len(s), s[:16], p.work)
			}
		}
	}
}

func FuzzUserIDAddress(f *testing.F) {
	for _, s := range []string{
		"Alice <alice@example.org>", "<alice@example.org> <eve@evil.org>", "alice@example.org",
		`"Example, Alice" <alice@example.org>`, "Alice (work) <alice@example.org>",
		"Eve <eve@evil.org>, Alice <alice@example.org>", "alice@example.org <eve@evil.org>",
		"=?utf-8?q?a=40b?= <eve@evil.org>", "Friends: a@b;", `"a@b"@c`, "Alice \u202e<gro.elpmaxe@ecila>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uid string) {
		p := uidParser{s: uid}
		addr, err := p.parse()
		if p.work > 6*len(uid)+64 {
			t.Fatalf("%d bytes examined for %d bytes", p.work, len(uid))
		}
		if err != nil && addr != "" {
			t.Fatalf("address %q with error %v", addr, err)
		}
		if addr == "" {
			if err == nil && strings.ContainsAny(uid, "@\uFF20\uFE6B") {
				t.Fatalf("%q: an @, and neither an address nor an error", uid)
			}
			return
		}
		// A bound address is part of the user ID, has one "@", no space,
		// and binds itself, bare or in brackets.
		if !strings.Contains(uid, addr) || strings.Count(addr, "@") != 1 || strings.ContainsAny(addr, " \t<>()\"") {
			t.Fatalf("%q: bound address %q", uid, addr)
		}
		for _, again := range []string{addr, "<" + addr + ">", "Someone <" + addr + ">"} {
			if a, err := UserIDAddress(again); a != addr {
				t.Fatalf("%q binds %q, but %q binds %q (%v)", uid, addr, again, a, err)
			}
		}
		// A second address makes any user ID bind none, unless it is the
		// same address again.
		for _, more := range []string{uid + " <eve@evil.example>", uid + ", eve@evil.example", "eve@evil.example " + uid} {
			if a, _ := UserIDAddress(more); a != "" && !(SameAddress(a, "eve@evil.example") && SameAddress(addr, "eve@evil.example")) {
				t.Fatalf("%q binds %q", more, a)
			}
		}
	})
}

func BenchmarkUserIDAddress(b *testing.B) {
	uid := "Alice Example (work) <alice.example@mail.example.org>"
	b.SetBytes(int64(len(uid)))
	for i := 0; i < b.N; i++ {
		if a, err := UserIDAddress(uid); a == "" || err != nil {
			b.Fatal(err)
		}
	}
}

func TestSameAddress(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"alice@example.org", "alice@example.org", true},
		{"alice@example.org", "alice@EXAMPLE.Org", true},
		{"alice@example.org", "Alice@example.org", false},
		{"alice@example.org", "alice@example.org.", false},
		{"alice@müller.example", "alice@müller.example", true},
		{"alice@müller.example", "alice@MÜLLER.example", false},
		// Unicode case folding would turn these into ASCII letters.
		{"alice@\u212Aey.example", "alice@key.example", false},
		{"alice@example.org", "alice@example.or\u212A", false},
		{"alice@ſub.example", "alice@sub.example", false},
		{"alice", "alice", false},
		{"@example.org", "@example.org", false},
	} {
		if got := SameAddress(c.a, c.b); got != c.same {
			t.Errorf("SameAddress(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

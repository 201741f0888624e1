package mime

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/lineartest"
)

// TestMailboxesAsWritten reads From fields as mail is found: display
// names with unquoted specials, the obsolete syntax, raw 8-bit text, and
// fields that hold no address or several. Each gives the address and name
// a client shows; what is ambiguous gives more than one mailbox, and what
// has no address a mailbox with Address "".
func TestMailboxesAsWritten(t *testing.T) {
	type mb = Mailbox
	cases := []struct {
		in   string
		want []Mailbox
	}{
		// RFC 5322 as it should be.
		{`Alice Example <alice@example.org>`, []mb{{"Alice Example", "alice@example.org"}}},
		{`"Example, Alice" <alice@example.org>`, []mb{{"Example, Alice", "alice@example.org"}}},
		{`alice@example.org`, []mb{{"", "alice@example.org"}}},
		{`<alice@example.org>`, []mb{{"", "alice@example.org"}}},
		{`alice@example.org (Alice)`, []mb{{"Alice", "alice@example.org"}}},
		{`Alice (work) <alice@example.org> (home)`, []mb{{"Alice", "alice@example.org"}}},
		{`(Alice) <alice@example.org>`, []mb{{"Alice", "alice@example.org"}}},
		// Unquoted display names holding "@" and "." (what clients show).
		{`alice@example.org <alice@example.org>`, []mb{{"alice@example.org", "alice@example.org"}}},
		{`manager@example.org <eve@example.org>`, []mb{{"manager@example.org", "eve@example.org"}}},
		{"manager@example.org    . <eve@example.org>", []mb{{"manager@example.org .", "eve@example.org"}}},
		{`Alice . <alice@example.org>`, []mb{{"Alice .", "alice@example.org"}}},
		{`Dr. J. Doe <j@example.org>`, []mb{{"Dr. J. Doe", "j@example.org"}}},
		{`Doe, John <john@example.org>`, []mb{{"Doe", ""}, {"John", "john@example.org"}}},
		{`Alice [work] <alice@example.org>`, []mb{{"Alice [work]", "alice@example.org"}}},
		// Obsolete syntax: white space and comments in the address, routes,
		// quoted local parts.
		{`alice . smith @ example . org`, []mb{{"", "alice.smith@example.org"}}},
		{`Alice <alice (home) . smith @ (the domain) example.org>`, []mb{{"Alice", "alice.smith@example.org"}}},
		{`Alice <@relay.example.net:alice@example.org>`, []mb{{"Alice", "alice@example.org"}}},
		{`<@a.example,@b.example:alice@example.org>`, []mb{{"", "alice@example.org"}}},
		{`< @a.example , @b.example : alice@example.org >`, []mb{{"", "alice@example.org"}}},
		{`"alice"@example.org`, []mb{{"", "alice@example.org"}}},
		{`"alice"."smith"@example.org`, []mb{{"", "alice.smith@example.org"}}},
		{`Alice <"alice smith"@example.org>`, []mb{{"Alice", `"alice smith"@example.org`}}},
		{`<"eve@example.org"@evil.example>`, []mb{{"", `"eve@example.org"@evil.example`}}},
		{`"a,b"@example.org`, []mb{{"", `"a,b"@example.org`}}},
		{`alice@[192.0.2.1]`, []mb{{"", "alice@[192.0.2.1]"}}},
		{"Alice\r\n <alice@example.org>", []mb{{"Alice", "alice@example.org"}}},
		// Raw 8-bit display names: UTF-8, and Latin-1 where it is not UTF-8.
		{"Jörg Müller <joerg@example.de>", []mb{{"Jörg Müller", "joerg@example.de"}}},
		{"J\xf6rg M\xfcller <joerg@example.de>", []mb{{"Jörg Müller", "joerg@example.de"}}},
		{"\"J\xf6rg\" <joerg@example.de>", []mb{{"Jörg", "joerg@example.de"}}},
		{"=?utf-8?q?J=C3=B6rg?= <joerg@example.de>", []mb{{"Jörg", "joerg@example.de"}}},
		// Unclosed quotes, comments and brackets close at the end.
		{`Alice <alice@example.org`, []mb{{"Alice", "alice@example.org"}}},
		{`"Alice <alice@example.org>`, []mb{{"Alice <alice@example.org>", ""}}},
		{`alice@example.org (Alice`, []mb{{"Alice", "alice@example.org"}}},
		// No address: a name alone, an empty angle address, an empty group.
		{`The Manager`, []mb{{"The Manager", ""}}},
		{`The Manager <>`, []mb{{"The Manager", ""}}},
		{`Alice <alice>`, []mb{{"Alice", ""}}},
		{`undisclosed-recipients:;`, nil},
		{``, nil},
		{`<>`, nil},
		{`<`, nil},
		// Several addresses: each its own mailbox, never one picked.
		{`<alice@example.org> <eve@example.org>`, []mb{{"", "alice@example.org"}, {"", "eve@example.org"}}},
		{`alice@example.org eve@example.org`, []mb{{"", "alice@example.org"}, {"", "eve@example.org"}}},
		{`Alice <alice@example.org>, Eve <eve@example.org>`, []mb{{"Alice", "alice@example.org"}, {"Eve", "eve@example.org"}}},
		{`<alice@example.org> Eve`, []mb{{"", "alice@example.org"}, {"Eve", ""}}},
		{`Alice <alice@example.org, Eve <eve@example.org>`, []mb{{"Alice", "alice@example.org"}, {"Eve", "eve@example.org"}}},
		{`The Manager, eve@example.org`, []mb{{"The Manager", ""}, {"", "eve@example.org"}}},
		// Groups: their members, named by the group if they have no name.
		{`Team: alice@example.org, Bob <bob@example.org>;`, []mb{{"Team", "alice@example.org"}, {"Bob", "bob@example.org"}}},
		{`The Manager: eve@example.org;`, []mb{{"The Manager", "eve@example.org"}}},
		{`: eve@example.org;`, []mb{{"", "eve@example.org"}}},
	}
	for _, tc := range cases {
		got := Header{{Key: "From", Value: tc.in}}.Mailboxes("From")
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
			t.Errorf("%q:\n got  %q\n want %q", tc.in, got, tc.want)
		}
	}
}

// TestAddressesNeedsAnAddress: Addresses, what recipients are read with,
// refuses a mailbox without an address, naming it.
func TestAddressesNeedsAnAddress(t *testing.T) {
	_, err := Header{{Key: "To", Value: "alice@example.org, The Manager"}}.Addresses("To")
	if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), `"The Manager"`) {
		t.Fatalf("err %v, want ErrInput naming the mailbox", err)
	}
}

// TestMailboxesLinear: the reading examines each byte a bounded number of
// times, also for input made to provoke rescanning.
func TestMailboxesLinear(t *testing.T) {
	const n = 20000
	for _, unit := range []string{
		"(", ")", "((a)", `\(`, `"`, `\"`, "<", ">", "<a@b>", "@", "a@", "a@b ", "<@a,", "<@a,@b", "@a:",
		",", ";", ":", "a:", "=?", "A <a@b>, ", "(a@b)", "a . ", "a@b c@d ", "\xf6", "[", "@[", "(x)a",
	} {
		for _, s := range append(lineartest.Mailboxes(unit, n), "G: "+strings.Repeat(unit, n)+";") {
			if _, work := parseMailboxes(s); work > 8*len(s)+64 {
				t.Errorf("%d bytes of %q…: %d examined", len(s), s[:16], work)
			}
		}
	}
}

// A group's name is decoded once, however many mailboxes take it, and
// they share it: decoding it for each (as it was) made a From of 54 KB,
// a long encoded name over 2,000 mailboxes, take 1.5 s and 500 MB.
func TestGroupNameDecodedOnce(t *testing.T) {
	name := strings.Repeat("=?utf-8?q?Gr=C3=BC=C3=9Fe?= ", 2000) // 56 KB
	v := name + ":" + strings.Repeat("a@b.example, ", 2000) + ";"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	list, work := parseMailboxes(v)
	runtime.ReadMemStats(&after)
	if len(list) != 2000 || list[0].Name != strings.TrimSpace(strings.Repeat("Grüße", 2000)) || list[1999].Address != "a@b.example" {
		t.Fatalf("%d mailboxes, the first %.40q", len(list), list[0])
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 64*uint64(len(v)) {
		t.Errorf("%d bytes allocated reading %d", allocated, len(v))
	}
	if work > 8*len(v)+64 {
		t.Errorf("%d bytes: %d examined", len(v), work)
	}
	for _, m := range list {
		if unsafe.StringData(m.Name) != unsafe.StringData(list[0].Name) {
			t.Fatal("the mailboxes of the group do not share its name")
		}
	}
}

func FuzzMailboxes(f *testing.F) {
	for _, s := range []string{
		"Alice <alice@example.org>", "alice@example.org <eve@example.org>", "manager@x.example . <eve@x.example>",
		"The Manager", "<@a,@b:c@d>", `"a"."b"@c`, "a . b @ c . d (x)", "J\xf6rg <j@x>", "G: a@b, <c@d>;",
		"<a@b> <c@d>", `"unclosed <a@b>`, "(unclosed", "a@[1.2.3.4]", "=?utf-8?q?a=40b?= <c@d>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, work := parseMailboxes(v)
		if work > 8*len(v)+64 {
			t.Fatalf("%q: %d examined", v, work)
		}
		for _, b := range got {
			if !utf8.ValidString(b.Address) {
				t.Fatalf("%q: address %q is not UTF-8", v, b.Address)
			}
			if b.Address == "" && b.Name == "" {
				t.Fatalf("%q: an empty mailbox in %q", v, got)
			}
			if !strings.Contains(b.Address, `"`) && strings.ContainsAny(b.Address, "<>,") {
				t.Fatalf("%q: address %q holds a delimiter", v, b.Address)
			}
		}
		// An address read back alone is read as itself.
		for _, b := range got {
			if b.Address == "" || strings.ContainsAny(b.Address, " ()\\;:") || strings.HasPrefix(b.Address, "@") {
				continue
			}
			again, _ := parseMailboxes("<" + b.Address + ">")
			if len(again) != 1 || again[0].Address != b.Address {
				t.Fatalf("%q: address %q read back as %q", v, b.Address, again)
			}
		}
		// An address has an "@" outside quotes.
		for _, b := range got {
			if b.Address != "" && !strings.Contains(strings.TrimPrefix(b.Address, quotedPrefix(b.Address)), "@") {
				t.Fatalf("%q: address %q without an @", v, b.Address)
			}
		}
	})
}

// quotedPrefix is the quoted strings and dots an address starts with.
func quotedPrefix(a string) string {
	i := 0
	for i < len(a) && (a[i] == '"' || a[i] == '.') {
		if a[i] == '.' {
			i++
			continue
		}
		for i++; i < len(a) && a[i] != '"'; i++ {
			if a[i] == '\\' {
				i++
			}
		}
		i++
	}
	return a[:min(i, len(a))]
}

// Decoding an encoded word allocates in proportion to it, in a charset
// the standard library does not convert itself (windows-1252, through
// readCharset) and in one nobody knows: the standard library's decoder
// copied each word out through a buffer of 32 KiB (2.6 GB for a header
// of a megabyte of short words). A known charset's converter (x/text's
// transform.Reader) still has two buffers of 4 KiB for each word: perWord
// allows for them.
func TestDecodeWordsAllocation(t *testing.T) {
	for _, c := range []struct {
		word, want string
		perWord    uint64
	}{
		{"=?windows-1252?q?caf=E9?= ", "café", 10 << 10},
		{"=?x-nobody-knows?q?caf=E9?= ", "=?x-nobody-knows?q?caf=E9?=", 0},
	} {
		const n = 2000
		v := strings.Repeat(c.word, n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got := DecodeWords(v)
		runtime.ReadMemStats(&after)
		if !strings.HasPrefix(got, c.want) {
			t.Fatalf("%q…: %.40q", c.word, got)
		}
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 64*uint64(len(v))+n*c.perWord {
			t.Errorf("%q: %d bytes allocated decoding %d", c.word, allocated, len(v))
		}
	}
}

// An error quotes at most core.MaxQuote bytes of a sender's text.
func TestErrorsQuoteAtMost(t *testing.T) {
	_, err := Header{{Key: "Sender", Value: strings.Repeat("x", 1<<20)}}.Addresses("Sender")
	if err == nil || len(err.Error()) > 1024 {
		t.Errorf("a name without an address of 1 MiB: %d bytes of error", len(fmt.Sprint(err)))
	}
	long := strings.Repeat("b", 512<<10)
	if w := paramAmbiguity("multipart/mixed; boundary=" + long + "; boundary=" + long + "c"); w == "" || len(w) > 1024 {
		t.Errorf("a boundary of 512 KiB given twice: %d bytes", len(w))
	}
}

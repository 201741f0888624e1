package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/lineartest"
	"github.com/mailseal/mailseal/mime"
)

func header(fields ...string) mime.Header {
	var h mime.Header
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		h = append(h, mime.Field{Key: k, Value: v})
	}
	return h
}

func TestHeaderWarnings(t *testing.T) {
	const shown = "From display name shows an address (bob@example.org) that is not the sender (alice@example.org)"
	alice := header("From: Alice <alice@example.org>")
	for _, tc := range []struct {
		name             string
		outer, protected mime.Header
		want             []string
	}{
		{"plain", alice, nil, nil},
		{"protected, unchanged", alice, alice, nil},
		{"own address as name", header(`From: "Alice@Example.org" <alice@example.org>`), nil, nil},
		{"quoted address", header(`From: "bob@example.org" <alice@example.org>`), nil, []string{shown}},
		{"encoded word", header(`From: =?utf-8?q?bob=40example=2Eorg?= <alice@example.org>`), nil, []string{shown}},
		{"encoded word in quotes", header(`From: "=?utf-8?b?Ym9iQGV4YW1wbGUub3Jn?=" <alice@example.org>`), nil, []string{shown}},
		{"comment after the address", header(`From: alice@example.org (bob@example.org)`), nil, []string{shown}},
		{"comment in the name", header(`From: Alice (=?utf-8?q?bob=40example=2Eorg?=) <alice@example.org>`), nil, []string{shown}},
		{"within text", header(`From: "CEO bob@example.org." <alice@example.org>`), nil, []string{shown}},
		// The obsolete syntax's spaces and comments, as a client shows them
		// (review finding: these gave no warning).
		{"spaced address as name", header(`From: bob @ example . org <alice@example.org>`), nil, []string{shown}},
		{"quoted spaced address", header(`From: "bob @ example.org" <alice@example.org>`), nil, []string{shown}},
		{"comment in the local part", header(`From: bob(x)@example.org <alice@example.org>`), nil, []string{shown}},
		{"after a bad encoded word", header(`From: =?x?B?! "=?utf-8?q?bob=40example.org?=" <alice@example.org>`), nil, []string{shown}},
		{"fullwidth at in Shift_JIS", header(`From: =?shift_jis?B?Ym9igZdleGFtcGxlgURvcmc=?= <alice@example.org>`), nil, []string{shown}},
		{"fullwidth at in ISO-2022-JP", header(`From: =?iso-2022-jp?B?GyRCJVwlVhsoQiBib2IbJEIhdxsoQmV4YW1wbGUbJEIhJRsoQm9yZw==?= <alice@example.org>`), nil, []string{shown}},
		{"unknown charset", header(`From: =?x-unknown?q?bob=40example=2Eorg?= <alice@example.org>`), header(`From: =?x-unknown?q?Bob?= <alice@example.org>`),
			[]string{"From has encoded words in a charset mailseal cannot decode (x-unknown), checked as written: a client that decodes them may show an address there",
				`From display name differs: "=?x-unknown?q?bob=40example=2Eorg?=" outside, "=?x-unknown?q?Bob?=" in the protected header (a client may show either)`}},
		{"fullwidth at", header("From: \"bob\uFF20example\uFF0Eorg\" <alice@example.org>"), nil, []string{shown}},
		{"zero-width space in the domain", header("From: \"bob@exa\u200bmple.org\" <alice@example.org>"), nil, []string{shown}},
		{"zero-width space before the at", header("From: \"bob\u200b@example.org\" <alice@example.org>"), nil, []string{shown}},
		{"soft hyphen, encoded", header(`From: =?utf-8?q?bob=40exam=C2=ADple=2Eorg?= <alice@example.org>`), nil, []string{shown}},
		{"ideographic full stop", header("From: \"bob@example\u3002org\" <alice@example.org>"), nil,
			[]string{"From display name shows an address (bob@example.org) that is not the sender (alice@example.org)"}},
		{"Cyrillic look-alikes", header("From: \"bob@\u0435xample.org\" <alice@example.org>"), nil,
			[]string{"From display name shows an address (bob@\u0435xample.org) that is not the sender (alice@example.org)"}},
		{"own address with a zero-width joiner", header("From: \"alice@example.org\u200d\" <alice@example.org>"), nil, nil},
		{"right-to-left override", header("From: \"\u202egro.elpmaxe@bob\" <alice@example.org>"), nil,
			[]string{"From has characters that reorder the text shown (bidirectional controls): a client may show another address than the one it holds"}},
		{"right-to-left mark in a name", header("From: \"\u05d3\u05e0\u05d4\u200f\" <alice@example.org>"), nil, nil},
		{"in the protected header only", alice, header(`From: "bob@example.org" <alice@example.org>`),
			[]string{shown, `From display name differs: "Alice" outside, "bob@example.org" in the protected header (a client may show either)`}},
		{"no domain dot", header(`From: "Alice@Home" <alice@example.org>`), nil, nil},
		{"Sender", header("From: Alice <alice@example.org>", `Sender: "list@example.net" <owner@example.net>`), nil,
			[]string{"Sender display name shows an address (list@example.net) that is not the field's own address (owner@example.net)"}},
		{"name rewritten", header(`From: "CEO Bob Boss" <alice@example.org>`), alice,
			[]string{`From display name differs: "CEO Bob Boss" outside, "Alice" in the protected header (a client may show either)`}},
		{"name added", alice, header("From: alice@example.org"),
			[]string{`From display name differs: "Alice" outside, "" in the protected header (a client may show either)`}},
		{"folding and quoting alone", header(`From: "Alice"   <alice@example.org>`), alice, nil},
		{"address changed: not a name change", header("From: Bob <bob@example.org>"), alice, nil},
		{"Reply-To injected", header("From: Alice <alice@example.org>", "Reply-To: mallory@example.net"), alice,
			[]string{"Reply-To mallory@example.net is not the protected one (none): replies would go to an address the sender did not write"}},
		{"Reply-To changed", header("From: Alice <alice@example.org>", "Reply-To: mallory@example.net"),
			header("From: Alice <alice@example.org>", "Reply-To: Team <team@example.org>"),
			[]string{"Reply-To mallory@example.net is not the protected one (team@example.org): replies would go to an address the sender did not write"}},
		{"Reply-To protected", header("From: Alice <alice@example.org>", "Reply-To: Team <TEAM@example.org>"),
			header("From: Alice <alice@example.org>", "Reply-To: team@example.org"), nil},
		{"Reply-To removed outside", alice, header("From: Alice <alice@example.org>", "Reply-To: team@example.org"), nil},
		{"Reply-To without protection", header("From: Alice <alice@example.org>", "Reply-To: list@example.net"), nil,
			[]string{"Reply-To list@example.net is not the sender and not covered by the signature: replies would go there"}},
		{"Reply-To is the sender", header("From: Alice <alice@example.org>", "Reply-To: alice@example.org"), nil, nil},
		{"Reply-To unreadable", header("From: Alice <alice@example.org>", "Reply-To: mallory@example.net <"), nil,
			[]string{`Reply-To "mallory@example.net <" is not the sender and not covered by the signature: replies would go there`}},
		{"Reply-To unreadable outside", header("From: Alice <alice@example.org>", "Reply-To: mallory@example.net <"), alice,
			[]string{`Reply-To "mallory@example.net <" is not the protected one (none): replies would go to an address the sender did not write`}},
		{"Reply-To unreadable but protected", header("From: Alice <alice@example.org>", "Reply-To: team@example.org <"),
			header("From: Alice <alice@example.org>", "Reply-To:  team@example.org <"), nil},
		{"Reply-To reordered", header("From: Alice <alice@example.org>", "Reply-To: b@example.org, A@example.org"),
			header("From: Alice <alice@example.org>", "Reply-To: a@example.org, b@example.org"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := headerWarnings(tc.outer, tc.protected)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAddressesIn(t *testing.T) {
	for in, want := range map[string]string{
		"CEO bob@example.org Boss":         "bob@example.org",
		"<a.b+c@mail.example.org>, x@y.z.": "a.b+c@mail.example.org x@y.z",
		"@example.org, bob@, bob@host":     "",
		"a@b@c.d":                          "b@c.d",
		".bob.@-example.org-":              "bob@example.org",
		"bo\u0431@\u0435xample.org\u00e9":  "bo\u0431@\u0435xample.org\u00e9",
		"\xffbob@example.org\xff":          "bob@example.org",
	} {
		if got := strings.Join(addressesIn(in), " "); got != want {
			t.Errorf("addressesIn(%q) = %q, want %q", in, got, want)
		}
	}
	// Linear: each '@' looks only as far as the next.
	long := strings.Repeat("a@b.c@", 100000)
	if n := len(addressesIn(long)); n != 100000 {
		t.Fatalf("%d addresses", n)
	}
}

// signedByAlice is plainMsg with extra header fields, signed by the
// fixture's Alice with mailseal (Header Protection, hp="clear").
func signedByAlice(t *testing.T, f *fixture, extra string) []byte {
	t.Helper()
	msg := strings.Replace(plainMsg, "Subject: hi\r\n", "Subject: hi\r\n"+extra, 1)
	var signed bytes.Buffer
	if err := f.op.Sign(&signed, parse(t, []byte(msg)), f.alice); err != nil {
		t.Fatal(err)
	}
	return signed.Bytes()
}

// replaceOuter replaces the first line of msg that starts with prefix
// (in the outer header: the protected copy comes later) with line.
func replaceOuter(t *testing.T, msg []byte, prefix, line string) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + `.*\r\n`)
	loc := re.FindIndex(msg)
	if loc == nil {
		t.Fatalf("no %q line", prefix)
	}
	return append(append(append([]byte{}, msg[:loc[0]]...), line+"\r\n"...), msg[loc[1]:]...)
}

// openErr opens msg and returns the report, or the error.
func openErr(t *testing.T, f *fixture, msg []byte, opts Options) (*core.Report, error) {
	t.Helper()
	opts.Limits, opts.MemLimit = mime.DefaultLimits(), 1<<20
	res, err := Open(parse(t, msg), []Engine{f.op}, opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { res.Close() })
	return &res.Report, nil
}

// A display name or Reply-To changed in transit leaves the signature good,
// but says so in a warning (not only in outer_differs).
func TestMisleadingHeadersWarn(t *testing.T) {
	f := newFixture(t)
	signed := signedByAlice(t, f, "Reply-To: alice@example.org\r\n")
	var enc bytes.Buffer
	if err := f.op.Encrypt(&enc, parse(t, []byte(plainMsg)), []*openpgp.Entity{f.bob}, f.alice); err != nil {
		t.Fatal(err)
	}
	const shown = "From display name shows an address (bob@example.org) that is not the sender (alice@example.org)"
	for _, tc := range []struct {
		name     string
		msg      []byte
		decrypt  bool
		warnings []string
	}{
		{"quoted address", replaceOuter(t, signed, "From: ", `From: "bob@example.org" <alice@example.org>`), false, []string{shown, "From display name differs"}},
		{"encoded word", replaceOuter(t, signed, "From: ", "From: =?utf-8?q?bob=40example=2Eorg?= <alice@example.org>"), false, []string{shown, "From display name differs"}},
		{"CEO", replaceOuter(t, signed, "From: ", `From: "CEO Bob Boss" <alice@example.org>`), false,
			[]string{`From display name differs: "CEO Bob Boss" outside, "Alice" in the protected header`}},
		{"comment", replaceOuter(t, signed, "From: ", "From: alice@example.org (bob@example.org)"), false, []string{shown, "From display name differs"}},
		{"Reply-To", replaceOuter(t, signed, "Reply-To: ", "Reply-To: mallory@example.net"), false,
			[]string{"Reply-To mallory@example.net is not the protected one (alice@example.org)"}},
		{"encrypted, CEO", replaceOuter(t, enc.Bytes(), "From: ", `From: "CEO Bob Boss" <alice@example.org>`), true,
			[]string{`From display name differs: "CEO Bob Boss" outside, "Alice" in the protected header`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := openErr(t, f, tc.msg, Options{Decrypt: tc.decrypt})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != core.StatusGood || len(rep.Warnings) != len(tc.warnings) {
				t.Fatalf("status %s, warnings %q; want good and %q", rep.Status, rep.Warnings, tc.warnings)
			}
			for i, w := range tc.warnings {
				if !strings.HasPrefix(rep.Warnings[i], w) {
					t.Errorf("warning %d: %q, want %q...", i, rep.Warnings[i], w)
				}
			}
		})
	}
	// Unchanged: no warning.
	for _, msg := range [][]byte{signed, enc.Bytes()} {
		if rep, err := openErr(t, f, msg, Options{}); err != nil || rep.Status != core.StatusGood || len(rep.Warnings) != 0 {
			t.Fatalf("unchanged: %+v %v", rep, err)
		}
	}
}

var boundaryParam = regexp.MustCompile(`boundary="([^"]+)"`)

// alterStructure changes a signed message as the cases of
// TestUncoveredTextAndAmbiguity say.
func alterStructure(t *testing.T, msg []byte, how string) []byte {
	t.Helper()
	loc := boundaryParam.FindSubmatchIndex(msg)
	if loc == nil {
		t.Fatal("no boundary")
	}
	b := string(msg[loc[2]:loc[3]])
	param := func(extra string) []byte {
		return append(append(append([]byte{}, msg[:loc[1]]...), extra...), msg[loc[1]:]...)
	}
	body := bytes.Index(msg, []byte("\r\n\r\n")) + 4
	switch how {
	case "preamble":
		return append(append(append([]byte{}, msg[:body]...), "Wire 10,000 EUR to the account below today.\r\n"...), msg[body:]...)
	case "notice":
		return append(append(append([]byte{}, msg[:body]...), "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n"...), msg[body:]...)
	case "epilogue":
		return append(append([]byte{}, msg...), "\r\nP.S. Send me your password.\r\n"...)
	case "duplicate boundary":
		return param(`; boundary="other"`)
	case "boundary*":
		return param(`; boundary*=us-ascii''other`)
	case "same boundary twice":
		return param(`; boundary=` + b)
	case "second Content-Type after":
		return append(append(append([]byte{}, msg[:body-2]...), "Content-Type: text/plain\r\n"...), msg[body-2:]...)
	case "second Content-Type before":
		return append([]byte("Content-Type: text/plain\r\n"), msg...)
	}
	t.Fatalf("unknown alteration %q", how)
	return nil
}

// Text around the parts of a multipart/signed is not covered by its
// signature: a warning. A structure readers could take two ways is
// refused (unreadable input, exit 2), also inside encryption.
func TestUncoveredTextAndAmbiguity(t *testing.T) {
	f := newFixture(t)
	signed := signedByAlice(t, f, "")
	const (
		pre = `text before the first part of the multipart/signed is not covered by the signature: "Wire 10,000 EUR to the account below today."`
		epi = `text after the last part of the multipart/signed is not covered by the signature: "P.S. Send me your password."`
	)
	for _, tc := range []struct {
		how     string
		warning string // "" none; "refused": ErrInput
	}{
		{"preamble", pre},
		{"epilogue", epi},
		{"notice", ""},
		{"same boundary twice", ""},
		{"duplicate boundary", "refused"},
		{"boundary*", "refused"},
		{"second Content-Type after", "refused"},
		{"second Content-Type before", "refused"},
	} {
		altered := alterStructure(t, signed, tc.how)
		// Encrypted by whoever altered it: the signature inside still counts.
		enc := encryptRaw(t, f, altered)
		for _, layer := range []struct {
			name    string
			msg     []byte
			decrypt bool
		}{{"signed", altered, false}, {"inside encryption", enc, true}} {
			t.Run(tc.how+"/"+layer.name, func(t *testing.T) {
				if layer.decrypt && strings.HasPrefix(tc.how, "second Content-Type before") {
					t.Skip("the decrypted message is then text/plain, unsigned: no verdict depends on its structure")
				}
				rep, err := openErr(t, f, layer.msg, Options{Decrypt: layer.decrypt})
				if tc.warning == "refused" {
					if !errors.Is(err, core.ErrInput) || core.ExitCode(err) != core.ExitUsage ||
						!strings.Contains(err.Error(), "readers may take the message two ways") {
						t.Fatalf("report %+v, error %v; want refused as unreadable input", rep, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				if tc.warning != "" {
					want = []string{tc.warning}
				}
				if rep.Status != core.StatusGood || fmt.Sprintf("%q", rep.Warnings) != fmt.Sprintf("%q", want) {
					t.Fatalf("status %s, warnings %q; want good, %q", rep.Status, rep.Warnings, want)
				}
			})
		}
	}
}

// encryptRaw encrypts msg, byte for byte, to the fixture's Bob in a
// PGP/MIME multipart/encrypted message.
func encryptRaw(t *testing.T, f *fixture, msg []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	payload, err := mime.WriteEncrypted(&out, header("From: Alice <alice@example.org>"), pgpEncryptedType, pgpEncryptedType,
		[]byte("Version: 1\r\n"), "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	pt, err := f.op.Engine.Encrypt(payload, []*openpgp.Entity{f.bob}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pt.Write(msg)
	if err := pt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := payload.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestTextOf(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		more     bool
	}{
		{"", "", false},
		{" \r\n\t\r\n", "", false},
		{"\r\n  This\r\n is   it.\r\n\r\n", "This is it", true},
		{"\r\n This is. \r\n", "This is.", false},
		{"0123456789", "0123456789", false},
		{"0123456789A", "0123456789", true},
	} {
		text, more, err := textOf(strings.NewReader(tc.in), 10)
		if err != nil || text != tc.want || more != tc.more {
			t.Errorf("textOf(%q) = %q, %v, %v; want %q, %v", tc.in, text, more, err, tc.want, tc.more)
		}
	}
	// Text after a lot of white space is found; a long text is read only
	// as far as needed.
	text, _, _ := textOf(strings.NewReader(strings.Repeat(" \r\n", 1<<20)+"late"), 10)
	if text != "late" {
		t.Fatalf("late text: %q", text)
	}
	cr := &countingReader{r: strings.NewReader(strings.Repeat("x", 10<<20))}
	if _, more, _ := textOf(cr, maxNotice); !more || cr.n > 64<<10 {
		t.Fatalf("read %d bytes of a long text (more %v)", cr.n, more)
	}
	// The short preamble of a signed message costs no large buffer.
	notice := "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 50 {
		textOf(io.NewSectionReader(strings.NewReader(notice), 0, int64(len(notice))), maxNotice)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 50; per > 1<<10 {
		t.Fatalf("reading %d bytes of text allocates %d bytes", len(notice), per)
	}
}

// BenchmarkHeaderWarnings: a From field near the header size limit (1 MiB)
// full of encoded words and '@'; the work is linear in its size.
func BenchmarkHeaderWarnings(b *testing.B) {
	for _, tc := range []struct{ name, unit string }{
		{"encoded-words", "=?utf-8?q?a=40b.c?= "},
		{"bad-words", "=?x?B?! "},
		{"ats", "a@b.c@"},
	} {
		for _, size := range []int{64 << 10, 1 << 20} {
			name := strings.Repeat(tc.unit, size/len(tc.unit))
			h := header(`From: "`+name+`" <alice@example.org>`, `Reply-To: "`+name+`" <alice@example.org>`)
			b.Run(fmt.Sprintf("%s-%dKiB", tc.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(2 * len(name)))
				for b.Loop() {
					headerWarnings(h, h)
				}
			})
		}
	}
}

// The warnings about a header take time in proportion to it, whatever a
// sender puts in From or To (an attacker's read found each of these
// quadratic: 1 MiB of them took 18 s, 33 s and minutes; a review the last,
// many plain addresses: fieldKey checked the whole field for each).
// lineartest.Linear reads each shape at n and 8n.
func TestHeaderWarningsLinear(t *testing.T) {
	shapes := []struct {
		name, field string
		value       func(n int) string
	}{
		{"a display name showing many addresses", "From", func(n int) string {
			var b strings.Builder
			b.WriteString(`"`)
			for i := range n {
				b.WriteString(strconv.Itoa(i) + "@b.example ")
			}
			return b.String() + `" <x@y.example>`
		}},
		{"encoded words in many unknown charsets", "From", func(n int) string {
			var b strings.Builder
			for i := range n {
				b.WriteString("=?x" + strconv.Itoa(i) + "?q?a?=")
			}
			return b.String() + " <x@y.example>"
		}},
		{"a group whose long name many mailboxes take", "From", func(n int) string {
			return strings.Repeat("=?utf-8?q?Gr=C3=BC=C3=9Fe?= ", n/4) + ":" + strings.Repeat("a@b.example, ", n/4) + ";"
		}},
		{"a group's long name alternating with names of their own", "From", func(n int) string {
			return strings.Repeat("G", 4*n) + ":" + strings.Repeat("a@b.example, N <c@d.example>, ", n/8) + ";"
		}},
		{"many plain addresses", "To", func(n int) string {
			return strings.Repeat("Bob <b@example.org>, ", n/2) + "c@example.org"
		}},
	}
	for _, shape := range shapes {
		lineartest.Linear(t, shape.name, 4000, func(n int) func() {
			m := parse(t, []byte(shape.field+": "+shape.value(n)+"\r\nContent-Type: text/plain; hp=\"clear\"\r\n\r\nbody\r\n"))
			h := m.Root.Header.NonContentFields()
			return func() {
				headerWarnings(h, h)
				var rep core.Report
				if _, err := headerProtection(&rep, h, m.Root); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// A warning quotes at most core.MaxQuote bytes of each piece of a sender's
// text: the header is the sender's to write (a review: display names of
// 900 KB of control bytes, which %q makes four times as long, in sixteen
// warnings made 57.6 MB of them).
func TestWarningsQuoteAtMost(t *testing.T) {
	long := strings.Repeat("\x01", 900<<10)
	var pf, rt []string
	for i := range 16 {
		pf = append(pf, "P"+strconv.Itoa(i)+" <a@b.example>")
		rt = append(rt, "r"+strconv.Itoa(i)+"@elsewhere"+strconv.Itoa(i)+".example")
	}
	outer := mime.Header{
		{Key: "From", Value: long + ":" + strings.Repeat("a@b.example, ", 16) + ";"},
		{Key: "Reply-To", Value: strings.Repeat("x", 500<<10) + " <eve@example.net>"},
	}
	protected := mime.Header{{Key: "From", Value: strings.Join(pf, ", ")}, {Key: "Reply-To", Value: strings.Join(rt, ", ")}}
	warns := headerWarnings(outer, protected)
	total := 0
	for _, w := range warns {
		total += len(w)
	}
	if len(warns) == 0 || total > 64<<10 {
		t.Errorf("%d warnings, %d bytes", len(warns), total)
	}
	// Names compared whole, clipped only where quoted: alike in their
	// first 200 bytes (a review: zero-width spaces drawn as nothing) is
	// not the same name.
	pad := strings.Repeat("\u200b", 67)
	if w := headerWarnings(mime.Header{{Key: "From", Value: pad + "Bank Security <a@b.example>"}},
		mime.Header{{Key: "From", Value: pad + "Mallory <a@b.example>"}}); len(w) != 1 || !strings.Contains(w[0], "display name differs") || len(w[0]) > 1024 {
		t.Errorf("names alike in their first 200 bytes: %q", w)
	}
	// The warnings about the protected header's Reply-To: one for all.
	var rep core.Report
	rep.Status = core.StatusGood
	rep.Signers = []core.Signature{{Status: core.SignerGood, Names: []string{"P0"}}}
	sw := signerWarnings(&rep, outer, mime.Header{{Key: "From", Value: "P0 <a@b.example>"}, {Key: "Reply-To", Value: strings.Join(rt, ", ")}})
	if len(sw) != 1 || len(sw[0]) > 1024 {
		t.Errorf("%d warnings: %q", len(sw), sw)
	}
}

// White space in names counts only where it is ASCII's, as in the outer
// field's key: a From name with a no-break space or an Ogham space mark,
// drawn otherwise, is not the key's name.
func TestSignerNameSpaces(t *testing.T) {
	rep := core.Report{Status: core.StatusGood, Signers: []core.Signature{{Status: core.SignerGood, Names: []string{"Bob Smith"}}}}
	for _, name := range []string{"Bob Smith", "Bob  Smith", "Bob\u00a0Smith", "Bob\u1680Smith"} {
		w := signerWarnings(&rep, mime.Header{{Key: "From", Value: name + " <bob@example.org>"}}, nil)
		if want := !strings.HasPrefix(strings.ReplaceAll(name, "  ", " "), "Bob Smith"); (len(w) > 0) != want {
			t.Errorf("%q: warnings %q", name, w)
		}
	}
}

package flow

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/lineartest"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

const hpHead = "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\n" +
	"Message-ID: <hp@example.org>\r\nMIME-Version: 1.0\r\n"

const hpHTML = "<html><head><title>t</title></head><body>\r\n<p>Hello &amp; bye</p>\r\n</body></html>\r\n"

func hpBase64(s string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	return b.String() + enc + "\r\n"
}

// hpShapes are messages of each body shape; marked is how many parts
// Protect marks hp-legacy-display="1".
var hpShapes = []struct {
	name   string
	msg    string
	marked int
}{
	{"text/plain quoted-printable", hpHead + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Gr=C3=BC=C3=9Fe aus Berlin, with a soft=\r\n line break.\r\n", 1},
	{"text/plain base64", hpHead + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + hpBase64("Grüße aus Berlin.\r\n"), 1},
	{"text/html", hpHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + hpHTML, 1},
	{"text/html quoted-printable", hpHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><body class=3D\"x\"><p>Gr=C3=BC=C3=9Fe</p>=\r\n</body></html>\r\n", 1},
	{"multipart/alternative", hpHead + "Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello=20\r\nBob\r\n--alt\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + hpBase64(hpHTML) + "--alt--\r\n", 2},
	{"multipart/mixed with attachments", hpHead + "Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSee the notes.\r\n--mix\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\nContent-Disposition: attachment; filename=notes.txt\r\n\r\nnotes\r\n--mix\r\n" +
		"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--mix--\r\n", 1},
}

// TestLegacyDisplayRoundTrip: each body shape, encrypted (OpenPGP, signed
// or not, and S/MIME), carries the legacy display element in its Main Body
// Parts; decrypted, the message has every part's original bytes and no
// trace of the element or its marker.
func TestLegacyDisplayRoundTrip(t *testing.T) {
	f := newFixture(t)
	sf := newSMIMEFixture(t)
	engines := []struct {
		name    string
		encrypt func(*bytes.Buffer, *mime.Message) error
		open    Engine
	}{
		{"openpgp", func(w *bytes.Buffer, m *mime.Message) error { return f.op.Encrypt(w, m, []*openpgp.Entity{f.bob}, nil) }, f.op},
		{"openpgp signed", func(w *bytes.Buffer, m *mime.Message) error {
			return f.op.Encrypt(w, m, []*openpgp.Entity{f.bob}, f.alice)
		}, f.op},
		{"smime", func(w *bytes.Buffer, m *mime.Message) error {
			return sf.flow().Encrypt(w, m, []*x509.Certificate{sf.id.Cert}, smime.EncryptOptions{}, nil, smime.SignOptions{})
		}, sf.flow()},
	}
	for _, shape := range hpShapes {
		for _, eng := range engines {
			t.Run(shape.name+"/"+eng.name, func(t *testing.T) {
				var enc bytes.Buffer
				if err := eng.encrypt(&enc, parse(t, []byte(shape.msg))); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(enc.String(), "Subject: [...]\r\n") {
					t.Fatalf("outer header:\n%.400s", enc.String())
				}
				res, err := Open(parse(t, enc.Bytes()), []Engine{eng.open}, Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
				if err != nil {
					t.Fatal(err)
				}
				defer res.Close()
				if res.Report.HeaderProtection != mime.HPCipher || res.Report.Status == core.StatusBad {
					t.Fatalf("report %+v", res.Report)
				}
				marked := 0
				for _, e := range res.inner.Entities() {
					if e.Params[mime.LegacyDisplayParam] == "1" {
						marked++
					}
				}
				if marked != shape.marked {
					t.Fatalf("%d parts marked in the decrypted payload, want %d", marked, shape.marked)
				}
				var out bytes.Buffer
				if err := mime.WriteMessage(&out, res.Outer, res.Inner); err != nil {
					t.Fatal(err)
				}
				got := out.String()
				_, gotBody, _ := strings.Cut(got, "\r\n\r\n")
				wantHead, wantBody, _ := strings.Cut(shape.msg, "\r\n\r\n")
				if gotBody != wantBody {
					t.Fatalf("decrypted body:\n%q\nwant\n%q", gotBody, wantBody)
				}
				if strings.Contains(got, "legacy-display") || !strings.Contains(got, "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\n") {
					t.Fatalf("decrypted message:\n%s", got)
				}
				ct := wantHead[strings.Index(wantHead, "Content-Type:"):]
				if !strings.Contains(got, ct+"\r\n\r\n") {
					t.Fatalf("decrypted header:\n%s\nwant %q", got, ct)
				}
			})
		}
	}
}

// TestLegacyDisplayForgedMarker: a sender who marks a part of its own
// hp-legacy-display="1" (Protect adds nothing to a marked part) gets only
// the leading header block of that part hidden when it is opened.
func TestLegacyDisplayForgedMarker(t *testing.T) {
	f := newFixture(t)
	msg := hpHead + "Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n" +
		"Content-Type: text/plain; charset=us-ascii; hp-legacy-display=\"1\"\r\n\r\nSubject: fake\r\n\r\nDear Bob,\r\nTo: you\r\n\r\nthe rest\r\n--mix\r\n" +
		"Content-Type: text/plain; hp-legacy-display=\"1\"\r\n\r\nno header block here\r\n\r\nSubject: y\r\n\r\nend\r\n--mix--\r\n"
	var enc bytes.Buffer
	if err := f.op.Encrypt(&enc, parse(t, []byte(msg)), []*openpgp.Entity{f.bob}, nil); err != nil {
		t.Fatal(err)
	}
	res := open(t, f, enc.Bytes(), Options{Decrypt: true})
	var out bytes.Buffer
	if err := mime.WriteMessage(&out, res.Outer, res.Inner); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "fake") || !strings.Contains(got, "\r\n\r\nDear Bob,\r\nTo: you\r\n\r\nthe rest\r\n--mix") ||
		!strings.Contains(got, "\r\n\r\nno header block here\r\n\r\nSubject: y\r\n\r\nend\r\n--mix--") {
		t.Fatalf("decrypted message:\n%s", got)
	}
}

// TestEncryptKeepSubject: KeepSubject leaves the Subject outside, and puts
// no legacy display element in.
func TestEncryptKeepSubject(t *testing.T) {
	f := newFixture(t)
	op := *f.op
	op.KeepSubject = true
	var enc bytes.Buffer
	if err := op.Encrypt(&enc, parse(t, []byte(hpShapes[0].msg)), []*openpgp.Entity{f.bob}, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(enc.String(), "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from Alice\r\n") || strings.Contains(enc.String(), "[...]") {
		t.Fatalf("outer header:\n%.400s", enc.String())
	}
	res := open(t, f, enc.Bytes(), Options{Decrypt: true})
	if res.Report.HeaderProtection != mime.HPCipher || len(res.Report.OuterDiffers) > 0 {
		t.Fatalf("report %+v", res.Report)
	}
	for _, e := range res.inner.Entities() {
		if _, ok := e.Params[mime.LegacyDisplayParam]; ok {
			t.Fatalf("marked part %q", e.Path)
		}
	}
}

// An outer Subject, To, Cc or Date changed in transit is a warning, not
// only a name in OuterDiffers: a client that shows the outer header shows
// it beside a good signature. Signed (hp="clear") and encrypted
// (hp="cipher", where the outer Subject the sender left is "[...]").
func TestOuterFieldChangedWarns(t *testing.T) {
	f := newFixture(t)
	var signed, encrypted bytes.Buffer
	if err := f.op.Sign(&signed, parse(t, []byte(plainMsg)), f.alice); err != nil {
		t.Fatal(err)
	}
	if err := f.op.Encrypt(&encrypted, parse(t, []byte(plainMsg)), []*openpgp.Entity{f.bob}, f.alice); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, msg, outer, changed string
		decrypt                   bool
	}{
		{"signed", signed.String(), "Subject: hi\r\n", "Subject: URGENT wire money\r\n", false},
		{"signed, To", signed.String(), "To: Bob <bob@example.org>\r\n", "To: Bob <bob@example.org>, eve@example.net\r\n", false},
		{"encrypted", encrypted.String(), "Subject: [...]\r\n", "Subject: URGENT wire money\r\n", true},
	} {
		if !strings.Contains(c.msg, c.outer) {
			t.Fatalf("%s: test set-up: no %q outside", c.name, c.outer)
		}
		res := open(t, f, []byte(c.msg), Options{Decrypt: c.decrypt})
		if res.Report.Status != core.StatusGood || len(res.Report.Warnings) != 0 || len(res.Report.OuterDiffers) != 0 {
			t.Fatalf("%s as sent: %+v", c.name, res.Report)
		}
		key, _, _ := strings.Cut(c.changed, ":")
		res = open(t, f, []byte(strings.Replace(c.msg, c.outer, c.changed, 1)), Options{Decrypt: c.decrypt})
		w := strings.Join(res.Report.Warnings, "\n")
		if res.Report.Status != core.StatusGood || !strings.Contains(w, "the outer "+key+" is not what the sender wrote") {
			t.Fatalf("%s changed: status %s, warnings %q", c.name, res.Report.Status, res.Report.Warnings)
		}
		// The field taken out altogether (a review: a removed To or
		// Subject was neither a warning nor in outer_differs).
		res = open(t, f, []byte(strings.Replace(c.msg, c.outer, "", 1)), Options{Decrypt: c.decrypt})
		w = strings.Join(res.Report.Warnings, "\n")
		if res.Report.Status != core.StatusGood || !strings.Contains(w, "the outer "+key+" was removed in transit") || !slices.Contains(res.Report.OuterDiffers, key) {
			t.Fatalf("%s removed: status %s, warnings %q, outer_differs %q", c.name, res.Report.Status, res.Report.Warnings, res.Report.OuterDiffers)
		}
	}
}

// A relay or a list may write an outer field again without changing what
// a reader sees: white space, quotes, the case of a domain, an encoded
// word, a Date in another zone. None of that is a warning or in
// OuterDiffers; a change a reader sees still is (a review: every
// re-rendering of To or Subject warned as if it had been changed).
func TestOuterFieldRewrittenSameShown(t *testing.T) {
	f := newFixture(t)
	const msg = "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>, carol@example.org\r\n" +
		"Cc: \"Dave D.\" <dave@example.org>\r\nSubject: Gr\xc3\xbc\xc3\x9fe aus Berlin\r\nDate: Mon, 07 Dec 2026 10:00:00 +0100\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob.\r\n"
	var signed bytes.Buffer
	if err := f.op.Sign(&signed, parse(t, []byte(msg)), f.alice); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		outer, rewritten string
		same             bool
	}{
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob<bob@example.org>,carol@example.org\r\n", true},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: \"Bob\" <bob@EXAMPLE.org>,\r\n  <carol@example.org>\r\n", true},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: =?utf-8?q?Bob?= <bob@example.org>, carol@example.org\r\n", true},
		{"Cc: \"Dave D.\" <dave@example.org>\r\n", "Cc: \"Dave  D.\"  <dave@example.org>\r\n", true},
		{"Subject: Gr\xc3\xbc\xc3\x9fe aus Berlin\r\n", "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin\r\n", true},
		{"Subject: Gr\xc3\xbc\xc3\x9fe aus Berlin\r\n", "Subject: =?utf-8?b?R3LDvMOfZSBhdXMgQmVybGlu?=\r\n", true},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n", true},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: 7 Dec 2026 10:00:00 +0100\r\n", true},
		// A comment added is text a client that shows the Date as written
		// shows (a review: "(resent Friday the eleventh)" compared equal).
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: 7 Dec 2026 10:00:00 +0100 (CET)\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 10:00:00 +0100 (resent Friday the eleventh)\r\n", false},
		// What a reader sees changed.
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob <bob@example.org>\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: carol@example.org, Bob <bob@example.org>\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Boss <bob@example.org>, carol@example.org\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob <BOB@example.org>, carol@example.org\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob <bob@example.org> (cc: eve@example.net), carol@example.org\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob (eve@example.net) <bob@example.org>, carol@example.org\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob <bob@example.org>, carol@example.org (Carol)\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob (fired) <bob@example.org>, carol@example.org\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob\\(fired) <bob@example.org>, carol@example.org\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: \"Bob (IT)\" <bob@example.org>, carol@example.org\r\n", false},
		{"To: Bob <bob@example.org>, carol@example.org\r\n", "To: Bob <bob@example.org> (carol@example.org), carol@example.org\r\n", false},
		{"Cc: \"Dave D.\" <dave@example.org>\r\n", "Cc: \"Dave (D.)\" <dave@example.org>\r\n", false},
		{"Subject: Gr\xc3\xbc\xc3\x9fe aus Berlin\r\n", "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Paris\r\n", false},
		{"Subject: Gr\xc3\xbc\xc3\x9fe aus Berlin\r\n", "Subject: [list] Gr\xc3\xbc\xc3\x9fe aus Berlin\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: soon\r\n", false},
		// A zone name a client reads as another offset, text after the
		// zone, a day of the week that is not the date's (a review:
		// net/mail's lenient reading took each for the protected instant).
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 09:00:00 PST\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 09:00:00 XYZT\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 10:00:00 +0100 and a week later\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 10:00:00 +01001200\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Fri, 07 Dec 2026 10:00:00 +0100\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 09:00 GMT\r\n", true},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 7 Dec 2026 09:00:00 UTC\r\n", true},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: 1796634000000000000\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 10:00:00 +0100 (resent Fri, 11 Dec 2026 10:00 +0100)\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Tue, 08 Dec 2026 09:00:00 +2400\r\n", false},
		{"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n", "Date: Mon, 07 Dec 2026 10:00:00.000 +0100\r\n", false},
	} {
		if !strings.Contains(signed.String(), c.outer) {
			t.Fatalf("test set-up: no %q outside", c.outer)
		}
		res := open(t, f, []byte(strings.Replace(signed.String(), c.outer, c.rewritten, 1)), Options{})
		key, _, _ := strings.Cut(c.outer, ":")
		warned := strings.Contains(strings.Join(res.Report.Warnings, "\n"), "the outer "+key+" is not what the sender wrote")
		if res.Report.Status != core.StatusGood || warned == c.same || slices.Contains(res.Report.OuterDiffers, key) == c.same {
			t.Errorf("%q: status %s, warnings %q, outer_differs %q", c.rewritten, res.Report.Status, res.Report.Warnings, res.Report.OuterDiffers)
		}
	}
	// The warning quotes the protected Subject decoded.
	res := open(t, f, []byte(strings.Replace(signed.String(), "Subject: Gr", "Subject: Re: Gr", 1)), Options{})
	if w := strings.Join(res.Report.Warnings, "\n"); !strings.Contains(w, `(the protected header has "Grüße aus Berlin")`) {
		t.Errorf("warnings %q", res.Report.Warnings)
	}
}

// Comparing the outer header with the protected one costs one look-up a
// field: a header of a megabyte holds some 150,000 fields, and comparing
// each with every one (as it did) took 8 s for 80,000 (lineartest.Linear:
// 10,000 and 80,000 fields).
func TestHeaderProtectionManyFields(t *testing.T) {
	lineartest.Linear(t, "fields", 10000, func(n int) func() {
		var h strings.Builder
		for i := range n {
			h.WriteString(strconv.FormatInt(int64(i), 36) + ": v\r\n")
		}
		m := parse(t, []byte(h.String()+"Content-Type: text/plain; hp=\"clear\"\r\n\r\nbody\r\n"))
		outer := m.Root.Header.NonContentFields()
		return func() {
			var rep core.Report
			if _, err := headerProtection(&rep, outer, m.Root); err != nil {
				t.Fatal(err)
			}
			if rep.HeaderProtection != "clear" || len(rep.OuterDiffers) != 0 {
				t.Fatalf("%d fields: %+v", n, rep)
			}
		}
	})
}

// An address field with a comment is compared as written: where its
// comments stand is the parser's to say, and a second reading of them
// (reviews) was fooled by encoded parentheses, semicolons, routes and
// domain literals. Each pair here is shown differently and must not
// compare equal.
func TestFieldKeyComments(t *testing.T) {
	for _, c := range [][2]string{
		{"Carol <carol@example.org> (fired), Bob <bob@example.org>", "Carol <carol@example.org>, Bob <bob@example.org> (fired)"},
		{"Alice <alice@example.org> (CEO), Bob (intern) <bob@example.org>", "Alice <alice@example.org>, Bob (CEO) <bob@example.org> (intern)"},
		{"Bob (x) <bob@example.org>", "Bob <bob@example.org> (x)"},
		{`Bob\(hired) <bob@example.org>`, `Bob\(fired as of today) <bob@example.org>`},
		{"Bob (x=?utf-8?q?=29_1=3E=28y?=) <bob@e.org>, <carol@e.org>", "Bob (x) <bob@e.org>, <carol@e.org> (y)"},
		{"a@x (c) b@y", "a@x b@y (c)"},
		{"<a@x> (c); <b@y>", "<a@x>; <b@y> (c)"},
		{"Al <@x,@y:a@b> (c), Bo <d@e>", "Al <@x:a@b>, Bo <d@e> (c)"},
		{`a@[1"2], Bob (fired) <bob@e.org>`, `a@[1"2], Bob <bob@e.org>`},
		// Groups, routes and brackets that do not pair: text no mailbox
		// holds (a sixth review).
		{"Bob <bob@example.org>", `"Payment of $5,000 approved; reply to confirm": Bob <bob@example.org>;`},
		{"Bob <bob@example.org>", "Bob <bob@example.org>, Board and all auditors:;"},
		{"Bob <bob@example.org>", "Bob: bob@example.org;"},
		{"Bob <bob@example.org>", "Bob <@evil.example:bob@example.org>"},
		{"Bob <bob@example.org>", "Bob <bob@example.org>>"},
		// Spaces other than ASCII's are drawn otherwise.
		{"Bob Smith <bob@example.org>", "Bob\u1680Smith <bob@example.org>"},
		{"Bob Smith <bob@example.org>", "Bob\u2028Smith <bob@example.org>"},
	} {
		if a, b := fieldKey("To", c[0]), fieldKey("To", c[1]); a == b {
			t.Errorf("%q and %q: one key %q", c[0], c[1], a)
		}
	}
	if a, b := fieldKey("Date", "Mon, 07 Dec 2026 10:00:00 +0100 ()"), fieldKey("Date", "Mon, 07 Dec 2026 10:00:00 +0100"); a == b {
		t.Errorf("a Date with an empty comment and without: one key %q", a)
	}
	if k := fieldKey("To", "Bob (x) <bob@example.org>"); !strings.HasPrefix(k, "to:written:") {
		t.Errorf("a field with a comment: %q", k)
	}
	// Without comments, re-rendering keeps the key.
	if a, b := fieldKey("To", `Bob <bob@example.org>,carol@example.org`), fieldKey("To", "\"Bob\"  <bob@Example.ORG>,\r\n carol@example.org"); a != b {
		t.Errorf("re-rendered: %q, %q", a, b)
	}
}

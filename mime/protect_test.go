package mime

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// TestProtectLegacyDisplay: the Legacy Display Element shows the hidden
// Subject decoded, also from a legacy charset, a word in an unknown charset
// as written, and the Subject as written in the header where the decoded
// text cannot stand in the part (non-ASCII in a us-ascii part).
func TestProtectLegacyDisplay(t *testing.T) {
	const cp1252 = "=?windows-1252?Q?Re=3A_Git_hangs_at_=93Writing_objects=3A_11=25?= =?windows-1252?Q?=94?="
	const utf8Body = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
	const asciiBody = "Content-Type: text/plain; charset=us-ascii\r\n"
	for _, tc := range []struct{ name, subject, content, want string }{
		{"utf-8 8bit", cp1252, utf8Body, "Subject: Re: Git hangs at “Writing objects: 11%”\r\n\r\nbody\r\n"},
		{"us-ascii 7bit", cp1252, asciiBody, "Subject: " + cp1252 + "\r\n\r\nbody\r\n"},
		{"unknown charset", "=?x-unknown?q?a?= =?utf-8?q?b?=", asciiBody, "Subject: =?x-unknown?q?a?= b\r\n\r\nbody\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, "From: a@example.org\r\nSubject: "+tc.subject+"\r\nMIME-Version: 1.0\r\n"+tc.content+"\r\nbody\r\n")
			outer, payload := Protect(m, ProtectOptions{Encrypt: true})
			if got := outer.Get("Subject"); got != ObscuredSubject {
				t.Fatalf("outer Subject %q", got)
			}
			b, err := io.ReadAll(payload)
			if err != nil {
				t.Fatal(err)
			}
			_, body, _ := strings.Cut(string(b), "\r\n\r\n")
			if body != tc.want {
				t.Fatalf("body %q, want %q", body, tc.want)
			}
		})
	}
}

// TestProtectKeepSubject: with KeepSubject the Subject stays outside as it
// is, HP-Outer records it, and no part gets a legacy display element.
func TestProtectKeepSubject(t *testing.T) {
	m := mustParse(t, "From: a@example.org\r\nSubject: Plans\r\nKeywords: k\r\nContent-Type: text/plain\r\n\r\nbody\r\n")
	outer, payload := Protect(m, ProtectOptions{Encrypt: true, KeepSubject: true})
	if got := outer.Get("Subject"); got != "Plans" || outer.Get("Keywords") != "" {
		t.Fatalf("outer %+v", outer)
	}
	b, err := io.ReadAll(payload)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, "HP-Outer: Subject: Plans\r\n") || strings.Contains(s, LegacyDisplayParam) || !strings.HasSuffix(s, "\r\n\r\nbody\r\n") {
		t.Fatalf("payload %q", s)
	}
}

const legacyHead = "From: a@example.org\r\nTo: b@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_<&>?= and a subject long enough that its quoted-printable form needs a soft line break somewhere\r\nMIME-Version: 1.0\r\n"

const legacySubject = "Grüße <&> and a subject long enough that its quoted-printable form needs a soft line break somewhere"

// legacyShape is a message and where Protect is to put the element: for
// each Main Body Part its path, and the decoded offset the element goes
// in at; the parts to be left alone.
type legacyShape struct {
	name    string
	msg     string
	parts   map[string]int
	display map[string]string // what the element shows in a part, if not legacySubject in UTF-8
	alone   []string
}

func legacyShapes() []legacyShape {
	long := strings.Repeat("x", 30) + "<body class=3D\"a>b\">tail=\r\n"
	html := "<html><head><title>t</title></head><body style=\"x\">\r\n<p>Hello &amp; bye</p>\r\n</body></html>\r\n"
	b64 := func(s string) string { return wrappedBase64(s, 76) }
	html2 := strings.Replace(html, `style="x"`, `style="xy"`, 1) // the tag ends inside a group
	return []legacyShape{
		{name: "text/plain quoted-printable",
			msg: legacyHead + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
				"Gr=C3=BC=C3=9Fe aus Berlin, with a soft=\r\n line break.\r\n-- \r\nsig\r\n",
			parts: map[string]int{"": 0}},
		{name: "text/plain base64",
			msg: legacyHead + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				b64("Grüße aus Berlin.\r\n"),
			parts: map[string]int{"": 0}},
		{name: "text/plain iso-8859-1 8bit",
			msg:     legacyHead + "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe\r\n",
			parts:   map[string]int{"": 0},
			display: map[string]string{"": "Subject: Gr\xfc\xdfe <&> and a subject long enough that its quoted-printable form needs a soft line break somewhere"}},
		{name: "text/html 8bit",
			msg:   legacyHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + html,
			parts: map[string]int{"": strings.Index(html, "\r\n<p>")}},
		{name: "text/html us-ascii without a body tag",
			msg:     legacyHead + "Content-Type: text/html\r\n\r\n<p>Hi</p>\r\n",
			parts:   map[string]int{"": 0},
			display: map[string]string{"": "Subject: Gr&#252;&#223;e &lt;&amp;&gt; and a subject long enough that its quoted-printable form needs a soft line break somewhere"}},
		{name: "text/html quoted-printable, the body tag mid-line",
			msg:   legacyHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<html><head></head>" + long + " more text</body></html>\r\n",
			parts: map[string]int{"": len("<html><head></head>") + 30 + len(`<body class="a>b">`)}},
		{name: "text/html base64, the body tag inside a group",
			msg:   legacyHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(html),
			parts: map[string]int{"": strings.Index(html, "\r\n<p>")}},
		{name: "text/html base64, the body tag between groups",
			msg:   legacyHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(html2),
			parts: map[string]int{"": strings.Index(html2, "\r\n<p>")}},
		{name: "text/html base64, the group split by a line break: at the start",
			msg:   legacyHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrappedBase64(html2, 70),
			parts: map[string]int{"": 0}},
		{name: "text/html quoted-printable, no room for a soft break: at the start",
			msg:   legacyHead + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("y", 70) + "<body>\r\nHi\r\n",
			parts: map[string]int{"": 0}},
		{name: "multipart/alternative",
			msg: legacyHead + "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\npreamble\r\n--alt\r\n" +
				"Content-Type: text/plain; charset=utf-8;\r\n\tformat=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello=20\r\nworld\r\n--alt\r\n" +
				"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(html) + "\r\n--alt--\r\nepilogue\r\n",
			parts: map[string]int{"1": 0, "2": strings.Index(html, "\r\n<p>")}},
		{name: "multipart/mixed with attachments",
			msg: legacyHead + "Content-Type: multipart/mixed; boundary=mix\r\n\r\n--mix\r\n" +
				"Content-Type: text/plain; charset=us-ascii\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nSubject: not a display\r\n\r\n--mix\r\n" +
				"Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHallo\r\n--alt\r\n" +
				"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--alt--\r\n--mix\r\n" +
				"Content-Type: text/plain\r\n\r\nsecond text part\r\n--mix\r\nContent-Type: text/html; charset=utf-8\r\nContent-Disposition: attachment\r\n\r\n<p>x</p>\r\n--mix--\r\n",
			parts: map[string]int{"2.1": 0},
			alone: []string{"1", "2.2", "3", "4"}},
		{name: "text/plain iso-2022-jp (stateful, 7bit)",
			msg:     "From: a@example.org\r\nSubject: =?utf-8?b?5pel5pys6Kqe?=\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n\x1b$BF|K\\\x1b(B\r\n",
			parts:   map[string]int{"": 0},
			display: map[string]string{"": "Subject: \x1b$BF|K\\8l\x1b(B"}},
		{name: "multipart/related: the root",
			msg: legacyHead + "Content-Type: multipart/related; boundary=rel; type=\"text/html\"\r\n\r\n--rel\r\n" +
				"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(html2) +
				"--rel\r\nContent-Type: text/plain; charset=utf-8\r\nContent-ID: <t@x>\r\n\r\nnot the root\r\n--rel--\r\n",
			parts: map[string]int{"1": strings.Index(html2, "\r\n<p>")},
			alone: []string{"2"}},
		{name: "multipart/signed is left as it is",
			msg: legacyHead + "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; micalg=pgp-sha256; boundary=s\r\n\r\n--s\r\n" +
				"Content-Type: text/plain\r\n\r\nsigned\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--s--\r\n",
			alone: []string{"1", "2"}},
	}
}

// padded reports whether s is want and end, with up to two spaces of
// padding after want (HTML) or after its first ": " (text).
func padded(s, want, end string) bool {
	name, value, _ := strings.Cut(want, ": ")
	for _, pad := range []string{"", " ", "  "} {
		if s == want+pad+end || s == name+": "+pad+value+end {
			return true
		}
	}
	return false
}

func wrappedBase64(s string, width int) string {
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var b strings.Builder
	for len(enc) > width {
		b.WriteString(enc[:width] + "\r\n")
		enc = enc[width:]
	}
	return b.String() + enc + "\r\n"
}

// TestLegacyDisplayShapes: Protect puts the element into every Main Body
// Part, in its transfer encoding (checked with the standard library's
// strict decoders) and marked; attachments and other parts stay byte for
// byte; and WithoutLegacyDisplay gives back the original body exactly.
func TestLegacyDisplayShapes(t *testing.T) {
	for _, tc := range legacyShapes() {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.msg)
			_, payload := Protect(m, ProtectOptions{Encrypt: true})
			p := mustParse(t, readString(t, payload))
			for path, at := range tc.parts {
				orig, part := m.Find(path), p.Find(path)
				if part.Params[LegacyDisplayParam] != "1" {
					t.Fatalf("part %q: Content-Type %q", path, part.Header.Get("Content-Type"))
				}
				checkStrict(t, part)
				display := legacySubject
				if d, ok := tc.display[path]; ok {
					display = d
				} else {
					display = "Subject: " + display
				}
				want, end := display, "\r\n\r\n"
				if part.MediaType == "text/html" {
					if _, ok := tc.display[path]; !ok {
						display = "Subject: " + strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(legacySubject)
					}
					want, end = "<div class=\"header-protection-legacy-display\">\r\n<pre>"+display+"</pre>\r\n</div>", "\r\n"
				}
				before := readString(t, orig.Body())
				after := readString(t, part.Body())
				if at > len(before) || len(after) < len(before) || !strings.HasPrefix(after, before[:at]) || !strings.HasSuffix(after, before[at:]) ||
					!padded(after[at:len(after)-len(before)+at], want, end) {
					t.Fatalf("part %q decoded:\n%q\nwant %q at %d of\n%q", path, after, want, at, before)
				}
			}
			for _, path := range tc.alone {
				if got, want := readString(t, p.Find(path).Raw()), readString(t, m.Find(path).Raw()); got != want {
					t.Fatalf("part %q changed:\n%q\nwas\n%q", path, got, want)
				}
			}
			body, stripped, err := WithoutLegacyDisplay(p.Root)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := readString(t, body), readString(t, m.Root.RawBody()); got != want {
				t.Fatalf("after WithoutLegacyDisplay:\n%q\nwant\n%q", got, want)
			}
			if _, rootPart := tc.parts[""]; stripped != rootPart {
				t.Fatalf("stripped %v", stripped)
			}
		})
	}
}

// checkStrict decodes part with the standard library's decoders, which
// refuse what is not valid, and compares with Body.
func checkStrict(t *testing.T, part *Entity) {
	t.Helper()
	raw := readString(t, part.RawBody())
	var dec []byte
	var err error
	switch part.transferEncoding() {
	case "quoted-printable":
		for _, line := range strings.Split(raw, "\r\n") {
			if len(line) > 76 {
				t.Errorf("quoted-printable line of %d characters: %q", len(line), line)
			}
		}
		dec, err = io.ReadAll(quotedprintable.NewReader(strings.NewReader(raw)))
	case "base64":
		dec, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(raw, "\r\n", ""))
	default:
		return
	}
	if err != nil {
		t.Fatalf("%s: %v in\n%s", part.transferEncoding(), err, raw)
	}
	if got := readString(t, part.Body()); got != string(dec) {
		t.Fatalf("strict decoding differs:\n%q\n%q", dec, got)
	}
}

// TestLegacyDisplayMarkedBySender: a part marked hp-legacy-display="1" that
// Protect did not write loses its leading header block and nothing more,
// and nothing at all when it does not start with one; an HTML div that
// holds markup, or stands elsewhere, stays.
func TestLegacyDisplayMarkedBySender(t *testing.T) {
	for _, tc := range []struct{ name, content, body, want string }{
		{"two blocks", "text/plain", "Subject: x\r\n\r\nDear Bob,\r\nTo: you\r\n\r\nrest\r\n", "Dear Bob,\r\nTo: you\r\n\r\nrest\r\n"},
		{"no header block", "text/plain", "Dear Bob,\r\n\r\nSubject: x\r\n\r\nrest\r\n", "Dear Bob,\r\n\r\nSubject: x\r\n\r\nrest\r\n"},
		{"no blank line", "text/plain", "Subject: x\r\nTo: y\r\n", "Subject: x\r\nTo: y\r\n"},
		{"too many lines", "text/plain", strings.Repeat("A: b\r\n", legacyMaxLines+1) + "\r\nrest", strings.Repeat("A: b\r\n", legacyMaxLines+1) + "\r\nrest"},
		{"html div with markup", "text/html", "<div class=\"header-protection-legacy-display\">\r\n<pre><b>x</b></pre>\r\n</div>\r\n<p>rest</p>", "<div class=\"header-protection-legacy-display\">\r\n<pre><b>x</b></pre>\r\n</div>\r\n<p>rest</p>"},
		{"html div later", "text/html", "<p>a</p><div class=\"header-protection-legacy-display\">\r\n<pre>x</pre>\r\n</div>\r\n", "<p>a</p><div class=\"header-protection-legacy-display\">\r\n<pre>x</pre>\r\n</div>\r\n"},
		{"html div after body", "text/html", "<body><div class=\"header-protection-legacy-display\">\r\n<pre>x</pre>\r\n</div>\r\n<p>a</p><div class=\"header-protection-legacy-display\">\r\n<pre>y</pre>\r\n</div>\r\n", "<body><p>a</p><div class=\"header-protection-legacy-display\">\r\n<pre>y</pre>\r\n</div>\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, "Subject: s\r\nContent-Type: multipart/mixed; boundary=b; hp=\"cipher\"\r\n\r\n--b\r\nContent-Type: "+tc.content+
				"; hp-legacy-display=\"1\"\r\n\r\n"+tc.body+"\r\n--b\r\nContent-Type: text/plain; hp-legacy-display=\"1\"\r\nContent-Disposition: attachment\r\n\r\nA: b\r\n\r\nattached\r\n--b--\r\n")
			body, _, err := WithoutLegacyDisplay(p.Root)
			if err != nil {
				t.Fatal(err)
			}
			out := readString(t, body)
			first, _, _ := strings.Cut(out, "\r\n--b\r\n")
			if !strings.HasSuffix(first, "\r\n\r\n"+tc.want) {
				t.Fatalf("part:\n%q\nwant body\n%q", first, tc.want)
			}
			// Marked, the attachment too loses its leading header block, and
			// only that.
			if !strings.Contains(out, "Content-Disposition: attachment\r\n\r\nattached\r\n--b--") {
				t.Fatalf("attachment:\n%q", out)
			}
		})
	}
}

// FuzzLegacyDisplay: for any message, what Protect writes and
// WithoutLegacyDisplay reads back is the original body byte for byte.
func FuzzLegacyDisplay(f *testing.F) {
	for _, tc := range legacyShapes() {
		f.Add([]byte(tc.msg))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(bytes.ToLower(data), []byte(LegacyDisplayParam)) {
			return // a part marked by its sender loses its header block
		}
		m, err := Parse(bytes.NewReader(data), DefaultLimits(), 1<<20)
		if err != nil {
			return
		}
		defer m.Close()
		for _, part := range mainBodyParts(m.Root) {
			if part != m.Root && !part.Header.has("Content-Type") {
				return // it gets one (text/plain; charset=us-ascii) to carry the marker
			}
		}
		_, payload := Protect(m, ProtectOptions{Encrypt: true})
		b, err := io.ReadAll(payload)
		if err != nil {
			return
		}
		p, err := Parse(bytes.NewReader(b), DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatalf("the payload does not parse: %v\n%q", err, b)
		}
		defer p.Close()
		body, _, err := WithoutLegacyDisplay(p.Root)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if want := readString(t, m.Root.RawBody()); string(got) != want {
			t.Fatalf("round trip:\n%q\nwant\n%q\npayload\n%q", got, want, b)
		}
	})
}

// TestLegacyDisplayLargeParts: only the start of a part is read; a long
// line with no <body> tag in reach puts the element at the start.
func TestLegacyDisplayLargeParts(t *testing.T) {
	for _, tc := range []struct{ name, content, body string }{
		{"one long quoted-printable line", "text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable",
			strings.Repeat("<p>a=3D</p>", 400<<10) + "\r\n"},
		{"base64", "text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64", wrappedBase64(strings.Repeat("Grüße ", 300<<10), 76)},
		{"8bit html, the body tag too far", "text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit",
			"<head>" + strings.Repeat(" ", legacyBodySpan) + "</head><body>" + strings.Repeat("x", 1<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "From: a@example.org\r\nSubject: large\r\nContent-Type: " + tc.content + "\r\n\r\n" + tc.body
			m, err := Parse(strings.NewReader(msg), DefaultLimits(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			_, payload := Protect(m, ProtectOptions{Encrypt: true})
			p, err := Parse(payload, DefaultLimits(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if p.Root.Params[LegacyDisplayParam] != "1" {
				t.Fatalf("Content-Type %q", p.Root.Header.Get("Content-Type"))
			}
			if dec := readString(t, io.LimitReader(p.Root.Body(), 200)); !strings.HasPrefix(dec, "Subject: large") && !strings.HasPrefix(dec, "<div class=\"header-protection-legacy-display\">") {
				t.Fatalf("starts %q", dec)
			}
			body, stripped, err := WithoutLegacyDisplay(p.Root)
			if err != nil || !stripped {
				t.Fatal(err, stripped)
			}
			if readString(t, body) != tc.body {
				t.Fatal("round trip differs")
			}
		})
	}
}

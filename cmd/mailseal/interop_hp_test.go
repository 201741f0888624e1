package main

import (
	"bytes"
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
)

// hpReader prints each leaf part of the MIME message on stdin as Python's
// email package decodes it: media type, hp-legacy-display, and the
// decoded text (charset and transfer encoding applied), with LF line ends.
const hpReader = `
import sys, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
for p in m.walk():
    if p.is_multipart():
        continue
    text = p.get_content().replace("\r\n", "\n")
    print(p.get_content_type(), p.get_param("hp-legacy-display"), repr(text))
`

// TestHeaderProtectionInterop: the legacy display element mailseal puts in
// each alternative (quoted-printable text, base64 HTML) of an S/MIME
// message decrypted by openssl reads, through an independent MIME parser
// (Python's email package), as RFC 9788 shows it: the real Subject above
// the text, and in a div right after the <body> tag.
func TestHeaderProtectionInterop(t *testing.T) {
	p := newSMIMEPeers(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/test.sh installs it with python3-aiosmtpd)")
	}
	html := "<html><head><title>x</title></head><body style=\"margin:0\">\r\n<p>Gr\u00fc\u00dfe</p>\r\n</body></html>\r\n"
	msg := []byte("From: alice@example.org\r\nTo: bob@example.org\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_<ok>?=\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus Berlin, a soft=\r\n break.\r\n--alt\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(html)) + "\r\n--alt--\r\n")
	enc, _ := p.ms(msg, 0, "encrypt", "--smime")
	inner, err := p.opensslErr(enc, "cms", "-decrypt", "-recip", p.path("bob.pem"), "-inkey", p.path("bob.key"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", hpReader)
	cmd.Stdin = bytes.NewReader(inner)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := []string{
		`text/plain 1 'Subject: Grüße <ok>\n\nGrüße aus Berlin, a soft break.'`,
		`text/html 1 '<html><head><title>x</title></head><body style="margin:0"><div class="header-protection-legacy-display">\n<pre>Subject: Grüße &lt;ok&gt;</pre>\n</div>\n\n<p>Grüße</p>\n</body></html>\n'`,
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("python reads:\n%s\nwant\n%s", out, strings.Join(want, "\n"))
	}
	// And mailseal gives the message back as it was.
	dec, _ := p.ms(enc, 0, "decrypt")
	if _, body, _ := bytes.Cut(dec, []byte("\r\n\r\n")); !bytes.Equal(body, msg[bytes.Index(msg, []byte("\r\n\r\n"))+4:]) {
		t.Fatalf("decrypted:\n%s", dec)
	}
}

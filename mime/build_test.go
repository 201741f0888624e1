package mime

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	mrand "math/rand"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

const testSignature = "-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n"

// signMessage runs WriteSigned over Content(true) of the parsed input and
// returns the output and the bytes that were hashed.
func signMessage(t *testing.T, in string) (out, hashed []byte, m *Message) {
	t.Helper()
	m = mustParse(t, in)
	var w, h bytes.Buffer
	err := WriteSigned(&w, m.Root.Header.NonContentFields(), "application/pgp-signature", "pgp-sha512",
		m.Content(true), &h, Header{{Key: "Content-Type", Value: `application/pgp-signature; name="signature.asc"`}},
		func() ([]byte, error) { return []byte(testSignature), nil })
	if err != nil {
		t.Fatalf("WriteSigned: %v", err)
	}
	return w.Bytes(), h.Bytes(), m
}

// assertCRLF fails if data has a bare CR or LF.
func assertCRLF(t *testing.T, data []byte) {
	t.Helper()
	if bytes.Count(data, []byte("\n")) != bytes.Count(data, []byte("\r\n")) || bytes.Count(data, []byte("\r")) != bytes.Count(data, []byte("\r\n")) {
		t.Error("output has bare CR or LF")
	}
}

// assertHeaderLines checks that the header block of data has no line of 78 characters or more.
func assertHeaderLines(t *testing.T, header []byte) {
	t.Helper()
	for _, l := range bytes.Split(header, []byte("\r\n")) {
		if len(l) >= 78 {
			t.Errorf("header line of %d characters: %q", len(l), l)
		}
	}
}

func TestWriteSignedRoundTrip(t *testing.T) {
	cases := []struct{ name, in string }{
		{"lf only mbox", readFile(t, "testdata/pgp-signed-thunderbird.eml")},
		{"html alternative", readFile(t, "testdata/html-alternative.eml")},
		{"8bit attachment (re-encoded)", readFile(t, "testdata/attachment-8bit.eml")},
		{"folded headers", "From: a@example.org\nSubject: a long\n subject\nContent-Type: text/plain;\n\tcharset=us-ascii;\n format=flowed\n\nbody\n"},
		{"quoted-printable", "From: a@example.org\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9=\nsoft\n"},
		{"base64", "From: a@example.org\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQF\nBgcICQ==\n"},
		{"trailing whitespace lines", "From: a@example.org\n\nline with trailing space \ntab\t\n   \n\t\n\n\n"},
		{"no final line break", "From: a@example.org\n\nno newline at the end"},
		{"cr only", "From: a@example.org\rSubject: x\r\rbody\rmore\r"},
		{"header only", "From: a@example.org"},
		{"body starting with a delimiter-like line", "From: a@example.org\nContent-Type: text/plain\n\n--\n-- \n------=_mailseal_\n"},
		// Large enough to be hashed on a goroutine of its own.
		{"large", "From: a@example.org\nContent-Type: text/plain\n\n" + strings.Repeat("a line of text that goes on\n", 20000)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, hashed, m := signMessage(t, tc.in)
			assertCRLF(t, out)
			signedIn := readString(t, m.Content(true))
			if string(hashed) != signedIn {
				t.Fatalf("hashed bytes differ from the signed content\n got %q\nwant %q", hashed, signedIn)
			}
			p := mustParse(t, string(out))
			checkInvariants(t, p)
			if p.Root.MediaType != "multipart/signed" || p.Root.Params["protocol"] != "application/pgp-signature" ||
				p.Root.Params["micalg"] != "pgp-sha512" || !strings.HasPrefix(p.Root.Params["boundary"], boundaryPrefix) {
				t.Fatalf("root %s %v", p.Root.MediaType, p.Root.Params)
			}
			if len(p.Root.Children) != 2 {
				t.Fatalf("%d children", len(p.Root.Children))
			}
			// What a verifier hashes is exactly what was signed.
			if raw := readString(t, p.Root.Children[0].Raw()); raw != string(hashed) {
				t.Fatalf("first child's Raw differs from the hashed bytes\n got %q\nwant %q", raw, hashed)
			}
			sig := p.Root.Children[1]
			if sig.MediaType != "application/pgp-signature" || sig.Params["name"] != "signature.asc" {
				t.Errorf("signature part %s %v", sig.MediaType, sig.Params)
			}
			if got := readString(t, sig.Body()); got != strings.ReplaceAll(testSignature, "\n", "\r\n") {
				t.Errorf("signature body %q", got)
			}
			// Outer fields are copied raw, in order, and MIME-Version is added.
			var wantHead bytes.Buffer
			for _, f := range m.Root.Header.NonContentFields() {
				wantHead.Write(f.Raw)
			}
			wantHead.WriteString("MIME-Version: 1.0\r\n")
			if !bytes.HasPrefix(out, wantHead.Bytes()) {
				t.Errorf("outer header not copied exactly:\n%q", out[:min(len(out), 400)])
			}
			head, _, _ := bytes.Cut(out, []byte("\r\n\r\n"))
			assertHeaderLines(t, head)
			if got := p.Root.Header.Values("Content-Type"); len(got) != 1 {
				t.Errorf("Content-Type fields %q", got)
			}
			if !bytes.HasSuffix(out, []byte("\r\n--"+p.Root.Params["boundary"]+"--\r\n")) {
				t.Errorf("no close delimiter at the end")
			}
		})
	}
}

func TestWriteSignedKeepsMIMEVersion(t *testing.T) {
	outer := Header{{Key: "MIME-Version", Value: "1.0", Raw: []byte("MIME-Version: 1.0 (mailseal)\r\n")},
		{Key: "Content-Type", Value: "text/plain", Raw: []byte("Content-Type: text/plain\r\n")},
		{Key: "X-Hand-Made", Value: "yes"}}
	var w bytes.Buffer
	err := WriteSigned(&w, outer, "application/pkcs7-signature", "sha-256", strings.NewReader("Content-Type: text/plain\r\n\r\nhi"),
		io.Discard, Header{{Key: "Content-Type", Value: "application/pkcs7-signature; name=smime.p7s"}}, func() ([]byte, error) { return []byte("MIIB"), nil })
	if err != nil {
		t.Fatal(err)
	}
	out := w.String()
	if strings.Count(out, "MIME-Version") != 1 || !strings.HasPrefix(out, "MIME-Version: 1.0 (mailseal)\r\nX-Hand-Made: yes\r\nContent-Type: multipart/signed") {
		t.Errorf("header:\n%s", out)
	}
	if strings.Count(out, "Content-Type: text/plain") != 1 {
		t.Error("outer Content-Type was written")
	}
	if !strings.Contains(out, "micalg=sha-256;") || !strings.Contains(out, `protocol="application/pkcs7-signature"`) {
		t.Errorf("parameters:\n%s", out)
	}
}

func TestWriteSignedErrors(t *testing.T) {
	sigErr := errors.New("no key")
	cases := []struct {
		name     string
		protocol string
		sigType  string
		signed   io.Reader
		sig      func() ([]byte, error)
		want     error
	}{
		{"header injection", "application/pgp-signature\r\nBcc: x@example.org", "a/b", strings.NewReader(""), nil, core.ErrUsage},
		{"empty type", "application/pgp-signature", "", strings.NewReader(""), nil, core.ErrUsage},
		{"signature fails", "application/pgp-signature", "a/b", strings.NewReader("x"), func() ([]byte, error) { return nil, sigErr }, sigErr},
		{"read fails", "application/pgp-signature", "a/b", failingReader{}, func() ([]byte, error) { return nil, nil }, nil},
		{"no signature function", "application/pgp-signature", "a/b", strings.NewReader("x"), nil, core.ErrUsage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteSigned(io.Discard, nil, tc.protocol, "pgp-sha256", tc.signed, io.Discard, Header{{Key: "Content-Type", Value: tc.sigType}}, tc.sig)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWriteSignedSignatureHeader(t *testing.T) {
	var w bytes.Buffer
	sigHeader := Header{{Key: "Content-Type", Value: "application/pkcs7-signature; name=smime.p7s"},
		{Key: "Content-Transfer-Encoding", Value: "base64"},
		{Key: "Content-Disposition", Value: "attachment; filename=smime.p7s"}}
	err := WriteSigned(&w, nil, "application/pkcs7-signature", "sha-256", strings.NewReader("Content-Type: text/plain\r\n\r\nhi"),
		io.Discard, sigHeader, func() ([]byte, error) { return []byte("TUlJQg==\r\n"), nil })
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, w.String())
	sig := m.Root.Children[1]
	if sig.MediaType != "application/pkcs7-signature" || sig.Header.Get("Content-Disposition") != "attachment; filename=smime.p7s" {
		t.Fatalf("signature part header: %v", sig.Header)
	}
	body, _ := io.ReadAll(sig.Body())
	if string(body) != "MIIB" {
		t.Fatalf("signature body %q", body)
	}
	bad := Header{{Key: "Content-Type", Value: "a/b"}, {Key: "X-Evil", Value: "a\r\nBcc: x"}}
	if err := WriteSigned(io.Discard, nil, "a/b", "sha-256", strings.NewReader("x"), nil, bad, func() ([]byte, error) { return nil, nil }); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("injection in the signature header: %v", err)
	}
}

func TestWriteBase64Part(t *testing.T) {
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	outer := Header{{Key: "From", Value: "a@example.org"}, {Key: "Content-Type", Value: "text/plain"}}
	var w bytes.Buffer
	pw, err := WriteBase64Part(&w, outer, Header{{Key: "Content-Type", Value: "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"}})
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(data[:5])
	pw.Write(data[5:])
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, w.String())
	if m.Root.MediaType != "application/pkcs7-mime" || m.Root.Params["smime-type"] != "enveloped-data" ||
		m.Root.Header.Get("From") != "a@example.org" || m.Root.Header.Get("MIME-Version") != "1.0" {
		t.Fatalf("header: %v", m.Root.Header)
	}
	for _, line := range strings.Split(strings.TrimSuffix(w.String(), "\r\n"), "\r\n") {
		if len(line) > 76 {
			t.Fatalf("line of %d characters", len(line))
		}
	}
	got, _ := io.ReadAll(m.Root.Body())
	if !bytes.Equal(got, data) {
		t.Fatal("body does not round-trip")
	}
}

func TestBoundaryGuard(t *testing.T) {
	cases := []struct {
		chunks []string
		fail   bool
	}{
		{[]string{"--B"}, true},
		{[]string{"-", "-", "B"}, true},
		{[]string{"text\r\n--B\r\n"}, true},
		{[]string{"text\r", "\n-", "-B--"}, true},
		{[]string{"text --B\r\n"}, false},
		{[]string{"--A\r\n- -B\r\n---B"}, false},
		{[]string{"--", "x", "\r\n--", "b"}, false},
	}
	for _, tc := range cases {
		g := newBoundaryGuard("B")
		var err error
		for _, c := range tc.chunks {
			if _, err = g.Write([]byte(c)); err != nil {
				break
			}
		}
		if (err != nil) != tc.fail {
			t.Errorf("%q: error %v, want failure %v", tc.chunks, err, tc.fail)
		}
		// Exit 2, in words that say what happened (no "unreadable input").
		if err != nil && (!errors.Is(err, core.ErrInput) || core.ExitCode(err) != core.ExitUsage ||
			!strings.HasSuffix(err.Error(), "try again (a new boundary is chosen each time)")) {
			t.Errorf("%q: %v", tc.chunks, err)
		}
	}
	b1, _ := newBoundary()
	b2, _ := newBoundary()
	if b1 == b2 || len(b1) > 70 || !strings.HasPrefix(b1, boundaryPrefix) {
		t.Errorf("boundaries %q %q", b1, b2)
	}
}

// The guard (with its fast path for chunks without '-') fails exactly when
// a line starts with the delimiter, however the content is chunked.
func TestBoundaryGuardMatchesReference(t *testing.T) {
	rng := mrand.New(mrand.NewSource(2))
	for n := 0; n < 5000; n++ {
		in := make([]byte, rng.Intn(60))
		for i := range in {
			in[i] = "-Bx\r\n"[rng.Intn(5)]
		}
		want := bytes.HasPrefix(in, []byte("--B")) || bytes.Contains(in, []byte("\n--B"))
		g := newBoundaryGuard("B")
		var err error
		for rest := in; len(rest) > 0 && err == nil; {
			k := 1 + rng.Intn(len(rest))
			_, err = g.Write(rest[:k])
			rest = rest[k:]
		}
		if (err != nil) != want {
			t.Fatalf("%q: error %v, want failure %v", in, err, want)
		}
	}
}

func TestWriteEncryptedRoundTrip(t *testing.T) {
	m := mustParse(t, "From: a@example.org\nTo: b@example.net\nBcc: secret@example.com\nSubject: x\nContent-Type: text/plain\n\nbody\n")
	var w bytes.Buffer
	payload, err := WriteEncrypted(&w, m.Root.Header.NonContentFields().Without("Bcc"), "application/pgp-encrypted",
		"application/pgp-encrypted", []byte("Version: 1\n"), `application/octet-stream; name="encrypted.asc"`)
	if err != nil {
		t.Fatal(err)
	}
	armored := "-----BEGIN PGP MESSAGE-----\n\nhQEMA1234\n=abcd\n-----END PGP MESSAGE-----\n"
	for _, chunk := range []string{armored[:10], armored[10:31], armored[31:]} {
		if _, err := io.WriteString(payload, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := payload.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := payload.Write([]byte("late")); err == nil {
		t.Error("write after Close succeeded")
	}
	out := w.Bytes()
	assertCRLF(t, out)
	if bytes.Contains(out, []byte("secret@")) {
		t.Error("Bcc leaked")
	}
	head, _, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	assertHeaderLines(t, head)
	p := mustParse(t, string(out))
	checkInvariants(t, p)
	if p.Root.MediaType != "multipart/encrypted" || p.Root.Params["protocol"] != "application/pgp-encrypted" || len(p.Root.Children) != 2 {
		t.Fatalf("root %s %v, %d children", p.Root.MediaType, p.Root.Params, len(p.Root.Children))
	}
	if c := p.Root.Children[0]; c.MediaType != "application/pgp-encrypted" || readString(t, c.Body()) != "Version: 1\r\n" {
		t.Errorf("control part %s %q", c.MediaType, readString(t, c.Body()))
	}
	if c := p.Root.Children[1]; c.MediaType != "application/octet-stream" || c.Params["name"] != "encrypted.asc" ||
		readString(t, c.Body()) != strings.ReplaceAll(armored, "\n", "\r\n") {
		t.Errorf("payload part %s %v %q", c.MediaType, c.Params, readString(t, c.Body()))
	}
	if got, _ := p.Root.Header.Addresses("To"); len(got) != 1 || got[0] != "b@example.net" {
		t.Errorf("To %v", got)
	}
	if _, err := WriteEncrypted(io.Discard, nil, "a/b", "a/b\n", nil, "c/d"); !errors.Is(err, core.ErrUsage) {
		t.Errorf("injection: %v", err)
	}
}

func TestWriteMessage(t *testing.T) {
	outer := Header{
		{Key: "From", Value: "a@example.org", Raw: []byte("From: a@example.org\r\n")},
		{Key: "Subject", Value: "x", Raw: []byte("Subject: folded\r\n x\r\n")},
	}
	cases := []struct{ name, entity, want string }{
		{"adds MIME-Version", "Content-Type: text/plain\r\n\r\nhello\r\n",
			"From: a@example.org\r\nSubject: folded\r\n x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n"},
		{"entity has MIME-Version", "MIME-Version: 1.0\nContent-Type: text/plain\n\nhello\n",
			"From: a@example.org\r\nSubject: folded\r\n x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n"},
		{"MIME-Version only in the body", "Content-Type: text/plain\n\nMIME-Version: 1.0\n",
			"From: a@example.org\r\nSubject: folded\r\n x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nMIME-Version: 1.0\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			if err := WriteMessage(&w, outer, strings.NewReader(tc.entity)); err != nil {
				t.Fatal(err)
			}
			if w.String() != tc.want {
				t.Errorf("\n got %q\nwant %q", w.String(), tc.want)
			}
		})
	}
	// Unwrapping a signed message gives back the original content.
	out, _, m := signMessage(t, readFile(t, "testdata/html-alternative.eml"))
	p := mustParse(t, string(out))
	var w bytes.Buffer
	if err := WriteMessage(&w, p.Root.Header.NonContentFields(), p.Root.Children[0].Raw()); err != nil {
		t.Fatal(err)
	}
	if w.String() != readString(t, m.Root.Raw()) {
		t.Errorf("unwrapped message differs from the original:\n%s", w.String())
	}
}

func TestWriteField(t *testing.T) {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	writeField(bw, "Content-Type", `multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature"; boundary="----=_mailseal_0123456789abcdef0123456789abcdef"`)
	bw.Flush()
	want := "Content-Type: multipart/signed; micalg=pgp-sha512;\r\n\tprotocol=\"application/pgp-signature\";\r\n\tboundary=\"----=_mailseal_0123456789abcdef0123456789abcdef\"\r\n"
	if b.String() != want {
		t.Errorf("\n got %q\nwant %q", b.String(), want)
	}
	for in, want := range map[string]string{"pgp-sha256": "pgp-sha256", "a/b": `"a/b"`, `x"y`: `"x\"y"`, "": `""`} {
		if got := formatParam(in); got != want {
			t.Errorf("formatParam(%q) = %q, want %q", in, got, want)
		}
	}
}

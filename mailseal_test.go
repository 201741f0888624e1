package mailseal_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// foreign is a Recipient and Signer of a type the engines do not know.
type foreign struct{}

func (foreign) Protocol() string    { return mailseal.ProtocolOpenPGP }
func (foreign) Fingerprint() string { return "F" }

func TestEncryptRefusesWhatItCannotDo(t *testing.T) {
	alice, bob := newKey("Alice <alice@example.org>"), newKey("Bob <bob@example.org>")
	carol := smime.Recipient{} // its protocol is all that is looked at first
	cases := []struct {
		name string
		to   []mailseal.Recipient
		opts []mailseal.Option
		want string
	}{
		{"none", nil, nil, "no recipients"},
		{"mixed", []mailseal.Recipient{pgp.Recipient{Entity: bob}, carol}, nil, "both OpenPGP and S/MIME"},
		{"signer of the other protocol", []mailseal.Recipient{pgp.Recipient{Entity: bob}},
			[]mailseal.Option{mailseal.SignWith(smime.Signer{})}, "the signer is smime but the recipients are openpgp"},
		{"foreign recipient", []mailseal.Recipient{foreign{}}, nil, "cannot encrypt to a mailseal_test.foreign"},
		{"foreign signer", []mailseal.Recipient{pgp.Recipient{Entity: bob}},
			[]mailseal.Option{mailseal.SignWith(foreign{})}, "cannot sign with a mailseal_test.foreign"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := parse(outgoing)
			defer msg.Close()
			var out bytes.Buffer
			err := mailseal.Encrypt(&out, msg, c.to, c.opts...)
			if !errors.Is(err, mailseal.ErrUsage) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Encrypt: %v, want a usage error saying %q", err, c.want)
			}
			if out.Len() != 0 {
				t.Errorf("Encrypt wrote %d bytes before failing", out.Len())
			}
		})
	}
	msg := parse(outgoing)
	defer msg.Close()
	for _, s := range []mailseal.Signer{nil, foreign{}} {
		if err := mailseal.Sign(&bytes.Buffer{}, msg, s); !errors.Is(err, mailseal.ErrUsage) {
			t.Errorf("Sign with %T: %v, want a usage error", s, err)
		}
	}
	_ = alice
}

func TestOpenVerdicts(t *testing.T) {
	alice, bob := newKey("Alice <alice@example.org>"), newKey("Bob <bob@example.org>")
	msg := parse(outgoing)
	defer msg.Close()

	var signed, encrypted bytes.Buffer
	if err := mailseal.Sign(&signed, msg, pgp.Signer{Entity: alice}); err != nil {
		t.Fatal(err)
	}
	if err := mailseal.Encrypt(&encrypted, msg, []mailseal.Recipient{pgp.Recipient{Entity: bob}}); err != nil {
		t.Fatal(err)
	}
	bobKeys := mailseal.Keys{OpenPGP: pgp.Keyring{Secrets: openpgpList(bob)}}

	t.Run("no keys: unknown signer", func(t *testing.T) {
		m := parse(signed.String())
		defer m.Close()
		o, err := mailseal.Open(m, mailseal.Keys{}, mailseal.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != mailseal.StatusUnknownSigner || o.ExitCode() != mailseal.ExitVerification {
			t.Errorf("status %s, exit %d; want unknown-signer, 1", o.Status, o.ExitCode())
		}
	})
	t.Run("decrypted and unsigned exits 0", func(t *testing.T) {
		m := parse(encrypted.String())
		defer m.Close()
		var out bytes.Buffer
		o, err := mailseal.Open(m, bobKeys, mailseal.OpenOptions{Decrypt: true, Output: &out})
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != mailseal.StatusUnsigned || !o.Decrypted || o.ExitCode() != 0 || !strings.Contains(out.String(), "Meet at noon.") {
			t.Errorf("status %s, decrypted %v, exit %d, output %q", o.Status, o.Decrypted, o.ExitCode(), out.String())
		}
	})
	t.Run("verify of an encrypted message is not decrypted", func(t *testing.T) {
		m := parse(encrypted.String())
		defer m.Close()
		o, err := mailseal.Open(m, bobKeys, mailseal.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if o.Decrypted || o.ExitCode() == 0 {
			t.Errorf("verify released content or exited 0: %+v", o)
		}
	})
	t.Run("decrypt of a message that is not encrypted", func(t *testing.T) {
		m := parse(signed.String())
		defer m.Close()
		var out bytes.Buffer
		_, err := mailseal.Open(m, bobKeys, mailseal.OpenOptions{Decrypt: true, Output: &out})
		if !errors.Is(err, mailseal.ErrVerification) || out.Len() != 0 {
			t.Errorf("Open: %v with %d bytes out, want a verification error and nothing", err, out.Len())
		}
	})
	t.Run("limits bound the decrypted content", func(t *testing.T) {
		m := parse(encrypted.String())
		defer m.Close()
		var out bytes.Buffer
		_, err := mailseal.Open(m, bobKeys, mailseal.OpenOptions{Decrypt: true, Output: &out, Limits: mime.Limits{MaxHeaderBytes: 20}})
		var le *mailseal.LimitError
		if !errors.As(err, &le) || le.Limit != "MaxHeaderBytes" || !errors.Is(err, mailseal.ErrInput) || out.Len() != 0 {
			t.Errorf("Open: %v with %d bytes out, want the MaxHeaderBytes limit and nothing", err, out.Len())
		}
	})
	t.Run("no secret key", func(t *testing.T) {
		m := parse(encrypted.String())
		defer m.Close()
		var out bytes.Buffer
		_, err := mailseal.Open(m, mailseal.Keys{}, mailseal.OpenOptions{Decrypt: true, Output: &out})
		if !errors.Is(err, mailseal.ErrNoKey) || out.Len() != 0 {
			t.Errorf("Open: %v with %d bytes out, want ErrNoKey and nothing", err, out.Len())
		}
	})
}

// finder is a KeyFinder over fixed tables.
type finder struct {
	rcpt    map[string]map[string]bool // protocol → address → has a key
	signers map[string]map[string]bool // protocol → address → can sign
}

type key struct{ protocol, addr string }

func (k key) Protocol() string    { return k.protocol }
func (k key) Fingerprint() string { return k.protocol + ":" + k.addr }

func (f finder) RecipientKeys(p, addr string) ([]mailseal.Recipient, string, error) {
	if f.rcpt[p][addr] {
		return []mailseal.Recipient{key{p, addr}}, "", nil
	}
	return nil, "expired", nil
}

func (f finder) Signer(p, from string) (mailseal.Signer, error) {
	if f.signers[p][from] {
		return key{p, from}, nil
	}
	return nil, fmt.Errorf("no %s signer for %s: %w", p, from, mailseal.ErrNoKey)
}

func (f finder) HasSigner(p, from string) (bool, error) { return f.signers[p][from], nil }

func set(addrs ...string) map[string]bool {
	m := map[string]bool{}
	for _, a := range addrs {
		m[a] = true
	}
	return m
}

var keys = finder{
	rcpt: map[string]map[string]bool{
		mailseal.ProtocolOpenPGP: set("a@x", "b@x", "both@x"),
		mailseal.ProtocolSMIME:   set("a@x", "c@x", "both@x"),
	},
	signers: map[string]map[string]bool{mailseal.ProtocolSMIME: set("a@x")},
}

func TestChooseRecipients(t *testing.T) {
	pgpFirst, smimeFirst := mailseal.Protocols(false), mailseal.Protocols(true)
	cases := []struct {
		addrs []string
		order []string
		want  string // protocol, or the error's text
	}{
		{[]string{"a@x", "both@x"}, pgpFirst, "openpgp"},
		{[]string{"a@x", "both@x"}, smimeFirst, "smime"},
		{[]string{"a@x", "c@x"}, pgpFirst, "smime"},
		{[]string{"b@x", "c@x"}, pgpFirst, "no single protocol covers every recipient: no OpenPGP key for c@x; no S/MIME certificate for b@x"},
		{[]string{"c@x", "d@x"}, []string{mailseal.ProtocolOpenPGP}, "no valid OpenPGP encryption key for c@x, d@x"},
		{[]string{"b@x"}, []string{mailseal.ProtocolSMIME}, "no valid S/MIME certificate for b@x (import their certificate with mailseal keys import, and trust its CA with mailseal keys trust); b@x: expired"},
	}
	for _, c := range cases {
		sel, err := mailseal.ChooseRecipients(keys, c.addrs, c.order)
		got := ""
		if err != nil {
			if !errors.Is(err, mailseal.ErrNoKey) {
				t.Errorf("%v %v: %v is not ErrNoKey", c.addrs, c.order, err)
			}
			got = err.Error()
		} else {
			got = sel.Protocol
			if len(sel.Recipients) != len(c.addrs) {
				t.Errorf("%v: %d recipients", c.addrs, len(sel.Recipients))
			}
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("ChooseRecipients(%v, %v) = %q, want %q", c.addrs, c.order, got, c.want)
		}
	}
	if s, err := mailseal.ChooseSigner(keys, "a@x", mailseal.Protocols(false)); err != nil || s.Protocol() != mailseal.ProtocolSMIME {
		t.Errorf("ChooseSigner(a@x) = %v, %v; want the S/MIME one", s, err)
	}
	if _, err := mailseal.ChooseSigner(keys, "b@x", mailseal.Protocols(false)); !errors.Is(err, mailseal.ErrNoKey) {
		t.Errorf("ChooseSigner(b@x): %v, want ErrNoKey", err)
	}
}

func TestPlanSend(t *testing.T) {
	msg := parse("From: a@x\r\nTo: b@x, c@x, both@x\r\nCc: e@x\r\nBcc: c@x, f@x, b@x\r\nSubject: s\r\n\r\nbody\r\n")
	defer msg.Close()
	if _, err := mailseal.PlanSend(msg, keys, mailseal.SendOptions{}); !errors.Is(err, mailseal.ErrNoKey) ||
		!strings.Contains(err.Error(), "no usable key for e@x: expired; expired; f@x: expired; expired; nothing was sent") ||
		strings.Contains(err.Error(), "import") {
		t.Fatalf("PlanSend without keys for e@x, f@x: %v", err)
	}
	plan, err := mailseal.PlanSend(msg, keys, mailseal.SendOptions{AllowPlaintext: true, Rcpt: []string{"g@x", "b@x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	var got []string
	for _, c := range plan.Copies {
		var fprs []string
		for _, k := range c.Keys {
			fprs = append(fprs, k.Fingerprint())
		}
		got = append(got, fmt.Sprintf("%s %v plain=%v keys=%v", c.Protocol, c.Rcpt, c.Plaintext, fprs))
	}
	want := []string{
		// Visible recipients, one copy per protocol, each encrypted to the sender too.
		"openpgp [b@x both@x] plain=false keys=[openpgp:b@x openpgp:both@x openpgp:a@x]",
		"smime [c@x] plain=false keys=[smime:c@x smime:a@x]",
		// Bcc: one copy each (c@x and b@x are already visible: not twice).
		// e@x, f@x and g@x (envelope only) have no key: a signed copy each.
		"smime [e@x] plain=true keys=[]",
		"smime [f@x] plain=true keys=[]",
		"smime [g@x] plain=true keys=[]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("copies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h := plan.Message.Root.Header; h.Get("Bcc") != "" || h.Get("Message-ID") == "" || h.Get("Date") == "" {
		t.Errorf("prepared message: Bcc %q, Message-ID %q, Date %q", h.Get("Bcc"), h.Get("Message-ID"), h.Get("Date"))
	}
}

// A good signature from a person's own key, under a From whose display name
// is another person's (Johnny You Are Fired: "The Manager"
// <eve@example.org>), or with a signed Reply-To in another domain, stays
// good and says so in a warning; the signer's own name gives none.
func TestSpoofedNameWarnings(t *testing.T) {
	eve := newKey("Eve Example <eve@example.org>")
	keys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgpList(eve)}}
	for _, c := range []struct {
		header string
		want   string // a warning that must be there ("" none)
	}{
		{"From: Eve Example <eve@example.org>\r\n", ""},
		{"From: \"eve example\" <eve@example.org>\r\n", ""},
		{"From: The Manager <eve@example.org>\r\n", `From display name "The Manager" is not a name on the signer's key or certificate (it gives Eve Example)`},
		{"From: Eve Example <eve@example.org>\r\nReply-To: boss@evil.example\r\n", "Reply-To boss@evil.example is in another domain than the signer eve@example.org"},
		{"From: Eve Example <eve@example.org>\r\nReply-To: eve.other@example.org\r\n", ""},
	} {
		draft := parse(c.header + "To: bob@example.org\r\nSubject: pay this\r\nContent-Type: text/plain\r\n\r\nPay the invoice.\r\n")
		var signed bytes.Buffer
		if err := mailseal.Sign(&signed, draft, pgp.Signer{Entity: eve}); err != nil {
			t.Fatal(err)
		}
		draft.Close()
		m := parse(signed.String())
		o, err := mailseal.Open(m, keys, mailseal.OpenOptions{})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, w := range o.Warnings {
			if strings.Contains(w, "display name") || strings.Contains(w, "another domain") {
				found = c.want != "" && strings.Contains(w, c.want)
				if !found {
					t.Errorf("%q: warning %q", c.header, w)
				}
			}
		}
		if o.Status != mailseal.StatusGood || found != (c.want != "") {
			t.Errorf("%q: status %s, warnings %q; want good with %q", c.header, o.Status, o.Warnings, c.want)
		}
	}
}

// mixUp turns a PGP/MIME message into the shape Exchange and Outlook make
// of it: multipart/mixed with a text/plain part holding text, the version
// part and the armored message as an application/octet-stream
// encrypted.asc, each base64 as Exchange writes them.
func mixUp(t *testing.T, pgpMIME []byte, text string) string {
	t.Helper()
	i := bytes.Index(pgpMIME, []byte("-----BEGIN PGP MESSAGE-----"))
	j := bytes.Index(pgpMIME, []byte("-----END PGP MESSAGE-----"))
	if i < 0 || j < 0 {
		t.Fatal("no armored message")
	}
	armored := pgpMIME[i : j+len("-----END PGP MESSAGE-----\r\n")]
	b64 := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		return out.String() + s + "\r\n"
	}
	return "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: mixed up\r\n" +
		"Content-Type: multipart/mixed; boundary=\"_003_x_\"\r\nMIME-Version: 1.0\r\n\r\n" +
		"--_003_x_\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + text + "\r\n" +
		"--_003_x_\r\nContent-Type: application/pgp-encrypted; name=\"PGPMIME version identification\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b64([]byte("Version: 1\r\n")) + "\r\n" +
		"--_003_x_\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n" +
		"Content-Disposition: attachment; filename=\"encrypted.asc\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(armored) + "\r\n" +
		"--_003_x_--\r\n"
}

// PGP/MIME that Exchange turned into multipart/mixed (issue 14 class 1)
// opens, saying that the structure was repaired; only exactly that shape
// is repaired (text in the first part leaves it unopened), and
// --part of the encrypted attachment opens it too.
func TestMixedUpPGPMIME(t *testing.T) {
	alice, bob := newKey("Alice <alice@example.org>"), newKey("Bob <bob@example.org>")
	msg := parse(outgoing)
	var encrypted bytes.Buffer
	if err := mailseal.Encrypt(&encrypted, msg, []mailseal.Recipient{pgp.Recipient{Entity: bob}}, mailseal.SignWith(pgp.Signer{Entity: alice})); err != nil {
		t.Fatal(err)
	}
	msg.Close()
	keys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgpList(alice), Secrets: openpgpList(bob)}}
	open := func(text, part string) (*mailseal.Opened, string, error) {
		m := parse(mixUp(t, encrypted.Bytes(), text))
		defer m.Close()
		var out bytes.Buffer
		o, err := mailseal.Open(m, keys, mailseal.OpenOptions{Decrypt: true, Output: &out, Part: part})
		return o, out.String(), err
	}

	o, out, err := open("", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != mailseal.StatusGood || !o.Decrypted || !strings.Contains(out, "Meet at noon.") ||
		len(o.Warnings) == 0 || !strings.Contains(o.Warnings[0], "structure was repaired") {
		t.Fatalf("status %s, decrypted %v, warnings %q, output %q", o.Status, o.Decrypted, o.Warnings, out)
	}
	// White space only is still empty.
	if o, _, err := open(" \r\n", ""); err != nil || !o.Decrypted {
		t.Fatalf("white space: %v", err)
	}
	// Text in the first part: not the shape, not repaired, but the
	// encrypted attachment is named as nested content (partial, not "not
	// encrypted"), and nothing is output.
	o, out, err = open("Read the attachment.", "")
	if err != nil || o.Status != mailseal.StatusPartial || o.Decrypted || !o.Encrypted || o.EncryptedPart != "3" ||
		!strings.Contains(o.Error, "--part 3") || out != "" {
		t.Fatalf("text in the first part: %v, %+v, output %q", err, o, out)
	}
	// The same for verify.
	m := parse(mixUp(t, encrypted.Bytes(), "Read the attachment."))
	o, err = mailseal.Open(m, keys, mailseal.OpenOptions{})
	m.Close()
	if err != nil || o.Status != mailseal.StatusPartial || o.EncryptedPart != "3" {
		t.Fatalf("verify, text in the first part: %v, %+v", err, o)
	}
	// The encrypted attachment named: opened alone, judged as the message.
	o, out, err = open("Read the attachment.", "3")
	if err != nil || !o.Decrypted || o.Status != mailseal.StatusGood || o.EncryptedPart != "3" || !strings.Contains(out, "Meet at noon.") {
		t.Fatalf("--part 3: %v, %+v", err, o)
	}
}

// PGP/MIME whose multipart/signed names its protocol wrong, or not at all,
// is known by its signature part (an armored signature), as KMail does;
// the signature is checked all the same (issue 14 class 2).
func TestPGPSignedWithoutProtocol(t *testing.T) {
	alice := newKey("Alice <alice@example.org>")
	msg := parse(outgoing)
	var signed bytes.Buffer
	if err := mailseal.Sign(&signed, msg, pgp.Signer{Entity: alice}); err != nil {
		t.Fatal(err)
	}
	msg.Close()
	keys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgpList(alice)}}
	protocolRe := regexp.MustCompile(`protocol="application/pgp-signature";?`)
	for _, c := range []struct{ name, protocol, part string }{
		{"none", "", "application/pgp-signature"},
		{"broken", `protocol="application/broken-signature";`, "application/broken-signature"},
	} {
		msg := protocolRe.ReplaceAllString(signed.String(), c.protocol)
		msg = strings.Replace(msg, "Content-Type: application/pgp-signature", "Content-Type: "+c.part, 1)
		if msg == signed.String() {
			t.Fatal("nothing replaced")
		}
		for _, altered := range []bool{false, true} {
			text := msg
			if altered {
				text = strings.Replace(msg, "Meet at noon.", "Meet at one.", 1)
			}
			m := parse(text)
			o, err := mailseal.Open(m, keys, mailseal.OpenOptions{})
			m.Close()
			want := mailseal.StatusGood
			if altered {
				want = mailseal.StatusBad
			}
			if err != nil || o.Status != want {
				t.Fatalf("%s, altered %v: %v, %+v", c.name, altered, err, o)
			}
		}
	}
}

// A mailing list that appends its footer as a third part of a
// multipart/signed (issue 14 class 7): the first two parts are verified,
// the third is reported as unprotected, and the message is partial, in
// both protocols; altered signed text is still bad.
func TestSignedWithFooterPart(t *testing.T) {
	alice := newKey("Alice <alice@example.org>")
	ca, caKey := gibCert(t, nil, nil, "")
	cert, key := gibCert(t, ca, caKey, "alice@example.org")
	for _, c := range []struct {
		name   string
		signer mailseal.Signer
		keys   mailseal.Keys
	}{
		{"openpgp", pgp.Signer{Entity: alice}, mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgpList(alice)}}},
		{"smime", smime.Signer{Identity: smime.Identity{Cert: cert, Key: key}},
			mailseal.Keys{SMIMETrust: func() (smime.Trust, error) { return smime.Trust{Roots: []*x509.Certificate{ca}}, nil }}},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := parse(outgoing)
			var signed bytes.Buffer
			if err := mailseal.Sign(&signed, msg, c.signer); err != nil {
				t.Fatal(err)
			}
			msg.Close()
			boundary := regexp.MustCompile(`boundary="?([^";\r\n]+)"?`).FindStringSubmatch(signed.String())[1]
			footer := "--" + boundary + "\r\nContent-Type: text/plain\r\n\r\n_______________\r\nlist-devel mailing list\r\n"
			withFooter := strings.Replace(signed.String(), "--"+boundary+"--", footer+"--"+boundary+"--", 1)
			for _, altered := range []bool{false, true} {
				text := withFooter
				if altered {
					text = strings.Replace(text, "Meet at noon.", "Meet at one.", 1)
				}
				m := parse(text)
				o, err := mailseal.Open(m, c.keys, mailseal.OpenOptions{})
				m.Close()
				if err != nil {
					t.Fatal(err)
				}
				want := mailseal.StatusPartial
				if altered {
					want = mailseal.StatusBad
				}
				if o.Status != want || len(o.Unprotected) != 1 || !strings.Contains(o.Unprotected[0], "part 3 (text/plain) after the signature") {
					t.Fatalf("altered %v: status %s, unprotected %q", altered, o.Status, o.Unprotected)
				}
			}
		})
	}
}

// Zero values a newcomer may pass get errors, not panics (review
// findings): a zero pgp.Recipient or smime.Recipient to Encrypt; a nil
// protocol order to ChooseRecipients and ChooseSigner means
// Protocols(false).
func TestZeroValuesAreErrors(t *testing.T) {
	msg := parse(outgoing)
	defer msg.Close()
	for _, r := range []mailseal.Recipient{pgp.Recipient{}, smime.Recipient{}} {
		if err := mailseal.Encrypt(io.Discard, msg, []mailseal.Recipient{r}); !errors.Is(err, mailseal.ErrUsage) {
			t.Errorf("%T{}: %v", r, err)
		}
	}
	if (smime.Signer{}).Fingerprint() != "" || (pgp.Signer{}).Fingerprint() != "" {
		t.Error("a zero Signer has a fingerprint")
	}
	sel, err := mailseal.ChooseRecipients(keys, []string{"b@x"}, nil)
	if err != nil || sel.Protocol != mailseal.ProtocolOpenPGP {
		t.Fatalf("ChooseRecipients, nil order: %v, %+v", err, sel)
	}
	if s, err := mailseal.ChooseSigner(keys, "a@x", nil); err != nil || s.Protocol() != mailseal.ProtocolSMIME {
		t.Fatalf("ChooseSigner, nil order: %v", err)
	}
}

// Input that is no mail (random bytes, a PDF) is "not an RFC 5322
// message", unreadable input, for every operation (issue 15), not
// "unsigned" or "needs exactly one From".
func TestNotAMessage(t *testing.T) {
	alice := newKey("Alice <alice@example.org>")
	for _, junk := range []string{"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "\x00\x01\x02\xff\xfe random bytes"} {
		m := parse(junk)
		_, openErr := mailseal.Open(m, mailseal.Keys{}, mailseal.OpenOptions{})
		signErr := mailseal.Sign(io.Discard, m, pgp.Signer{Entity: alice})
		encErr := mailseal.Encrypt(io.Discard, m, []mailseal.Recipient{pgp.Recipient{Entity: alice}})
		_, planErr := mailseal.PlanSend(m, keys, mailseal.SendOptions{})
		m.Close()
		for name, err := range map[string]error{"Open": openErr, "Sign": signErr, "Encrypt": encErr, "PlanSend": planErr} {
			if !errors.Is(err, mailseal.ErrInput) || !strings.Contains(err.Error(), "not an RFC 5322 message") {
				t.Errorf("%s of %q: %v", name, junk[:8], err)
			}
		}
	}
}

// matcher is a finder that also finds signers by query: "ops" names the
// S/MIME key of ops@x.
type matcher struct{ finder }

func (m matcher) SignerMatching(query, p string) (mailseal.Signer, error) {
	if query == "ops" && p == mailseal.ProtocolSMIME {
		return key{p, "ops@x"}, nil
	}
	return nil, fmt.Errorf("no %s key matches %q: %w", p, query, mailseal.ErrNoKey)
}

// System mail (issue 15): cron's "From: root (Cron Daemon)" and "To: root"
// have no domain. Domain qualifies them in the header and the envelope,
// SystemFrom replaces such a From (keeping its name) and the envelope
// sender, SignerQuery picks the signer; without them a bare name is a
// usage error that names the settings.
func TestPlanSendSystemMail(t *testing.T) {
	const cron = "From: root (Cron Daemon)\nTo: root, Bob <b>, a@x\nCc: \"Doe, J\" <both>\nSubject: Cron <root@host> backup\nContent-Type: text/plain; charset=UTF-8\nX-Cron-Env: <SHELL=/bin/sh>\n\nbackup done\n"
	msg := parse(cron)
	defer msg.Close()
	if _, err := mailseal.PlanSend(msg, keys, mailseal.SendOptions{}); !errors.Is(err, mailseal.ErrUsage) ||
		!strings.Contains(err.Error(), `From "root (Cron Daemon)" has no domain: set domain`) {
		t.Fatalf("without settings: %v", err)
	}
	k := finder{
		rcpt:    map[string]map[string]bool{mailseal.ProtocolSMIME: set("root@x", "b@x", "a@x", "both@x", "cron@x")},
		signers: map[string]map[string]bool{mailseal.ProtocolSMIME: set("root@x", "cron@x")},
	}
	plan, err := mailseal.PlanSend(msg, k, mailseal.SendOptions{Sign: true, Domain: "x", EnvelopeFrom: "root", Rcpt: []string{"root"}})
	if err != nil {
		t.Fatal(err)
	}
	h := plan.Message.Root.Header
	if h.Get("From") != "root@x (Cron Daemon)" || h.Get("To") != "root@x, Bob <b@x>, a@x" || h.Get("Cc") != `"Doe, J" <both@x>` ||
		plan.From != "root@x" || plan.EnvelopeFrom != "root@x" || h.Get("X-Cron-Env") != "<SHELL=/bin/sh>" {
		t.Fatalf("Domain: From %q To %q Cc %q, sender %q, envelope %q", h.Get("From"), h.Get("To"), h.Get("Cc"), plan.From, plan.EnvelopeFrom)
	}
	if len(plan.Copies) != 1 || strings.Join(plan.Copies[0].Rcpt, ",") != "root@x,b@x,a@x,both@x" {
		t.Fatalf("copies %+v", plan.Copies)
	}
	plan.Close()
	plan, err = mailseal.PlanSend(msg, k, mailseal.SendOptions{Sign: true, Domain: "x", SystemFrom: "cron@x", EnvelopeFrom: "root", NoHeaderRecipients: true, Rcpt: []string{"root"}})
	if err != nil {
		t.Fatal(err)
	}
	if h := plan.Message.Root.Header; h.Get("From") != `"Cron Daemon" <cron@x>` || plan.From != "cron@x" || plan.EnvelopeFrom != "cron@x" ||
		len(plan.Copies) != 1 || strings.Join(plan.Copies[0].Rcpt, ",") != "root@x" {
		t.Fatalf("SystemFrom: From %q, sender %q, envelope %q, copies %+v", h.Get("From"), plan.From, plan.EnvelopeFrom, plan.Copies)
	}
	plan.Close()
	for _, bad := range []mailseal.SendOptions{{Domain: "x@y"}, {Domain: ".x"}, {Domain: "x y"}, {SystemFrom: "cron"}, {SystemFrom: "Cron <cron@x>"}} {
		if _, err := mailseal.PlanSend(msg, k, bad); !errors.Is(err, mailseal.ErrUsage) || !strings.Contains(err.Error(), "is not a") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// A From with a domain is not system mail: SystemFrom leaves it.
	person := parse("From: a@x\r\nTo: root\r\n\r\nhi\r\n")
	defer person.Close()
	k.signers[mailseal.ProtocolSMIME]["a@x"] = true
	plan, err = mailseal.PlanSend(person, k, mailseal.SendOptions{Sign: true, Domain: "x", SystemFrom: "cron@x"})
	if err != nil || plan.From != "a@x" || plan.EnvelopeFrom != "a@x" {
		t.Fatalf("%+v %v", plan, err)
	}
	plan.Close()
	// No domain for an envelope recipient.
	if _, err := mailseal.PlanSend(person, k, mailseal.SendOptions{Domain: "", Rcpt: []string{"root"}, NoHeaderRecipients: true}); !errors.Is(err, mailseal.ErrUsage) ||
		!strings.Contains(err.Error(), "has no domain") {
		t.Fatalf("bare recipient: %v", err)
	}
	rcptOnly := parse("From: a@x\r\nTo: a@x\r\n\r\nhi\r\n")
	defer rcptOnly.Close()
	if _, err := mailseal.PlanSend(rcptOnly, k, mailseal.SendOptions{Rcpt: []string{"root"}, NoHeaderRecipients: true}); !errors.Is(err, mailseal.ErrUsage) ||
		!strings.Contains(err.Error(), `recipient "root" has no domain`) {
		t.Fatalf("bare envelope recipient: %v", err)
	}
	// SignerQuery needs a SignerMatcher, and picks the key it names: a@x
	// cannot sign, "ops" can.
	delete(k.signers[mailseal.ProtocolSMIME], "a@x")
	if _, err := mailseal.PlanSend(rcptOnly, matcher{k}, mailseal.SendOptions{Sign: true}); !errors.Is(err, mailseal.ErrNoKey) {
		t.Fatalf("a@x signs: %v", err)
	}
	if _, err := mailseal.PlanSend(rcptOnly, k, mailseal.SendOptions{Sign: true, SignerQuery: "ops"}); !errors.Is(err, mailseal.ErrUsage) {
		t.Fatalf("query without a matcher: %v", err)
	}
	system := parse("From: root (Cron Daemon)\r\nTo: a@x\r\n\r\nhi\r\n")
	defer system.Close()
	if _, err := mailseal.PlanSend(system, matcher{k}, mailseal.SendOptions{Sign: true, Domain: "x", SignerQuery: "nobody"}); !errors.Is(err, mailseal.ErrNoKey) {
		t.Fatalf("query that names nobody: %v", err)
	}
	plan, err = mailseal.PlanSend(system, matcher{k}, mailseal.SendOptions{Sign: true, Domain: "x", SignerQuery: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	plan.Close()
	// A From that names a person is not system mail: the query does not
	// let another key sign it (review: anyone who can run sendmail would
	// have the host's key sign any From).
	if _, err := mailseal.PlanSend(rcptOnly, matcher{k}, mailseal.SendOptions{Sign: true, SignerQuery: "ops"}); !errors.Is(err, mailseal.ErrNoKey) {
		t.Fatalf("query on a person's From: %v", err)
	}
}

// A PGP/MIME message decrypts the same with LF and with CRLF line endings,
// large enough to be read through the LF view, however its armor is
// wrapped: lines of any width, not only of a multiple of four characters
// (base64 runs on across line ends; gpg reads such armor).
func TestArmorWrapAndLineEndings(t *testing.T) {
	alice, bob := newKey("Alice <alice@example.org>"), newKey("Bob <bob@example.org>")
	body := strings.Repeat("All work and no play makes Jack a dull boy.\r\n", 1500) // 66 KB
	msg := parse("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: wrap\r\n\r\n" + body)
	var encrypted bytes.Buffer
	if err := mailseal.Encrypt(&encrypted, msg, []mailseal.Recipient{pgp.Recipient{Entity: bob}}, mailseal.SignWith(pgp.Signer{Entity: alice})); err != nil {
		t.Fatal(err)
	}
	msg.Close()
	keys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgpList(alice), Secrets: openpgpList(bob)}}
	enc := encrypted.String()
	head, rest, ok := strings.Cut(enc, "-----BEGIN PGP MESSAGE-----\r\n\r\n")
	b64, tail, ok2 := strings.Cut(rest, "\r\n-----END PGP MESSAGE-----")
	if !ok || !ok2 {
		t.Fatal("no armored block")
	}
	lines := strings.Split(b64, "\r\n")
	if last := lines[len(lines)-1]; strings.HasPrefix(last, "=") {
		lines = lines[:len(lines)-1] // the CRC-24 line, which the wrapping would join
	}
	b64 = strings.Join(lines, "")
	for _, width := range []int{64, 76, 70, 7, 250, 257, 262, 275} {
		var wrapped strings.Builder
		for s := b64; len(s) > 0; {
			n := min(width, len(s))
			wrapped.WriteString(s[:n] + "\r\n")
			s = s[n:]
		}
		crlf := head + "-----BEGIN PGP MESSAGE-----\r\n\r\n" + wrapped.String() + "-----END PGP MESSAGE-----" + tail
		for name, m := range map[string]string{"CRLF": crlf, "LF": strings.ReplaceAll(crlf, "\r\n", "\n")} {
			parsed, err := mime.ParseAt(strings.NewReader(m), int64(len(m)), mime.DefaultLimits(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			o, err := mailseal.Open(parsed, keys, mailseal.OpenOptions{Decrypt: true, Output: &out})
			parsed.Close()
			if err != nil || o.Status != mailseal.StatusGood || !o.Decrypted || !strings.Contains(out.String(), "a dull boy.") {
				t.Errorf("armor lines of %d characters, %s: %v, %+v", width, name, err, o)
			}
		}
	}
}

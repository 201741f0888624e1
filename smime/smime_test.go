package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	mathrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/cms"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// testPKI is a root CA, an intermediate, and leaves issued by the intermediate.
type testPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	rsaKeys = map[int]*rsa.PrivateKey{}
	rsaMu   sync.Mutex
)

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	rsaMu.Lock()
	defer rsaMu.Unlock()
	if k, ok := rsaKeys[bits]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	rsaKeys[bits] = k
	return k
}

func issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var serial int64 = 100

func nextSerial() *big.Int { serial++; return big.NewInt(serial) }

func getPKI(t testing.TB) *testPKI {
	pkiOnce.Do(func() {
		rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ca := func(cn string) *x509.Certificate {
			return &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn},
				NotBefore: testNow.AddDate(-1, 0, 0), NotAfter: testNow.AddDate(5, 0, 0),
				IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
		}
		root := issue(t, ca("Test Root"), rootKey.Public(), nil, rootKey)
		inter := issue(t, ca("Test Intermediate"), interKey.Public(), root, rootKey)
		pki = &testPKI{root: root, inter: inter, rootKey: rootKey, interKey: interKey}
	})
	return pki
}

type leafSpec struct {
	email    string
	usage    x509.KeyUsage
	eku      []x509.ExtKeyUsage
	notAfter time.Time
}

// identity issues a leaf for key.
func (p *testPKI) identity(t testing.TB, key crypto.Signer, spec leafSpec) Identity {
	if spec.email == "" {
		spec.email = "alice@example.org"
	}
	if spec.usage == 0 {
		spec.usage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		if _, ok := key.Public().(*ecdsa.PublicKey); ok {
			spec.usage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
		}
		if _, ok := key.Public().(ed25519.PublicKey); ok {
			spec.usage = x509.KeyUsageDigitalSignature
		}
	}
	if spec.eku == nil {
		spec.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = testNow.AddDate(1, 0, 0)
	}
	tmpl := &x509.Certificate{SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: spec.email},
		NotBefore: testNow.AddDate(0, -1, 0), NotAfter: spec.notAfter, KeyUsage: spec.usage, ExtKeyUsage: spec.eku,
		EmailAddresses: []string{spec.email}, SubjectKeyId: nextSerial().Bytes()}
	c := issue(t, tmpl, key.Public(), p.inter, p.interKey)
	return Identity{Cert: c, Key: key, Chain: []*x509.Certificate{p.inter}}
}

// testEngine is an engine at testNow; testTrust trusts the test PKI's root.
func testEngine(t testing.TB) *Engine {
	policy := core.DefaultPolicy()
	policy.Now = testNow
	return New(policy)
}

func testTrust(t testing.TB) Trust {
	p := getPKI(t)
	return Trust{Roots: []*x509.Certificate{p.root}, Intermediates: []*x509.Certificate{p.inter}}
}

const content = "Content-Type: text/plain\r\n\r\nhello, S/MIME\r\n"

func sign(t testing.TB, e *Engine, ids []Identity, opts SignOptions, body string) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := e.Sign(&out, ids, opts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	io.WriteString(w, body)
	if err := w.Close(); err != nil {
		t.Fatalf("Sign: Close: %v", err)
	}
	return out.Bytes()
}

func TestSignVerifyAlgorithms(t *testing.T) {
	p := getPKI(t)
	e, trust := testEngine(t), testTrust(t)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		opts SignOptions
		hash string
	}{
		{"rsa", rsaKey(t, 2048), SignOptions{}, "SHA-256"},
		{"rsa-pss-sha384", rsaKey(t, 2048), SignOptions{PSS: true, Hash: crypto.SHA384}, "SHA-384"},
		{"ecdsa-p256-skid", ec256, SignOptions{SubjectKeyID: true}, "SHA-256"},
		{"ecdsa-p384-sha512", ec384, SignOptions{Hash: crypto.SHA512}, "SHA-512"},
		{"ed25519", ed, SignOptions{}, "SHA-512"},
	} {
		for _, opaque := range []bool{false, true} {
			name := tc.name
			if opaque {
				name += "-opaque"
			}
			t.Run(name, func(t *testing.T) {
				id := p.identity(t, tc.key, leafSpec{})
				opts := tc.opts
				opts.Opaque = opaque
				blob := sign(t, e, []Identity{id}, opts, content)
				var signers []core.Signature
				if opaque {
					v, err := e.VerifyOpaque(bytes.NewReader(blob), trust)
					if err != nil {
						t.Fatal(err)
					}
					defer v.Close()
					got, _ := io.ReadAll(v.Content)
					if string(got) != content {
						t.Fatalf("content %q", got)
					}
					signers = v.Signers
				} else {
					var err error
					signers, _, err = e.VerifyDetached(strings.NewReader(content), bytes.NewReader(blob), trust)
					if err != nil {
						t.Fatal(err)
					}
					// Altered content: bad.
					bad, _, err := e.VerifyDetached(strings.NewReader(content+"x"), bytes.NewReader(blob), trust)
					if err != nil || len(bad) != 1 || bad[0].Status != core.SignerBad {
						t.Fatalf("altered content: %+v, %v", bad, err)
					}
				}
				if len(signers) != 1 {
					t.Fatalf("signers %+v", signers)
				}
				s := signers[0]
				if s.Status != core.SignerGood || !s.Valid || s.Hash != tc.hash || s.Fingerprint != Fingerprint(id.Cert) ||
					len(s.Chain) != 3 || s.Emails[0] != "alice@example.org" || !s.Created.Equal(testNow) {
					t.Fatalf("signer %+v", s)
				}
			})
		}
	}
}

func TestSignerJudgement(t *testing.T) {
	p := getPKI(t)
	e, trust := testEngine(t), testTrust(t)
	key := rsaKey(t, 2048)
	verify := func(t *testing.T, e *Engine, trust Trust, blob []byte) core.Signature {
		t.Helper()
		signers, _, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(blob), trust)
		if err != nil || len(signers) != 1 {
			t.Fatalf("%+v, %v", signers, err)
		}
		return signers[0]
	}
	good := p.identity(t, key, leafSpec{})
	blob := sign(t, e, []Identity{good}, SignOptions{}, content)

	t.Run("no trust anchor", func(t *testing.T) {
		if s := verify(t, e, Trust{}, blob); s.Status != core.SignerUntrusted || s.Valid {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("the message's own certificates are never anchors", func(t *testing.T) {
		if s := verify(t, e, Trust{Intermediates: []*x509.Certificate{p.root}}, blob); s.Status != core.SignerUntrusted {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("expired at verification time", func(t *testing.T) {
		policy := e.Policy()
		policy.Now = testNow.AddDate(2, 0, 0)
		if s := verify(t, New(policy), trust, blob); s.Status != core.SignerUntrusted || !strings.Contains(s.Error, "expired") && !strings.Contains(s.Error, "valid") {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("no emailProtection", func(t *testing.T) {
		id := p.identity(t, key, leafSpec{eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		b := sign(t, e, []Identity{id}, SignOptions{}, content)
		if s := verify(t, e, trust, b); s.Status != core.SignerUntrusted || !strings.Contains(s.Error, "emailProtection") {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("unknown signer", func(t *testing.T) {
		// A signature without certificates whose signer nobody knows.
		s := stripCertificates(t, blob)
		if got := verify(t, e, trust, s); got.Status != core.SignerUnknown {
			t.Fatalf("%+v", got)
		}
		known := trust
		known.Intermediates = []*x509.Certificate{good.Cert, p.inter}
		if got := verify(t, e, known, s); got.Status != core.SignerGood {
			t.Fatalf("with the certificate in the keystore: %+v", got)
		}
	})
	t.Run("several signers, each reported", func(t *testing.T) {
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		bob := p.identity(t, ec, leafSpec{email: "bob@example.org"})
		b := sign(t, e, []Identity{good, bob}, SignOptions{}, content)
		signers, _, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(b), trust)
		if err != nil || len(signers) != 2 || signers[0].Status != core.SignerGood || signers[1].Status != core.SignerGood {
			t.Fatalf("%+v, %v", signers, err)
		}
	})
	t.Run("revocation status unknown is a warning", func(t *testing.T) {
		_, warnings, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(blob), trust)
		if err != nil || len(warnings) == 0 || !strings.Contains(warnings[0], "revocation status unknown") {
			t.Fatalf("warnings %q, %v", warnings, err)
		}
		strict := trust
		strict.RequireCRLs = true
		if s := verify(t, e, strict, blob); s.Status != core.SignerUntrusted {
			t.Fatalf("with CRLs required: %+v", s)
		}
	})
}

// A signingTime later than the verification time (beyond
// core.MaxClockSkew) is bad, as for OpenPGP; so is one before the
// certificate was valid, as an OpenPGP signature older than its key is.
// One after the certificate expired (possible only within the skew: later
// the path fails) makes the signer untrusted, as an OpenPGP signature made
// after its key expired does.
func TestSigningTime(t *testing.T) {
	p := getPKI(t)
	e, trust := testEngine(t), testTrust(t)
	key := rsaKey(t, 2048)
	id := p.identity(t, key, leafSpec{})
	expiring := p.identity(t, key, leafSpec{notAfter: testNow.Add(5 * time.Minute)})
	for _, tc := range []struct {
		name   string
		id     Identity
		at     time.Time
		want   core.SignerStatus
		reason string
	}{
		{"now", id, testNow, core.SignerGood, ""},
		{"ahead within the skew", id, testNow.Add(core.MaxClockSkew - time.Minute), core.SignerGood, ""},
		{"ahead beyond the skew", id, testNow.Add(core.MaxClockSkew + time.Minute), core.SignerBad, "after the verification time"},
		{"a year ahead", id, testNow.AddDate(1, 0, 0), core.SignerBad, "after the verification time"},
		{"before the certificate", id, id.Cert.NotBefore.Add(-core.MaxClockSkew - time.Minute), core.SignerBad, "before its certificate was valid"},
		{"after the certificate", expiring, testNow.Add(10 * time.Minute), core.SignerUntrusted, "after its certificate expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// cms.Sign, not Engine.Sign: that refuses a certificate not valid at signing time.
			var blob bytes.Buffer
			w, err := cms.Sign(&blob, []cms.Signer{{Cert: tc.id.Cert, Key: key, Chain: tc.id.Chain}},
				cms.SignOptions{Hash: crypto.SHA256, SigningTime: tc.at, Detached: true})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, content)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			signers, _, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(blob.Bytes()), trust)
			if err != nil || len(signers) != 1 {
				t.Fatalf("%+v, %v", signers, err)
			}
			s := signers[0]
			if s.Status != tc.want || !strings.Contains(s.Error, tc.reason) || !s.Created.Equal(tc.at.Truncate(time.Second)) {
				t.Fatalf("signer %+v, want %s (%s)", s, tc.want, tc.reason)
			}
		})
	}
}

// stripCertificates removes the certificate set from a DER detached
// signature made by Sign.
func stripCertificates(t *testing.T, blob []byte) []byte {
	t.Helper()
	der := bytes.Clone(blob)
	// The certificates are the [0] IMPLICIT SET after the (empty)
	// EncapsulatedContentInfo; find "a0 82 hi lo" following "06 09 ... 07 01".
	eci := []byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}
	i := bytes.Index(der, eci)
	if i < 0 || der[i+len(eci)] != 0xa0 || der[i+len(eci)+1] != 0x82 {
		t.Fatal("unexpected signature layout")
	}
	at := i + len(eci)
	n := int(der[at+2])<<8 | int(der[at+3])
	out := append(append([]byte(nil), der[:at]...), der[at+4+n:]...)
	// Fix the three enclosing definite lengths (ContentInfo, [0], SignedData).
	return fixLengths(t, out, 4+n)
}

func fixLengths(t *testing.T, der []byte, removed int) []byte {
	t.Helper()
	// ContentInfo, [0] and SignedData all use 0x82 two-byte lengths here.
	for _, off := range []int{0, 4 + 11, 4 + 11 + 4} {
		if der[off+1] != 0x82 {
			t.Fatalf("unexpected length form at %d", off)
		}
		n := int(der[off+2])<<8 | int(der[off+3]) - removed
		der[off+2], der[off+3] = byte(n>>8), byte(n)
	}
	return der
}

func TestSignRefusals(t *testing.T) {
	p := getPKI(t)
	e := testEngine(t)
	key := rsaKey(t, 2048)
	expired := p.identity(t, key, leafSpec{notAfter: testNow.AddDate(0, 0, -1)})
	if _, err := e.Sign(io.Discard, []Identity{expired}, SignOptions{}); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("expired certificate: %v", err)
	}
	encOnly := p.identity(t, key, leafSpec{usage: x509.KeyUsageKeyEncipherment})
	if _, err := e.Sign(io.Discard, []Identity{encOnly}, SignOptions{}); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("encryption-only certificate: %v", err)
	}
	good := p.identity(t, key, leafSpec{})
	other := rsaKey(t, 3072)
	if _, err := e.Sign(io.Discard, []Identity{{Cert: good.Cert, Key: other}}, SignOptions{}); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("key of another certificate: %v", err)
	}
	if _, err := e.Sign(io.Discard, []Identity{good}, SignOptions{Hash: crypto.SHA1}); !errors.Is(err, core.ErrUsage) {
		t.Errorf("SHA-1: %v", err)
	}
	small := rsaKey(t, 1024)
	weak := p.identity(t, small, leafSpec{})
	if _, err := e.Sign(io.Discard, []Identity{weak}, SignOptions{}); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("RSA-1024: %v", err)
	}
}

func TestEncryptDecrypt(t *testing.T) {
	p := getPKI(t)
	e := testEngine(t)
	rsaID := p.identity(t, rsaKey(t, 2048), leafSpec{})
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ecID := p.identity(t, ec, leafSpec{email: "bob@example.org"})
	for _, c := range []string{"", "aes128-gcm", "aes256-cbc", "aes128-cbc"} {
		cipher, err := ParseCipher(c)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		w, err := e.Encrypt(&out, []*x509.Certificate{rsaID.Cert, ecID.Cert}, EncryptOptions{Cipher: cipher})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
		w.Close()
		for _, id := range []Identity{rsaID, {Cert: ecID.Cert, Key: ec}} {
			d, err := e.Decrypt(bytes.NewReader(out.Bytes()), []Identity{id})
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			got, _ := io.ReadAll(d.Body)
			d.Close()
			want := core.IntegrityGCM
			if !cipher.Authenticated() {
				want = core.IntegrityNone
			}
			if string(got) != content || d.Integrity != want || d.DecryptedWith != Fingerprint(id.Cert) {
				t.Fatalf("%s: %q %+v", c, got, d)
			}
		}
	}
	if _, err := ParseCipher("des"); !errors.Is(err, core.ErrUsage) {
		t.Errorf("unknown cipher: %v", err)
	}
	// Names round-trip; a Cipher that is none of the four is refused.
	for _, c := range []Cipher{AES256GCM, AES128GCM, AES256CBC, AES128CBC} {
		if back, err := ParseCipher(strings.ToUpper(c.String())); err != nil || back != c {
			t.Errorf("%v: ParseCipher(String()) = %v, %v", c, back, err)
		}
	}
	if _, err := e.Encrypt(io.Discard, []*x509.Certificate{rsaID.Cert}, EncryptOptions{Cipher: Cipher(9)}); !errors.Is(err, core.ErrUsage) {
		t.Errorf("cipher 9: %v", err)
	}
	if _, err := e.Decrypt(strings.NewReader("x"), nil); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("no identities: %v", err)
	}
}

func TestCheckRecipient(t *testing.T) {
	p := getPKI(t)
	e, trust := testEngine(t), testTrust(t)
	id := p.identity(t, rsaKey(t, 2048), leafSpec{})
	if _, err := e.CheckRecipient(id.Cert, "alice@example.org", trust); err != nil {
		t.Fatalf("valid recipient: %v", err)
	}
	if _, err := e.CheckRecipient(id.Cert, "alice@EXAMPLE.org", trust); err != nil {
		t.Fatalf("domain case: %v", err)
	}
	if _, err := e.CheckRecipient(id.Cert, "mallory@example.org", trust); !errors.Is(err, core.ErrVerification) {
		t.Fatalf("other address: %v", err)
	}
	signOnly := p.identity(t, rsaKey(t, 2048), leafSpec{usage: x509.KeyUsageDigitalSignature})
	if _, err := e.CheckRecipient(signOnly.Cert, "", trust); err == nil {
		t.Fatal("a signing-only certificate was accepted for encryption")
	}
	if _, err := e.CheckRecipient(id.Cert, "", Trust{}); err == nil {
		t.Fatal("a recipient without a path to a trust anchor was accepted")
	}
}

// TestVerifyDetachedEmbeddedContent: a detached signature that carries
// content of its own (Thunderbird's test suite has such messages) is
// checked over the signed part, never over its own content: good when the
// two are the same, bad when they differ (the spoof: the signature's own
// content verifies, another is shown), with a warning either way.
func TestVerifyDetachedEmbeddedContent(t *testing.T) {
	p := getPKI(t)
	e, trust := testEngine(t), testTrust(t)
	id := p.identity(t, rsaKey(t, 2048), leafSpec{})
	opaque := sign(t, e, []Identity{id}, SignOptions{Opaque: true}, content)
	for _, tc := range []struct {
		shown string
		want  core.SignerStatus
	}{{content, core.SignerGood}, {strings.Replace(content, "e", "E", 1), core.SignerBad}} {
		sigs, warnings, err := e.VerifyDetached(strings.NewReader(tc.shown), bytes.NewReader(opaque), trust)
		if err != nil || len(sigs) != 1 || sigs[0].Status != tc.want {
			t.Fatalf("shown %q: %v %+v, want %s", tc.shown[:20], err, sigs, tc.want)
		}
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "carries content of its own") }) {
			t.Errorf("shown %q: warnings %q", tc.shown[:20], warnings)
		}
	}
}

func TestSHA1Refused(t *testing.T) {
	p := getPKI(t)
	e := testEngine(t)
	id := p.identity(t, rsaKey(t, 2048), leafSpec{})
	var out bytes.Buffer
	w, err := cms.Sign(&out, []cms.Signer{{Cert: id.Cert, Key: id.Key.(crypto.Signer)}}, cms.SignOptions{Hash: crypto.SHA384, Detached: true})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, content)
	w.Close()
	// Swap the SHA-384 digest OID for SHA-1 throughout: a SHA-1 signature
	// that does not verify. A refused SHA-1 signature is checked all the
	// same, so this forgery is bad, whatever AcceptSHA1Before says; one
	// that verifies is refused (TestSHA1SignatureArchive in cmd/mailseal,
	// with openssl's).
	blob := bytes.ReplaceAll(out.Bytes(), []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02},
		[]byte{0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x05, 0x00})
	for _, before := range []time.Time{{}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)} {
		policy := e.Policy()
		policy.AcceptSHA1Before = before
		signers, _, err := New(policy).VerifyDetached(strings.NewReader(content), bytes.NewReader(blob), testTrust(t))
		if err != nil || len(signers) != 1 || signers[0].Status != core.SignerBad || signers[0].Hash != "SHA-1" {
			t.Fatalf("AcceptSHA1Before %v: %+v, %v", before, signers, err)
		}
	}
}

// The system's anchors are asked for only when the others do not
// validate a certificate, and then count as anchors.
func TestSystemRootsOnlyWhenNeeded(t *testing.T) {
	p := getPKI(t)
	id := p.identity(t, rsaKey(t, 2048), leafSpec{})
	asked := 0
	e, trust := testEngine(t), testTrust(t)
	trust.SystemRoots = func() []*x509.Certificate { asked++; return []*x509.Certificate{p.root} }
	if _, err := e.CheckRecipient(id.Cert, "", trust); err != nil || asked != 0 {
		t.Fatalf("keystore anchor: %v, system roots asked %d times", err, asked)
	}
	signers, _, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(sign(t, e, []Identity{id}, SignOptions{}, content)), trust)
	if err != nil || len(signers) != 1 || signers[0].Status != core.SignerGood || asked != 0 {
		t.Fatalf("signature: %v %+v, system roots asked %d times", err, signers, asked)
	}
	trust.Roots = nil
	if _, err := e.CheckRecipient(id.Cert, "", trust); err != nil || asked != 1 {
		t.Fatalf("system anchor: %v, asked %d times", err, asked)
	}
	signers, _, err = e.VerifyDetached(strings.NewReader(content), bytes.NewReader(sign(t, e, []Identity{id}, SignOptions{}, content)), trust)
	if err != nil || len(signers) != 1 || signers[0].Status != core.SignerGood {
		t.Fatalf("signature through a system anchor: %v %+v", err, signers)
	}
	trust.SystemRoots = func() []*x509.Certificate { return nil }
	if _, err := e.CheckRecipient(id.Cert, "", trust); err == nil {
		t.Fatal("accepted without any anchor")
	}
}

// A zero Engine applies the default policy: it refuses to sign with an
// RSA key under 2048 bits and refuses SHA-1, as an Engine with
// core.DefaultPolicy() does; it trusts no one.
func TestZeroEngineUsesDefaultPolicy(t *testing.T) {
	p := getPKI(t)
	var zero Engine
	small := p.identity(t, rsaKey(t, 1024), leafSpec{})
	if err := zero.CheckSigner(small); err == nil || !strings.Contains(err.Error(), "fewer than 2048") {
		t.Fatalf("1024-bit RSA signer: %v", err)
	}
	id := p.identity(t, rsaKey(t, 2048), leafSpec{})
	if err := zero.CheckSigner(id); err != nil {
		t.Fatal(err)
	}
	var sig bytes.Buffer
	w, err := zero.Sign(&sig, []Identity{id}, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, content)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	signers, _, err := zero.VerifyDetached(strings.NewReader(content), bytes.NewReader(sig.Bytes()), Trust{})
	if err != nil || len(signers) != 1 || signers[0].Status != core.SignerUntrusted {
		t.Fatalf("no trust anchors: %+v, %v", signers, err)
	}
	signers, _, err = zero.VerifyDetached(strings.NewReader(content), bytes.NewReader(sig.Bytes()), Trust{Roots: testTrust(t).Roots})
	if err != nil || len(signers) != 1 || signers[0].Status != core.SignerGood {
		t.Fatalf("with the roots: %+v, %v", signers, err)
	}
}

// An Engine is a policy; the trust is given per call (issue 13: the two
// engines' methods have the same shapes). One Engine value, used at once
// with two Trusts, judges each call by its own: the test PKI's root makes
// the signer good and the recipient valid, a zero Trust (which trusts no
// one) makes the signer untrusted, or unknown without its certificate,
// and refuses the recipient, without a panic.
func TestOneEngineTwoTrusts(t *testing.T) {
	p := getPKI(t)
	e, trusted := testEngine(t), testTrust(t)
	id := p.identity(t, rsaKey(t, 2048), leafSpec{})
	detached := sign(t, e, []Identity{id}, SignOptions{}, content)
	bare := stripCertificates(t, detached)
	opaque := sign(t, e, []Identity{id}, SignOptions{Opaque: true}, content)

	check := func(trust Trust, want, wantBare core.SignerStatus, recipientOK bool) error {
		signers, _, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(detached), trust)
		if err != nil || len(signers) != 1 || signers[0].Status != want {
			return fmt.Errorf("VerifyDetached: %+v, %v, want %s", signers, err, want)
		}
		signers, _, err = e.VerifyDetached(strings.NewReader(content), bytes.NewReader(bare), trust)
		if err != nil || len(signers) != 1 || signers[0].Status != wantBare {
			return fmt.Errorf("VerifyDetached without certificates: %+v, %v, want %s", signers, err, wantBare)
		}
		v, err := e.VerifyOpaque(bytes.NewReader(opaque), trust)
		if err != nil {
			return fmt.Errorf("VerifyOpaque: %v", err)
		}
		defer v.Close()
		if len(v.Signers) != 1 || v.Signers[0].Status != want {
			return fmt.Errorf("VerifyOpaque: %+v, want %s", v.Signers, want)
		}
		if _, err := e.CheckRecipient(id.Cert, "alice@example.org", trust); (err == nil) != recipientOK {
			return fmt.Errorf("CheckRecipient: %v, want accepted %v", err, recipientOK)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs[i] = check(trusted, core.SignerGood, core.SignerUnknown, true)
			} else {
				errs[i] = check(Trust{}, core.SignerUntrusted, core.SignerUnknown, false)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d (trusting the root: %v): %v", i, i%2 == 0, err)
		}
	}
}

// Fingerprint is the upper-case hex of the SHA-256 of the certificate's
// DER: the FIPS 180-2 vector for "abc", and random encodings against
// encoding/hex.
func TestFingerprint(t *testing.T) {
	if got := Fingerprint(&x509.Certificate{Raw: []byte("abc")}); got != "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD" {
		t.Fatalf("abc: %s", got)
	}
	for range 100 {
		raw := make([]byte, mathrand.IntN(2000))
		rand.Read(raw)
		sum := sha256.Sum256(raw)
		if got, want := Fingerprint(&x509.Certificate{Raw: raw}), strings.ToUpper(hex.EncodeToString(sum[:])); got != want {
			t.Fatalf("%x: %s, want %s", raw, got, want)
		}
	}
}

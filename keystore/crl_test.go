package keystore

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/smime"
)

// privateCA is a keystore with a trusted CA of its own and certificates
// it issued for alice and bob.
func privateCA(t *testing.T) (s *Store, ca, alice, bob *CertInfo) {
	t.Helper()
	s = newTestStore(t)
	var err error
	if ca, err = s.GenerateCA(X509Options{Name: "Own CA", Passphrase: []byte("ca")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trust(ca.Fingerprint); err != nil {
		t.Fatal(err)
	}
	issue := func(email string) *CertInfo {
		info, err := s.GenerateX509(X509Options{Email: email, Issuer: ca.Fingerprint, NoPassphrase: true, IssuerPassphrase: constPass("ca")})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	return s, ca, issue("alice@example.org"), issue("bob@example.org")
}

// smimeSigned signs data as from with the session's signer.
func smimeSigned(t *testing.T, s *Store, from string, data []byte) []byte {
	t.Helper()
	se := s.Session(SessionOptions{})
	signer, err := se.Signer(core.ProtocolSMIME, from)
	if err != nil {
		t.Fatal(err)
	}
	var sig bytes.Buffer
	w, err := smime.New(se.opts.Policy).Sign(&sig, []smime.Identity{signer.(smime.Signer).Identity}, smime.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return sig.Bytes()
}

func smimeVerify(t *testing.T, s *Store, data, sig []byte) (core.Signature, []string) {
	t.Helper()
	se := s.Session(SessionOptions{})
	trust, err := se.Trust()
	if err != nil {
		t.Fatal(err)
	}
	signers, warnings, err := smime.New(se.opts.Policy).VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), trust)
	if err != nil || len(signers) != 1 {
		t.Fatalf("verify: %v %+v", err, signers)
	}
	return signers[0], warnings
}

// A CRL of the keystore's CA ends "revocation status unknown" for the
// certificates it issued, and lists those revoked: their signatures are
// no longer good, they are not chosen to encrypt to or sign with.
func TestRevokeX509AndCRL(t *testing.T) {
	s, ca, alice, bob := privateCA(t)
	data := []byte("Hello.\r\n")
	sigBob := smimeSigned(t, s, "bob@example.org", data)
	sigAlice := smimeSigned(t, s, "alice@example.org", data)
	sg, warnings := smimeVerify(t, s, data, sigBob)
	if sg.Status != core.SignerGood || !strings.Contains(strings.Join(warnings, "\n"), "revocation status unknown") {
		t.Fatalf("before any CRL: %s %v", sg.Status, warnings)
	}

	// The first CRL lists nothing: the warning goes.
	if _, _, err := s.IssueCRL(CRLOptions{CA: "Own CA", Passphrase: constPass("wrong")}); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("wrong CA passphrase: %v", err)
	}
	_, crl, err := s.IssueCRL(CRLOptions{CA: "Own CA", Passphrase: constPass("ca"), NextUpdate: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if crl.Number.Int64() != 1 || len(crl.RevokedCertificateEntries) != 0 || crl.NextUpdate.Sub(crl.ThisUpdate) != 7*24*time.Hour {
		t.Fatalf("first CRL: %v %d %v", crl.Number, len(crl.RevokedCertificateEntries), crl.NextUpdate)
	}
	if sg, warnings = smimeVerify(t, s, data, sigBob); sg.Status != core.SignerGood || len(warnings) != 0 {
		t.Fatalf("with a CRL: %s %v", sg.Status, warnings)
	}

	// Revoking records; the next CRL lists it with its reason code.
	rev, err := s.RevokeX509("bob@example.org", RevokeOptions{Reason: ReasonSuperseded})
	if err != nil {
		t.Fatal(err)
	}
	if !rev.New || !rev.Certificate.Revoked || rev.Issuer.Fingerprint != ca.Fingerprint || rev.Certificate.Fingerprint != bob.Fingerprint {
		t.Fatalf("%+v", rev)
	}
	if again, err := s.RevokeX509(bob.Fingerprint, RevokeOptions{Reason: ReasonCompromised}); err != nil || again.New || again.Reason != ReasonSuperseded {
		t.Fatalf("revoked twice: %v %+v", err, again)
	}
	if list, _ := s.ListX509(bob.Fingerprint); !list[0].Revoked {
		t.Fatal("keys list does not show the revocation")
	}
	se := s.Session(SessionOptions{})
	if r, _, err := se.RecipientKeys(core.ProtocolSMIME, "bob@example.org"); err != nil || len(r) != 0 {
		t.Fatalf("a revoked certificate is a recipient: %v %v", r, err)
	}
	if _, err := se.Signer(core.ProtocolSMIME, "bob@example.org"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("a revoked certificate signs: %v", err)
	}
	if _, err := s.RevokeX509(alice.Fingerprint, RevokeOptions{Reason: ReasonCompromised}); err != nil {
		t.Fatal(err)
	}
	_, crl, err = s.IssueCRL(CRLOptions{CA: ca.Fingerprint, Passphrase: constPass("ca")})
	if err != nil {
		t.Fatal(err)
	}
	if crl.Number.Int64() != 2 || len(crl.RevokedCertificateEntries) != 2 || crl.NextUpdate.Sub(crl.ThisUpdate) != DefaultCRLValidity {
		t.Fatalf("second CRL: %v %d", crl.Number, len(crl.RevokedCertificateEntries))
	}
	reasons := map[string]int{}
	for _, e := range crl.RevokedCertificateEntries {
		reasons[strings.ToUpper(e.SerialNumber.Text(16))] = e.ReasonCode
	}
	if reasons[bob.Serial] != 4 || reasons[alice.Serial] != 1 {
		t.Fatalf("reason codes: %v", reasons)
	}
	// The earlier CRL (still current) is gone: it would hide the revocations.
	if crls, err := s.CRLs(); err != nil || len(crls) != 1 || crls[0].Number.Int64() != 2 {
		t.Fatalf("stored CRLs: %v %d", err, len(crls))
	}
	for _, sig := range [][]byte{sigBob, sigAlice} {
		sg, _ := smimeVerify(t, s, data, sig)
		if sg.Status != core.SignerUntrusted || !strings.Contains(sg.Error, "revoked") {
			t.Fatalf("signed by a revoked certificate: %s %s", sg.Status, sg.Error)
		}
	}
	if sg, _ := smimeVerify(t, s, data, sigBob); !strings.Contains(sg.Error, "superseded") {
		t.Fatalf("reason: %s", sg.Error)
	}
}

func TestRevokeX509Refusals(t *testing.T) {
	s, ca, _, _ := privateCA(t)
	self, err := s.GenerateX509(X509Options{Email: "self@example.org", SelfSigned: true, NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeX509(self.Fingerprint, RevokeOptions{}); !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), "self-signed") {
		t.Fatalf("self-signed: %v", err)
	}
	if _, err := s.RevokeX509(ca.Fingerprint, RevokeOptions{}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("the CA itself: %v", err)
	}
	// A certificate whose CA's key is elsewhere (only the CA certificate
	// is here) cannot be revoked here.
	other := newTestStore(t)
	var pemCerts bytes.Buffer
	if err := s.ExportX509(&pemCerts, "alice@example.org", "pem", false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ImportX509(pemCerts.Bytes(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := other.RevokeX509("alice@example.org", RevokeOptions{}); !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "only its issuer") {
		t.Fatalf("foreign CA: %v", err)
	}
	if _, _, err := s.IssueCRL(CRLOptions{CA: "alice@example.org", Passphrase: constPass("ca")}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("CRL of a leaf: %v", err)
	}
	if _, _, err := other.IssueCRL(CRLOptions{CA: "Own CA"}); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("CRL without the CA's key: %v", err)
	}
}

// openssl reads the CRL and agrees on what it revokes.
func TestCRLWithOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed to check the CRL: install Debian's openssl (scripts/test.sh does)")
	}
	s, _, alice, bob := privateCA(t)
	if _, err := s.RevokeX509(bob.Fingerprint, RevokeOptions{Reason: ReasonCompromised}); err != nil {
		t.Fatal(err)
	}
	der, _, err := s.IssueCRL(CRLOptions{CA: "Own CA", Passphrase: constPass("ca")})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	crl := write("crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	out, err := exec.Command("openssl", "crl", "-in", crl, "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Key Compromise") || !strings.Contains(string(out), "Own CA") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	exportPEM := func(query string) string {
		var b bytes.Buffer
		if err := s.ExportX509(&b, query, "pem", false, nil); err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b.Bytes())
		return write(query+".pem", pem.EncodeToMemory(block))
	}
	ca := exportPEM("Own CA")
	verify := func(leaf string) (string, error) {
		out, err := exec.Command("openssl", "verify", "-crl_check", "-purpose", "smimesign", "-CAfile", ca, "-CRLfile", crl, leaf).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(exportPEM(alice.Fingerprint)); err != nil {
		t.Fatalf("openssl verify alice: %v\n%s", err, out)
	}
	if out, err := verify(exportPEM(bob.Fingerprint)); err == nil || !strings.Contains(out, "revoked") {
		t.Fatalf("openssl verify bob: %v\n%s", err, out)
	}
}

// A renewed certificate keeps subject, address and issuer, has a new key
// and serial, and is the one chosen for the address.
func TestRenewX509(t *testing.T) {
	s, ca, alice, _ := privateCA(t)
	self, err := s.GenerateX509(X509Options{Email: "self@example.org", Name: "Self Signer", SelfSigned: true, Algo: "ed25519", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GenerateX509(X509Options{Renew: alice.Fingerprint, Email: "other@example.org", NoPassphrase: true}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("renew with another address: %v", err)
	}
	if _, err := s.GenerateX509(X509Options{Renew: "Own CA", NoPassphrase: true}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("renew a CA: %v", err)
	}
	for _, c := range []struct {
		old    *CertInfo
		issuer string
		email  string
	}{{alice, ca.Subject, "alice@example.org"}, {self, self.Subject, "self@example.org"}} {
		renewed, err := s.GenerateX509(X509Options{Renew: c.old.Fingerprint, NoPassphrase: true, IssuerPassphrase: constPass("ca")})
		if err != nil {
			t.Fatal(err)
		}
		if renewed.Trusted {
			t.Fatalf("renewing %s made a trust anchor of a certificate whose predecessor was none", c.email)
		}
		if renewed.Subject != c.old.Subject || renewed.Issuer != c.issuer || renewed.Serial == c.old.Serial ||
			strings.Join(renewed.Emails, ",") != c.email || renewed.SelfSigned != c.old.SelfSigned {
			t.Fatalf("renewed %+v\nfrom %+v", renewed, c.old)
		}
		oldCert, _ := s.FindOneX509(c.old.Fingerprint)
		newCert, _ := s.FindOneX509(renewed.Fingerprint)
		if keyID(oldCert.PublicKey) == keyID(newCert.PublicKey) || keyAlgorithmName(oldCert.PublicKey) != keyAlgorithmName(newCert.PublicKey) {
			t.Fatal("the renewed certificate has the old key, or another algorithm")
		}
		// Chosen: the renewed one signs, not "several certificates".
		se := s.Session(SessionOptions{})
		signer, err := se.Signer(core.ProtocolSMIME, c.email)
		if err != nil || CertFingerprint(signer.(smime.Signer).Identity.Cert) != renewed.Fingerprint {
			t.Fatalf("signer after renewal: %v", err)
		}
		if c.old == alice {
			r, _, err := se.RecipientKeys(core.ProtocolSMIME, c.email)
			if err != nil || len(r) != 1 || CertFingerprint(r[0].(smime.Recipient).Cert) != renewed.Fingerprint {
				t.Fatalf("recipient after renewal: %v %v", r, err)
			}
		}
	}
}

// A CA made elsewhere (openssl) and imported with its key revokes what it
// issued like the keystore's own; one without a subject key identifier
// cannot issue a CRL (the CRL names its issuer's key by it).
func TestCRLOfImportedCA(t *testing.T) {
	p := newOpenSSLPKI(t)
	s := newTestStore(t)
	for _, f := range []string{"ca.pem", "ca.key", "carol.pem", "dave.pem"} {
		if _, err := s.ImportX509(p.read(f), nil, nil); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, err := s.RevokeX509("carol@example.org", RevokeOptions{Reason: ReasonRetired}); err != nil {
		t.Fatal(err)
	}
	der, crl, err := s.IssueCRL(CRLOptions{CA: "OpenSSL Test CA"})
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].ReasonCode != 5 {
		t.Fatalf("%+v", crl.RevokedCertificateEntries)
	}
	os.WriteFile(p.path("mailseal.crl"), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644)
	verify := func(leaf string) ([]byte, error) {
		return exec.Command("openssl", "verify", "-crl_check", "-CAfile", p.path("ca.pem"), "-CRLfile", p.path("mailseal.crl"), p.path(leaf)).CombinedOutput()
	}
	if out, err := verify("carol.pem"); err == nil || !strings.Contains(string(out), "revoked") {
		t.Fatalf("carol: %v %s", err, out)
	}
	if out, err := verify("dave.pem"); err != nil {
		t.Fatalf("dave: %v %s", err, out)
	}

	p.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p.path("noski.key"),
		"-out", p.path("noski.pem"), "-subj", "/CN=No SKI CA", "-days", "30",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
		"-addext", "subjectKeyIdentifier=none", "-addext", "authorityKeyIdentifier=none")
	for _, f := range []string{"noski.pem", "noski.key"} {
		if _, err := s.ImportX509(p.read(f), nil, nil); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, _, err := s.IssueCRL(CRLOptions{CA: "No SKI CA"}); !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), "no subject key identifier") {
		t.Fatalf("no SKI: %v", err)
	}
}

// TestRenewTrustedSelfSigned: renewing a self-signed certificate that was
// made a trust anchor (keys trust) makes its successor one too; before,
// the successor was chosen to sign and its signatures were untrusted
// ("trust anchor is not a CA certificate").
func TestRenewTrustedSelfSigned(t *testing.T) {
	s := newTestStore(t)
	self, err := s.GenerateX509(X509Options{Email: "self@example.org", SelfSigned: true, NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trust(self.Fingerprint); err != nil {
		t.Fatal(err)
	}
	renewed, err := s.GenerateX509(X509Options{Renew: self.Fingerprint, NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	if !renewed.Trusted || !s.isTrusted(renewed.Fingerprint) || !s.isTrusted(self.Fingerprint) {
		t.Fatalf("renewed %+v", renewed)
	}
}

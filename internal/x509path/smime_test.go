package x509path

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/sigalg"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testIssuer is a CA certificate with its key.
type testIssuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	rsaKeysOnce sync.Once
	rsa2048     *rsa.PrivateKey
	rsa1024     *rsa.PrivateKey
)

func testRSAKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	rsaKeysOnce.Do(func() {
		var err error
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	return rsa2048, rsa1024
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serialCounter struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serialCounter.Lock()
	defer serialCounter.Unlock()
	serialCounter.n++
	return big.NewInt(serialCounter.n + 1000)
}

// issueCert signs tmpl (defaults filled in) for pub with parent; a nil
// parent makes a self-signed root with key.
func issueCert(t testing.TB, parent *testIssuer, tmpl *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = nextSerial()
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = testNow.Add(-24 * time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = testNow.Add(365 * 24 * time.Hour)
	}
	issuerCert, signer := tmpl, key
	if parent != nil {
		issuerCert, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, pub, signer)
	if err != nil {
		t.Fatalf("creating certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Mailseal Test"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func issueCRL(t testing.TB, ca *testIssuer, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: testNow.Add(-time.Hour),
		NextUpdate: testNow.Add(7 * 24 * time.Hour),
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: c.SerialNumber, RevocationTime: testNow.Add(-time.Hour), ReasonCode: 1,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

// testPKI is root -> intermediate, both EC P-256, with current CRLs.
type testPKI struct {
	root, inter *testIssuer
	crls        []*x509.RevocationList
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	rootKey, interKey := newECKey(t), newECKey(t)
	root := &testIssuer{key: rootKey}
	root.cert = issueCert(t, nil, caTemplate("Test Root"), rootKey.Public(), rootKey)
	inter := &testIssuer{key: interKey}
	inter.cert = issueCert(t, root, caTemplate("Test Intermediate"), interKey.Public(), nil)
	p := &testPKI{root: root, inter: inter}
	p.crls = []*x509.RevocationList{issueCRL(t, root), issueCRL(t, inter)}
	return p
}

func (p *testPKI) options(purpose Purpose) Options {
	return Options{
		Roots:         []*x509.Certificate{p.root.cert},
		Intermediates: []*x509.Certificate{p.inter.cert},
		CRLs:          p.crls,
		Time:          testNow,
		Purpose:       purpose,
	}
}

type leafSpec struct {
	keyUsage   x509.KeyUsage
	ekus       []x509.ExtKeyUsage
	emails     []string
	subjEmail  string
	sigAlg     x509.SignatureAlgorithm
	commonName string
}

func (p *testPKI) leaf(t testing.TB, spec leafSpec, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:            pkix.Name{CommonName: spec.commonName},
		KeyUsage:           spec.keyUsage,
		ExtKeyUsage:        spec.ekus,
		EmailAddresses:     spec.emails,
		SignatureAlgorithm: spec.sigAlg,
	}
	if tmpl.Subject.CommonName == "" {
		tmpl.Subject.CommonName = "Test Leaf"
	}
	if spec.subjEmail != "" {
		tmpl.Subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidEmailAddress, Value: spec.subjEmail}}
	}
	return issueCert(t, p.inter, tmpl, pub, nil)
}

func wantOK(t *testing.T, leaf *x509.Certificate, opts Options) []*x509.Certificate {
	t.Helper()
	chain, err := Verify(leaf, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return chain
}

// wantFail fails unless Verify refuses leaf with an error containing
// substr, and returns the error.
func wantFail(t *testing.T, leaf *x509.Certificate, opts Options, substr string) error {
	t.Helper()
	_, err := Verify(leaf, opts)
	if err == nil {
		t.Fatalf("Verify accepted, want an error containing %q", substr)
	}
	if !errors.Is(err, core.ErrVerification) {
		t.Errorf("error does not wrap ErrVerification: %v", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
	return err
}

// wantRefused fails unless err says a signature or key was refused (by
// policy, or unsupported), not that a signature is invalid.
func wantRefused(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, sigalg.ErrRefused) || errors.Is(err, sigalg.ErrInvalid) {
		t.Errorf("not a refusal: %v", err)
	}
}

func TestVerifyGoodSigningChain(t *testing.T) {
	p := newTestPKI(t)
	leaf := p.leaf(t, leafSpec{
		keyUsage: x509.KeyUsageDigitalSignature,
		ekus:     []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		emails:   []string{"alice@example.com"},
	}, newECKey(t).Public())
	opts := p.options(Signing)
	opts.Email = "alice@example.com"
	chain := wantOK(t, leaf, opts)
	if len(chain) != 3 || chain[0] != leaf || chain[2] != p.root.cert {
		t.Fatalf("chain = %v", chain)
	}
}

func TestKeyUsageForPurpose(t *testing.T) {
	p := newTestPKI(t)
	rsaKey, _ := testRSAKeys(t)
	ecPub := newECKey(t).Public()

	encRSA := p.leaf(t, leafSpec{keyUsage: x509.KeyUsageKeyEncipherment}, rsaKey.Public())
	wantFail(t, encRSA, p.options(Signing), "neither digitalSignature nor nonRepudiation")
	wantOK(t, encRSA, p.options(Encryption))

	nonRep := p.leaf(t, leafSpec{keyUsage: x509.KeyUsageContentCommitment}, ecPub)
	wantOK(t, nonRep, p.options(Signing))

	sigEC := p.leaf(t, leafSpec{keyUsage: x509.KeyUsageDigitalSignature}, ecPub)
	wantFail(t, sigEC, p.options(Encryption), "keyAgreement")
	agreeEC := p.leaf(t, leafSpec{keyUsage: x509.KeyUsageKeyAgreement}, ecPub)
	wantOK(t, agreeEC, p.options(Encryption))
	wantFail(t, agreeEC, p.options(Signing), "digitalSignature")

	sigRSA := p.leaf(t, leafSpec{keyUsage: x509.KeyUsageDigitalSignature}, rsaKey.Public())
	wantFail(t, sigRSA, p.options(Encryption), "keyEncipherment")

	noKU := p.leaf(t, leafSpec{}, ecPub)
	wantOK(t, noKU, p.options(Signing))
	wantOK(t, noKU, p.options(Encryption))

	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edLeaf := p.leaf(t, leafSpec{}, edPub)
	wantOK(t, edLeaf, p.options(Signing))
	wantFail(t, edLeaf, p.options(Encryption), "cannot receive encrypted messages")

	if _, err := Verify(noKU, p.options(0)); !errors.Is(err, core.ErrUsage) {
		t.Errorf("Purpose unset: err = %v, want ErrUsage", err)
	}
}

func TestExtendedKeyUsage(t *testing.T) {
	p := newTestPKI(t)
	pub := newECKey(t).Public()
	server := p.leaf(t, leafSpec{ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, pub)
	wantFail(t, server, p.options(Signing), "emailProtection")
	anyEKU := p.leaf(t, leafSpec{ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, pub)
	wantOK(t, anyEKU, p.options(Signing))
	email := p.leaf(t, leafSpec{ekus: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageEmailProtection}}, pub)
	wantOK(t, email, p.options(Encryption))
	// The S/MIME checks can be switched off for plain RFC 5280 tests.
	opts := p.options(0)
	opts.SkipSMIMEChecks = true
	wantOK(t, server, opts)
}

func TestEmailMatch(t *testing.T) {
	p := newTestPKI(t)
	pub := newECKey(t).Public()
	withSAN := p.leaf(t, leafSpec{emails: []string{"Alice@Example.COM", "a2@example.net"}, subjEmail: "subject@example.org"}, pub)
	for email, ok := range map[string]bool{
		"Alice@example.com":   true, // domain case-insensitive
		"Alice@EXAMPLE.com":   true,
		"a2@example.net":      true,
		"alice@example.com":   false, // local part exact
		"subject@example.org": false, // subject emailAddress ignored when a SAN rfc822Name exists
		"bob@example.com":     false,
	} {
		opts := p.options(Signing)
		opts.Email = email
		_, err := Verify(withSAN, opts)
		if (err == nil) != ok {
			t.Errorf("Email %q: err = %v, want ok=%v", email, err, ok)
		}
	}
	subjectOnly := p.leaf(t, leafSpec{subjEmail: "Bob@Example.org"}, pub)
	opts := p.options(Signing)
	opts.Email = "Bob@example.ORG"
	wantOK(t, subjectOnly, opts)
	opts.Email = "bob@example.org"
	wantFail(t, subjectOnly, opts, "not issued for bob@example.org")
	none := p.leaf(t, leafSpec{}, pub)
	wantFail(t, none, opts, "not issued for")
}

func TestRSAKeySize(t *testing.T) {
	p := newTestPKI(t)
	_, small := testRSAKeys(t)
	leaf := p.leaf(t, leafSpec{}, small.Public())
	wantRefused(t, wantFail(t, leaf, p.options(Signing), "RSA key of 1024 bits, policy requires 2048"))
	opts := p.options(Signing)
	opts.MinRSABits = 1024
	wantOK(t, leaf, opts)
}

func TestSHA1Refused(t *testing.T) {
	p := newTestPKI(t)
	leaf := p.leaf(t, leafSpec{sigAlg: x509.ECDSAWithSHA1}, newECKey(t).Public())
	wantRefused(t, wantFail(t, leaf, p.options(Signing), "SHA-1"))
	opts := p.options(Signing)
	opts.AllowSHA1 = true
	wantOK(t, leaf, opts)
}

func TestSignatureAlgorithms(t *testing.T) {
	rsaKey, _ := testRSAKeys(t)
	rootKey := newECKey(t)
	root := &testIssuer{key: rootKey}
	root.cert = issueCert(t, nil, caTemplate("Alg Root"), rootKey.Public(), rootKey)
	// RSA intermediate signing its leaf with RSA-PSS.
	rsaInter := &testIssuer{key: rsaKey}
	rsaInter.cert = issueCert(t, root, caTemplate("RSA Intermediate"), rsaKey.Public(), nil)
	pssLeaf := issueCert(t, rsaInter, &x509.Certificate{Subject: pkix.Name{CommonName: "PSS leaf"}, SignatureAlgorithm: x509.SHA256WithRSAPSS}, newECKey(t).Public(), nil)
	// Ed25519 intermediate.
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edInter := &testIssuer{key: edPriv}
	edInter.cert = issueCert(t, root, caTemplate("Ed25519 Intermediate"), edPub, nil)
	edLeaf := issueCert(t, edInter, &x509.Certificate{Subject: pkix.Name{CommonName: "Ed25519-signed leaf"}}, newECKey(t).Public(), nil)

	opts := Options{
		Roots:         []*x509.Certificate{root.cert},
		Intermediates: []*x509.Certificate{edInter.cert, rsaInter.cert},
		CRLs:          []*x509.RevocationList{issueCRL(t, root), issueCRL(t, rsaInter), issueCRL(t, edInter)},
		Time:          testNow,
		Purpose:       Signing,
	}
	wantOK(t, pssLeaf, opts)
	wantOK(t, edLeaf, opts)
	// A tampered signature fails.
	bad := *edLeaf
	bad.Signature = append([]byte(nil), edLeaf.Signature...)
	bad.Signature[3] ^= 1
	if err := wantFail(t, &bad, opts, "bad Ed25519 signature"); !errors.Is(err, sigalg.ErrInvalid) || errors.Is(err, sigalg.ErrRefused) {
		t.Errorf("a tampered signature is not invalid: %v", err)
	}
}

func TestRevocationAndMissingCRL(t *testing.T) {
	p := newTestPKI(t)
	leaf := p.leaf(t, leafSpec{}, newECKey(t).Public())
	opts := p.options(Signing)
	opts.CRLs = []*x509.RevocationList{p.crls[0], issueCRL(t, p.inter, leaf)}
	wantFail(t, leaf, opts, "revoked (keyCompromise)")

	opts.CRLs = []*x509.RevocationList{p.crls[0]}
	wantFail(t, leaf, opts, `certificate "CN=Test Leaf": no CRL for it`)
	opts.CRLs = []*x509.RevocationList{p.crls[1]}
	wantFail(t, leaf, opts, `certificate "CN=Test Intermediate,O=Mailseal Test": no CRL for it`)

	opts = p.options(Signing)
	opts.Time = testNow.Add(30 * 24 * time.Hour) // after the CRLs' nextUpdate
	wantFail(t, leaf, opts, "out of date")
}

func TestCRLsOptional(t *testing.T) {
	p := newTestPKI(t)
	leaf := p.leaf(t, leafSpec{}, newECKey(t).Public())
	opts := p.options(Signing)
	opts.CRLsOptional = true
	opts.CRLs = nil
	res, err := VerifyResult(leaf, opts)
	if err != nil {
		t.Fatalf("no CRLs, optional: %v", err)
	}
	if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "revocation status unknown") {
		t.Fatalf("warnings %q, want one per certificate below the anchor", res.Warnings)
	}
	// A valid CRL that lists the leaf still fails.
	opts.CRLs = []*x509.RevocationList{p.crls[0], issueCRL(t, p.inter, leaf)}
	wantFail(t, leaf, opts, "revoked (keyCompromise)")
	// Covered by CRLs: no warnings.
	opts = p.options(Signing)
	opts.CRLsOptional = true
	res, err = VerifyResult(leaf, opts)
	if err != nil || len(res.Warnings) != 0 {
		t.Fatalf("with CRLs: %v, warnings %q", err, res.Warnings)
	}
}

func TestNoPathAndExpiry(t *testing.T) {
	p := newTestPKI(t)
	leaf := p.leaf(t, leafSpec{}, newECKey(t).Public())
	opts := p.options(Signing)
	opts.Intermediates = nil
	wantFail(t, leaf, opts, "no path to a trust anchor")
	opts = p.options(Signing)
	opts.Time = testNow.Add(2 * 365 * 24 * time.Hour)
	wantFail(t, leaf, opts, "expired")
	other := newTestPKI(t)
	opts = p.options(Signing)
	opts.Roots = []*x509.Certificate{other.root.cert}
	wantFail(t, leaf, opts, "no path")
}

// TestOlderCRLFirst: an earlier CRL of the issuer, still current, that
// comes before the one listing the revocation (a replayed CRL, one a
// message carries, or the order files are read in) does not hide it.
func TestOlderCRLFirst(t *testing.T) {
	p := newTestPKI(t)
	leaf := p.leaf(t, leafSpec{}, newECKey(t).Public())
	opts := p.options(Signing)
	older := p.crls[1] // lists nothing
	opts.CRLs = []*x509.RevocationList{p.crls[0], older, issueCRL(t, p.inter, leaf)}
	wantFail(t, leaf, opts, "revoked (keyCompromise)")
}

// TestSelfSignedNotAnchor: a self-signed certificate that is not a trust
// anchor is said to be that, not "issuer ... not found" (its issuer is
// itself, so the old text sent its owner looking for a CA).
func TestSelfSignedNotAnchor(t *testing.T) {
	p := newTestPKI(t)
	key := newECKey(t)
	self := issueCert(t, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "self@example.org"}, EmailAddresses: []string{"self@example.org"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}, key.Public(), key)
	err := wantFail(t, self, p.options(Signing), "self-signed and not a trust anchor")
	if strings.Contains(err.Error(), "not found") {
		t.Fatalf("error %q", err)
	}
	// One that only claims to be its own issuer (another key of that name
	// signed it) is still "not found".
	other := newECKey(t)
	namesake := issueCert(t, nil, &x509.Certificate{Subject: self.Subject}, other.Public(), other)
	forged := issueCert(t, &testIssuer{cert: namesake, key: other}, &x509.Certificate{Subject: self.Subject}, newECKey(t).Public(), nil)
	wantFail(t, forged, p.options(Signing), "not found among the roots")
}

// A chain that ends at a CA the caller has but does not trust names that
// CA (issue 15 review: the error named only the leaf's issuer, as if it
// were missing, when it was in the keystore and untrusted).
func TestUntrustedCANamed(t *testing.T) {
	p := newTestPKI(t)
	key := newECKey(t)
	leaf := issueCert(t, p.inter, &x509.Certificate{Subject: pkix.Name{CommonName: "a@example.org"}, EmailAddresses: []string{"a@example.org"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}, key.Public(), nil)
	opts := p.options(Signing)
	opts.Roots = nil
	opts.Intermediates = append(opts.Intermediates, p.root.cert)
	wantFail(t, leaf, opts, `its chain ends at the CA "CN=Test Root,O=Mailseal Test", which is not a trust anchor`)
	// Without the root at all: the issuer is not found.
	opts.Intermediates = opts.Intermediates[:1]
	wantFail(t, leaf, opts, "no path to a trust anchor")
}

package x509path

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"testing"
	"time"
)

// chainSpec describes anchor -> cas... -> leaf; nil templates take defaults.
type chainSpec struct {
	anchor *x509.Certificate   // default caTemplate("Spec Root")
	cas    []*x509.Certificate // intermediate CAs, the anchor's child first
	leaf   *x509.Certificate   // default an S/MIME signing certificate for alice@example.org
	// noAnchorCRL: the anchor cannot sign a CRL (crypto/x509 refuses
	// non-CA issuers); revocation of its children is then optional.
	noAnchorCRL bool
}

// build issues the chain (EC P-256 keys, a current CRL from every CA) and
// returns the leaf and Options for it.
func (s chainSpec) build(t *testing.T) (*x509.Certificate, Options) {
	t.Helper()
	if s.anchor == nil {
		s.anchor = caTemplate("Spec Root")
	}
	rootKey := newECKey(t)
	issuer := &testIssuer{key: rootKey}
	issuer.cert = issueCert(t, nil, s.anchor, rootKey.Public(), rootKey)
	opts := Options{Roots: []*x509.Certificate{issuer.cert}, Time: testNow, Purpose: Signing}
	if s.noAnchorCRL {
		opts.CRLsOptional = true
	} else {
		opts.CRLs = append(opts.CRLs, issueCRL(t, issuer))
	}
	for _, tmpl := range s.cas {
		key := newECKey(t)
		next := &testIssuer{key: key}
		next.cert = issueCert(t, issuer, tmpl, key.Public(), nil)
		next.key = key
		opts.Intermediates = append(opts.Intermediates, next.cert)
		opts.CRLs = append(opts.CRLs, issueCRL(t, next))
		issuer = next
	}
	if s.leaf == nil {
		s.leaf = smimeLeafTemplate("alice@example.org")
	}
	return issueCert(t, issuer, s.leaf, newECKey(t).Public(), nil), opts
}

func smimeLeafTemplate(email string) *x509.Certificate {
	return &x509.Certificate{
		Subject:        pkix.Name{CommonName: email},
		EmailAddresses: []string{email},
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
}

func withPathLen(tmpl *x509.Certificate, n int) *x509.Certificate {
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = n, n == 0
	return tmpl
}

func withEKU(tmpl *x509.Certificate, ekus ...x509.ExtKeyUsage) *x509.Certificate {
	tmpl.ExtKeyUsage = ekus
	return tmpl
}

// The trust anchor's pathLenConstraint counts the CA certificates below
// it, as OpenSSL and NSS count them (issue 12, item 5: keys generate --ca
// makes pathlen:0 CAs).
func TestAnchorPathLenConstraint(t *testing.T) {
	leaf, opts := chainSpec{anchor: withPathLen(caTemplate("Root Zero"), 0), cas: []*x509.Certificate{caTemplate("Sub CA")}}.build(t)
	wantFail(t, leaf, opts, `certificate "CN=Sub CA,O=Mailseal Test": path length constraint of trust anchor "CN=Root Zero,O=Mailseal Test" exceeded (pathLenConstraint 0)`)

	leaf, opts = chainSpec{anchor: withPathLen(caTemplate("Root Zero"), 0)}.build(t)
	wantOK(t, leaf, opts)

	leaf, opts = chainSpec{anchor: withPathLen(caTemplate("Root One"), 1), cas: []*x509.Certificate{caTemplate("Sub CA")}}.build(t)
	wantOK(t, leaf, opts)
	leaf, opts = chainSpec{anchor: withPathLen(caTemplate("Root One"), 1), cas: []*x509.Certificate{caTemplate("Sub CA"), caTemplate("Sub Sub CA")}}.build(t)
	wantFail(t, leaf, opts, `path length constraint of trust anchor "CN=Root One,O=Mailseal Test" exceeded (pathLenConstraint 1)`)

	// A self-issued CA certificate (a new key under the anchor's name) does not count.
	leaf, opts = chainSpec{anchor: withPathLen(caTemplate("Root Zero"), 0), cas: []*x509.Certificate{caTemplate("Root Zero")}}.build(t)
	chain := wantOK(t, leaf, opts)
	if len(chain) != 3 {
		t.Fatalf("self-issued path has %d certificates, want 3", len(chain))
	}

	// An intermediate's own constraint is still named as such.
	leaf, opts = chainSpec{cas: []*x509.Certificate{withPathLen(caTemplate("Sub Zero"), 0), caTemplate("Below")}}.build(t)
	wantFail(t, leaf, opts, `certificate "CN=Below,O=Mailseal Test": path length constraint of "CN=Sub Zero,O=Mailseal Test" exceeded (pathLenConstraint 0)`)
}

// The trust anchor's name constraints bind every certificate below it.
func TestAnchorNameConstraints(t *testing.T) {
	anchor := func() *x509.Certificate {
		tmpl := caTemplate("Example.org Root")
		tmpl.PermittedEmailAddresses = []string{"example.org"}
		return tmpl
	}
	leaf, opts := chainSpec{anchor: anchor(), cas: []*x509.Certificate{caTemplate("Sub CA")}, leaf: smimeLeafTemplate("mallory@evil.org")}.build(t)
	wantFail(t, leaf, opts, `certificate "CN=mallory@evil.org": name constraints: email address "mallory@evil.org" is outside the permitted subtrees of trust anchor "CN=Example.org Root,O=Mailseal Test"`)
	leaf, opts = chainSpec{anchor: anchor(), leaf: smimeLeafTemplate("mallory@evil.org")}.build(t)
	wantFail(t, leaf, opts, "outside the permitted subtrees of trust anchor")
	leaf, opts = chainSpec{anchor: anchor(), cas: []*x509.Certificate{caTemplate("Sub CA")}}.build(t)
	wantOK(t, leaf, opts)

	excluding := caTemplate("Excluding Root")
	excluding.ExcludedEmailAddresses = []string{"evil.org"}
	leaf, opts = chainSpec{anchor: excluding, leaf: smimeLeafTemplate("mallory@evil.org")}.build(t)
	wantFail(t, leaf, opts, `is in an excluded subtree of trust anchor "CN=Excluding Root,O=Mailseal Test"`)
}

// EKU nesting (issue 12, item 8): every CA certificate of an S/MIME path,
// the anchor included, that has an extendedKeyUsage extension must allow
// emailProtection or anyExtendedKeyUsage, as the leaf must.
func TestCAExtendedKeyUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		ekus []x509.ExtKeyUsage
		fail string
	}{
		{"serverAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			`certificate "CN=Sub CA,O=Mailseal Test": extended key usage (serverAuth) has neither emailProtection nor anyExtendedKeyUsage, so this CA cannot certify S/MIME certificates`},
		{"serverAuth+clientAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, "(serverAuth, clientAuth)"},
		{"any", []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, ""},
		{"email", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageEmailProtection}, ""},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, opts := chainSpec{cas: []*x509.Certificate{withEKU(caTemplate("Sub CA"), tc.ekus...)}}.build(t)
			if tc.fail == "" {
				wantOK(t, leaf, opts)
			} else {
				wantFail(t, leaf, opts, tc.fail)
			}
			// RFC 5280 has no EKU nesting: plain conformance runs ignore it.
			opts.SkipSMIMEChecks = true
			wantOK(t, leaf, opts)
		})
	}

	// The anchor's EKU counts too.
	leaf, opts := chainSpec{anchor: withEKU(caTemplate("TLS Root"), x509.ExtKeyUsageServerAuth), cas: []*x509.Certificate{caTemplate("Sub CA")}}.build(t)
	wantFail(t, leaf, opts, `certificate "CN=TLS Root,O=Mailseal Test": trust anchor extended key usage (serverAuth) has neither emailProtection nor anyExtendedKeyUsage, so it cannot certify S/MIME certificates`)
	// Recipients' certificates too.
	encLeaf := smimeLeafTemplate("bob@example.org")
	encLeaf.KeyUsage = x509.KeyUsageKeyAgreement
	leaf, opts = chainSpec{cas: []*x509.Certificate{withEKU(caTemplate("Sub CA"), x509.ExtKeyUsageServerAuth)}, leaf: encLeaf}.build(t)
	opts.Purpose = Encryption
	wantFail(t, leaf, opts, "so this CA cannot certify S/MIME certificates")
}

// A certificate trust anchor is checked like the certificates below it for
// what does not depend on an issuer: validity, being a CA, critical
// extensions.
func TestAnchorOwnChecks(t *testing.T) {
	expired := caTemplate("Old Root")
	expired.NotBefore, expired.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-time.Hour)
	leaf, opts := chainSpec{anchor: expired}.build(t)
	wantFail(t, leaf, opts, `certificate "CN=Old Root,O=Mailseal Test": trust anchor expired at`)

	notYet := caTemplate("Future Root")
	notYet.NotBefore = testNow.Add(time.Hour)
	leaf, opts = chainSpec{anchor: notYet}.build(t)
	wantFail(t, leaf, opts, "trust anchor not valid before")

	notCA := caTemplate("Not A CA")
	notCA.IsCA = false
	leaf, opts = chainSpec{anchor: notCA, noAnchorCRL: true}.build(t)
	wantFail(t, leaf, opts, `trust anchor is not a CA certificate (basicConstraints cA false) but issued "CN=alice@example.org"`)

	noCertSign := caTemplate("CRL Only")
	noCertSign.KeyUsage = x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	leaf, opts = chainSpec{anchor: noCertSign}.build(t)
	wantFail(t, leaf, opts, "trust anchor key usage does not allow keyCertSign")

	critical := caTemplate("Critical Root")
	critical.ExtraExtensions = []pkix.Extension{{Id: []int{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{5, 0}}}
	leaf, opts = chainSpec{anchor: critical}.build(t)
	wantFail(t, leaf, opts, "trust anchor unknown critical extension [1.3.6.1.4.1.99999.1]")

	// Without basicConstraints the anchor is the (name, key) of RFC 5280 §6.1.
	bare := caTemplate("Bare Root")
	bare.BasicConstraintsValid, bare.IsCA, bare.KeyUsage = false, false, 0
	leaf, opts = chainSpec{anchor: bare, noAnchorCRL: true}.build(t)
	wantOK(t, leaf, opts)
}

// A certificate trusted as it is, with no path, must still be valid now.
func TestDirectlyTrustedLeafValidity(t *testing.T) {
	key := newECKey(t)
	tmpl := smimeLeafTemplate("eve@example.org")
	tmpl.NotBefore, tmpl.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-time.Hour)
	self := issueCert(t, nil, tmpl, key.Public(), key)
	opts := Options{Roots: []*x509.Certificate{self}, Time: testNow, Purpose: Signing}
	wantFail(t, self, opts, `certificate "CN=eve@example.org": trust anchor expired at`)
	opts.Time = testNow.Add(-24 * time.Hour)
	wantOK(t, self, opts)
}

// TestNoPathOnlyWhenSearchedThrough: ErrNoPath means every candidate was
// tried and none led to an anchor; a search a limit cut short (here a
// chain deeper than maxPathDepth) is a plain failure, since a path may lie
// past where it stopped, and a path that failed is not "no path" either.
func TestNoPathOnlyWhenSearchedThrough(t *testing.T) {
	short := chainSpec{cas: []*x509.Certificate{caTemplate("CA 1")}}
	leaf, opts := short.build(t)
	if _, err := Verify(leaf, opts); err != nil {
		t.Fatalf("control: %v", err)
	}
	untrusted := opts
	untrusted.Roots = nil
	untrusted.Intermediates = append(untrusted.Intermediates[:len(untrusted.Intermediates):len(untrusted.Intermediates)], opts.Roots...)
	if _, err := Verify(leaf, untrusted); !errors.Is(err, ErrNoPath) {
		t.Errorf("chain to an untrusted root: %v, want ErrNoPath", err)
	}
	expired := opts
	var cas []*x509.Certificate
	for i := range maxPathDepth + 1 {
		cas = append(cas, caTemplate(fmt.Sprintf("CA %d", i)))
	}
	deep, dopts := chainSpec{cas: cas}.build(t)
	dopts.Roots = nil
	if _, err := Verify(deep, dopts); err == nil || errors.Is(err, ErrNoPath) {
		t.Errorf("a search cut at depth %d: %v, want an error that is not ErrNoPath", maxPathDepth, err)
	}
	expired.Time = leaf.NotAfter.Add(time.Hour)
	if _, err := Verify(leaf, expired); err == nil || errors.Is(err, ErrNoPath) {
		t.Errorf("an expired leaf with a path: %v, want an error that is not ErrNoPath", err)
	}
}

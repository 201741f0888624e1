package x509path

import (
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// fuzzHarness is a fixed, deterministic PKI (Ed25519 keys from constant
// seeds, so its DER is the same in every run): root -> intermediate -> leaf,
// with CRLs, plus certificates and CRLs that carry the extensions Verify
// parses itself.
type fuzzHarness struct {
	root, inter *x509.Certificate
	leaf        *x509.Certificate
	crls        []*x509.RevocationList
	seedCerts   [][]byte
	seedCRLs    [][]byte
}

func fuzzKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	return ed25519.NewKeyFromSeed(seed)
}

func mustMarshal(t testing.TB, v any) []byte {
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func newFuzzHarness(t testing.TB) *fuzzHarness {
	rootKey, interKey, leafKey := fuzzKey(1), fuzzKey(2), fuzzKey(3)
	notBefore := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(serial int64, tmpl *x509.Certificate, parent *x509.Certificate, pub ed25519.PublicKey, key ed25519.PrivateKey) *x509.Certificate {
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(nil, tmpl, parent, pub, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	h := &fuzzHarness{}
	oidP1, oidP2 := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 2, 1, 48, 1}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 2, 1, 48, 2}
	type mapping struct{ From, To asn1.ObjectIdentifier }
	type policyConstraints struct {
		Require int `asn1:"optional,tag:0"`
		Inhibit int `asn1:"optional,tag:1"`
	}
	rootTmpl := caTemplate("Fuzz Root")
	h.root = mk(1, rootTmpl, nil, rootKey.Public().(ed25519.PublicKey), rootKey)
	interTmpl := caTemplate("Fuzz Intermediate")
	interTmpl.PermittedDNSDomains = []string{"example.com"}
	interTmpl.ExcludedEmailAddresses = []string{".bad.example.com"}
	interTmpl.PermittedURIDomains = []string{".example.com"}
	interTmpl.PolicyIdentifiers = []asn1.ObjectIdentifier{oidP1, {2, 5, 29, 32, 0}}
	interTmpl.ExtraExtensions = []pkix.Extension{
		{Id: oidPolicyMappings, Value: mustMarshal(t, []mapping{{oidP1, oidP2}})},
		{Id: oidPolicyConstraints, Critical: true, Value: mustMarshal(t, policyConstraints{Require: 2, Inhibit: 3})},
		{Id: oidInhibitAnyPolicy, Critical: true, Value: mustMarshal(t, 1)},
	}
	h.inter = mk(2, interTmpl, h.root, interKey.Public().(ed25519.PublicKey), rootKey)
	leafTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Fuzz Leaf"},
		EmailAddresses:        []string{"leaf@example.com"},
		DNSNames:              []string{"mail.example.com"},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		PolicyIdentifiers:     []asn1.ObjectIdentifier{oidP2},
		CRLDistributionPoints: []string{"http://crl.example.com/inter.crl"},
	}
	h.leaf = mk(3, leafTmpl, h.inter, leafKey.Public().(ed25519.PublicKey), interKey)

	mkCRL := func(number int64, issuer *x509.Certificate, key ed25519.PrivateKey, extra []pkix.Extension, revoked ...int64) *x509.RevocationList {
		tmpl := &x509.RevocationList{
			Number:          big.NewInt(number),
			ThisUpdate:      notBefore,
			NextUpdate:      notAfter,
			ExtraExtensions: extra,
		}
		for _, s := range revoked {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: notBefore, ReasonCode: 1})
		}
		der, err := x509.CreateRevocationList(nil, tmpl, issuer, key)
		if err != nil {
			t.Fatal(err)
		}
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		h.seedCRLs = append(h.seedCRLs, der)
		return rl
	}
	type idpName struct {
		FullName []asn1.RawValue `asn1:"tag:0"`
	}
	idp := struct {
		DP        idpName `asn1:"optional,explicit,tag:0"`
		UserCerts bool    `asn1:"optional,tag:1"`
	}{DP: idpName{FullName: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("http://crl.example.com/inter.crl")}}}, UserCerts: true}
	h.crls = []*x509.RevocationList{
		mkCRL(1, h.root, rootKey, nil),
		mkCRL(1, h.inter, interKey, nil, 99),
		mkCRL(2, h.inter, interKey, []pkix.Extension{{Id: oidIssuingDistributionPoint, Critical: true, Value: mustMarshal(t, idp)}}),
		mkCRL(3, h.inter, interKey, []pkix.Extension{{Id: oidDeltaCRLIndicator, Critical: true, Value: mustMarshal(t, 1)}}, 3),
	}
	h.seedCerts = [][]byte{h.leaf.Raw, h.inter.Raw, h.root.Raw}
	return h
}

func (h *fuzzHarness) options(crls []*x509.RevocationList, intermediates ...*x509.Certificate) Options {
	return Options{
		Roots:         []*x509.Certificate{h.root},
		Intermediates: intermediates,
		CRLs:          crls,
		Time:          time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Purpose:       Signing,
		Email:         "leaf@example.com",
	}
}

func TestFuzzHarnessValidates(t *testing.T) {
	h := newFuzzHarness(t)
	// The delta CRL (number 3, base 1) revokes the leaf.
	if _, err := Verify(h.leaf, h.options(h.crls[:3], h.inter)); err != nil {
		t.Fatalf("harness leaf: %v", err)
	}
	if _, err := Verify(h.leaf, h.options(h.crls, h.inter)); err == nil {
		t.Fatal("harness leaf revoked by the delta CRL was accepted")
	}
}

// FuzzVerify feeds arbitrary certificate and CRL DER through
// ParseCertificate and Verify, as a leaf and as an intermediate, in a fixed
// PKI. Nothing may panic.
func FuzzVerify(f *testing.F) {
	h := newFuzzHarness(f)
	for _, c := range h.seedCerts {
		for _, rl := range h.seedCRLs {
			f.Add(c, rl)
		}
	}
	f.Add([]byte{0x30, 0x00}, []byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, certDER, crlDER []byte) {
		crls := h.crls
		if rl, err := x509.ParseRevocationList(crlDER); err == nil {
			crls = append(append([]*x509.RevocationList(nil), crls...), rl)
		}
		cert, err := ParseCertificate(certDER)
		if err != nil {
			// The CRL alone still goes through revocation checking.
			_, _ = Verify(h.leaf, h.options(crls, h.inter))
			return
		}
		for _, purpose := range []Purpose{Signing, Encryption} {
			opts := h.options(crls, h.inter, cert)
			opts.Purpose = purpose
			_, _ = Verify(cert, opts)
		}
		_, _ = Verify(h.leaf, h.options(crls, cert, h.inter))
		opts := h.options(crls, h.inter)
		opts.Roots = append(opts.Roots, cert)
		opts.SkipSMIMEChecks = true
		_, _ = Verify(h.leaf, opts)
	})
}

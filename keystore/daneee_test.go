package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/smime"
)

// TestDANEEEHoldsPolicy: a DNSSEC-validated SMIMEA record of usage 3
// stands in for a CA only where no CA path exists. It does not lift what
// the policy or a CA says about the certificate: an RSA-1024 key, a
// certificate its trusted CA revoked, or a CA certificate are refused as
// they are without the record, while a sound end-entity certificate is
// accepted with the DANE-EE warning (the control).
func TestDANEEEHoldsPolicy(t *testing.T) {
	daneProv := func(addr string) Provenance {
		return Provenance{Source: SourceDANE, DNSSEC: true, DANEUsage: 3, Address: addr, URL: "x._smimecert.example.org"}
	}
	mk := func(addr string, key crypto.Signer, isCA bool, issuer *x509.Certificate, issuerKey crypto.Signer, serial int64) []byte {
		t.Helper()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: addr},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage:       x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageDigitalSignature,
			ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
			EmailAddresses: []string{addr},
		}
		if isCA {
			tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
			tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		}
		if issuer == nil {
			issuer, issuerKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	p256 := func() crypto.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	recipient := func(s *Store, addr string) (int, string, []string) {
		t.Helper()
		keys, why, err := s.Session(SessionOptions{}).RecipientKeys(mailseal.ProtocolSMIME, addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			return 0, why, nil
		}
		return len(keys), why, keys[0].(smime.Recipient).Warnings
	}

	s := newStore(t)
	// Control: a self-signed P-256 end-entity certificate.
	if _, err := s.importCertFrom(mk("ok@example.org", p256(), false, nil, nil, 1), daneProv("ok@example.org")); err != nil {
		t.Fatal(err)
	}
	if n, why, w := recipient(s, "ok@example.org"); n != 1 || len(w) == 0 || !strings.Contains(w[len(w)-1], "DANE-EE") {
		t.Fatalf("control: %d %q %q", n, why, w)
	}

	// RSA-1024: the policy's key size holds.
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.importCertFrom(mk("weak@example.org", weak, false, nil, nil, 2), daneProv("weak@example.org")); err != nil {
		t.Fatal(err)
	}
	if n, why, _ := recipient(s, "weak@example.org"); n != 0 || !strings.Contains(why, "1024") {
		t.Errorf("RSA-1024 DANE-EE accepted or refused for another reason: %d %q", n, why)
	}

	// A CA certificate is not an end-entity certificate.
	if _, err := s.importCertFrom(mk("ca@example.org", p256(), true, nil, nil, 3), daneProv("ca@example.org")); err != nil {
		t.Fatal(err)
	}
	if n, why, _ := recipient(s, "ca@example.org"); n != 0 {
		t.Errorf("cA=true DANE-EE accepted: %q", why)
	}
	// Nor is one that may sign certificates without being cA.
	signerKey := p256()
	ksTmpl := &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "ks@example.org"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:       x509.KeyUsageKeyAgreement | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		EmailAddresses: []string{"ks@example.org"}}
	ksDER, err := x509.CreateCertificate(rand.Reader, ksTmpl, ksTmpl, signerKey.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.importCertFrom(ksDER, daneProv("ks@example.org")); err != nil {
		t.Fatal(err)
	}
	if n, why, _ := recipient(s, "ks@example.org"); n != 0 {
		t.Errorf("keyCertSign DANE-EE accepted: %q", why)
	}

	// Revoked by the trusted CA that issued it: the CA's word stands.
	caKey := p256()
	caDER := mk("CA", caKey, true, nil, nil, 4)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(99), RevocationTime: time.Now().Add(-time.Minute)}}}, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportX509(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trust(CertFingerprint(ca)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportX509(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.importCertFrom(mk("r@example.org", p256(), false, ca, caKey, 99), daneProv("r@example.org")); err != nil {
		t.Fatal(err)
	}
	if n, why, _ := recipient(s, "r@example.org"); n != 0 || !strings.Contains(why, "revoked") {
		t.Errorf("revoked DANE-EE accepted or refused for another reason: %d %q", n, why)
	}
}

// TestDANEEEMaxAge: a DANE-EE record vouches for DANEEEMaxAge after DNSSEC
// last confirmed it; finding the same validated record again confirms it
// anew, while an unvalidated answer or one for another address does not.
func TestDANEEEMaxAge(t *testing.T) {
	s := newStore(t)
	der := smimeaCert(t, "old@example.org").Raw
	prov := func(addr string, dnssec bool, at time.Time) Provenance {
		return Provenance{Source: SourceDANE, DNSSEC: dnssec, DANEUsage: 3, Address: addr, URL: "x._smimecert.example.org", Time: at}
	}
	found := func() (int, string) {
		t.Helper()
		keys, why, err := s.Session(SessionOptions{}).RecipientKeys(mailseal.ProtocolSMIME, "old@example.org")
		if err != nil {
			t.Fatal(err)
		}
		return len(keys), why
	}
	eightDays := time.Now().Add(-8 * 24 * time.Hour).UTC()
	if _, err := s.importCertFrom(der, prov("old@example.org", true, eightDays)); err != nil {
		t.Fatal(err)
	}
	if n, why := found(); n != 0 || !strings.Contains(why, "last confirmed by DNSSEC") || !strings.Contains(why, "keys locate --import --methods smimea") {
		t.Fatalf("stale DANE-EE record: %d %q", n, why)
	}
	// Found again, but not validated, or for another address: still stale.
	if _, err := s.importCertFrom(der, prov("old@example.org", false, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.importCertFrom(der, prov("other@example.org", true, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	if n, why := found(); n != 0 {
		t.Fatalf("an unvalidated or foreign answer confirmed the record: %q", why)
	}
	// The same validated record again: confirmed, encrypted to.
	if _, err := s.importCertFrom(der, prov("old@example.org", true, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	if n, why := found(); n != 1 {
		t.Fatalf("confirmed DANE-EE record refused: %q", why)
	}
	fpr := CertFingerprint(mustParse(t, der))
	p, err := s.X509Provenance(fpr)
	if err != nil || !p.Time.Equal(eightDays) || time.Since(p.DNSSECConfirmed) > time.Minute {
		t.Errorf("record: %+v %v (want its first time kept, DNSSECConfirmed now)", p, err)
	}

	// A confirmation time in the future is refused as such, and a current
	// look-up replaces it.
	future := time.Now().Add(48 * time.Hour).UTC()
	setRecord := func(change func(*Provenance)) {
		t.Helper()
		if err := s.updateProvenance(func(recs *provenanceRecords) {
			p := recs.X509[fpr]
			change(&p)
			recs.X509[fpr] = p
		}); err != nil {
			t.Fatal(err)
		}
	}
	setRecord(func(p *Provenance) { p.DNSSECConfirmed = future })
	if n, why := found(); n != 0 || !strings.Contains(why, "in the future") {
		t.Fatalf("future confirmation: %d %q", n, why)
	}
	if _, err := s.importCertFrom(der, prov("old@example.org", true, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	if n, why := found(); n != 1 {
		t.Fatalf("a current confirmation did not replace a future one: %q", why)
	}

	// A record stored before --resolver-validates (dnssec without a
	// confirmation time) counts as not validated.
	setRecord(func(p *Provenance) { p.DNSSECConfirmed = time.Time{} })
	if p, err := s.X509Provenance(fpr); err != nil || p.DNSSEC {
		t.Errorf("legacy record read as validated: %+v %v", p, err)
	}
	if n, _ := found(); n != 0 {
		t.Error("legacy dnssec record vouches for a DANE-EE certificate")
	}
}

// TestDANEEEReplacesUnvalidated: a certificate first stored from an
// unvalidated usage-1 answer (anyone on the path could have injected it)
// is not stuck there: the validated DANE-EE record for the same address
// replaces that record. A validated answer of another usage replaces a
// validated one too (the zone's word now), and one for another address
// or for a certificate the user imported changes nothing.
func TestDANEEEReplacesUnvalidated(t *testing.T) {
	s := newStore(t)
	der := smimeaCert(t, "una@example.org").Raw
	fpr := CertFingerprint(mustParse(t, der))
	record := func(usage uint8, dnssec bool, addr string) {
		t.Helper()
		if _, err := s.importCertFrom(der, Provenance{Source: SourceDANE, DNSSEC: dnssec, DANEUsage: usage, Address: addr}); err != nil {
			t.Fatal(err)
		}
	}
	usage := func() (uint8, bool) {
		p, err := s.X509Provenance(fpr)
		if err != nil {
			t.Fatal(err)
		}
		return p.DANEUsage, p.DNSSEC
	}
	record(1, false, "una@example.org")
	record(3, true, "other@example.org")
	if u, v := usage(); u != 1 || v {
		t.Fatalf("another address's answer changed the record: %d %v", u, v)
	}
	record(3, true, "una@example.org")
	if u, v := usage(); u != 3 || !v {
		t.Fatalf("validated DANE-EE did not replace an unvalidated record: %d %v", u, v)
	}
	keys, why, err := s.Session(SessionOptions{}).RecipientKeys(mailseal.ProtocolSMIME, "una@example.org")
	if err != nil || len(keys) != 1 {
		t.Fatalf("after the replacement: %d %q %v", len(keys), why, err)
	}
	record(1, true, "una@example.org")
	if u, v := usage(); u != 1 || !v {
		t.Fatalf("a validated usage-1 answer did not replace the DANE-EE record: %d %v", u, v)
	}

	// Imported by the user: its record stays whatever DNS says.
	s2 := newStore(t)
	if _, err := s2.ImportX509(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.importCertFrom(der, Provenance{Source: SourceDANE, DNSSEC: true, DANEUsage: 3, Address: "una@example.org"}); err != nil {
		t.Fatal(err)
	}
	if p, err := s2.X509Provenance(fpr); err != nil || p.Source != SourceImport {
		t.Errorf("imported certificate's record: %+v %v", p, err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

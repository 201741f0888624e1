package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"github.com/mailseal/mailseal/internal/lineartest"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An import keeps each certificate once, by a set: comparing each with
// every one (as it did) made 32,000 certificates that differ only in
// their last bytes take 38 s (lineartest.Linear: 2,000 and 16,000).
func TestAddCertLinear(t *testing.T) {
	lineartest.Linear(t, "certificates", 2000, func(n int) func() {
		certs := make([]*x509.Certificate, n)
		for i := range certs {
			raw := make([]byte, 1024)
			binary.BigEndian.PutUint32(raw[1020:], uint32(i))
			certs[i] = &x509.Certificate{Raw: raw}
		}
		return func() {
			var in x509Input
			for _, c := range certs {
				in.addCert(c)
			}
			in.addCert(certs[n/2]) // again: kept once
			if len(in.certs) != n {
				t.Fatalf("%d certificates kept of %d", len(in.certs), n)
			}
		}
	})
}

// Each private key of an import is paired with its own certificate,
// looked up by its public key, whatever the order and kind of keys.
func TestImportPairsKeysByPublicKey(t *testing.T) {
	var certs, keys [][]byte
	var fprs []string
	for i, gen := range []func() (crypto.Signer, error){
		func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
		func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err },
		func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) },
	} {
		key, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "Key " + strconv.Itoa(i)},
			EmailAddresses: []string{"k" + strconv.Itoa(i) + "@example.org"},
			NotBefore:      time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		keys = append([][]byte{pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}, keys...) // the other way round
		fprs = append(fprs, CertFingerprint(c))
	}
	s := newTestStore(t)
	res, err := s.ImportX509(bytes.Join(append(keys, certs...), nil), constPass(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	for i, r := range res {
		if r.Fingerprint != fprs[i] || !r.Secret {
			t.Errorf("result %d: %+v, want certificate %s with its key", i, r, fprs[i])
		}
	}
	// A key whose certificate is not there is refused, nothing stored.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(other)
	lone := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if _, err := newTestStore(t).ImportX509(bytes.Join([][]byte{certs[0], lone}, nil), constPass(""), nil); err == nil || !strings.Contains(err.Error(), "without its certificate") {
		t.Errorf("a key without its certificate: %v", err)
	}
}

// A CRL is checked against every certificate with its issuer's name:
// certificates planted under a CA's name (with its key identifier, even)
// do not keep its CRLs out, as a cap of 16 did (a review); the checks of
// one import are bounded all the same.
func TestCRLIssuerAmongNamesakes(t *testing.T) {
	name := pkix.Name{CommonName: "Namesake CA"}
	skid := []byte{1, 2, 3, 4}
	newCA := func(serial int64) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: name, SubjectKeyId: skid,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return key, c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	// The real CA after the namesakes in the keystore's order (by
	// fingerprint), where a cap on the candidates left it out.
	key, ca, caPEM := newCA(1)
	for CertFingerprint(ca) < "8" {
		key, ca, caPEM = newCA(1)
	}
	var decoys [][]byte
	for i := 0; len(decoys) < 20; i++ {
		if _, c, p := newCA(int64(100 + i)); CertFingerprint(c) < CertFingerprint(ca) {
			decoys = append(decoys, p)
		}
	}
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}, ca, key)
	if err != nil {
		t.Fatal(err)
	}
	crlPEM := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crlDER})

	s := newTestStore(t)
	if _, err := s.ImportX509(bytes.Join(append(decoys, caPEM), nil), nil, nil); err != nil {
		t.Fatal(err)
	}
	res, err := s.ImportX509(crlPEM, nil, nil)
	if err != nil || len(res) != 1 || !strings.Contains(strings.Join(res[0].Changes, " "), "signature verified with "+CertFingerprint(ca)) {
		t.Fatalf("%v %+v", err, res)
	}

	// More checks than an import may make: refused, saying what to do.
	defer func(n int) { maxCRLChecks = n }(maxCRLChecks)
	maxCRLChecks = 5
	s = newTestStore(t)
	if _, err := s.ImportX509(bytes.Join(append(decoys, caPEM), nil), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportX509(crlPEM, nil, nil); err == nil || !strings.Contains(err.Error(), "against the 21 certificates of its issuer's name") || !strings.Contains(err.Error(), "mailseal keys delete --smime") {
		t.Fatalf("past the checks: %v", err)
	}
}

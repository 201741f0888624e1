package keystore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// selfSignedKey makes a self-signed certificate and its key, in PEM.
func selfSignedKey(t *testing.T) (certPEMBytes, keyPEM []byte, key *ecdsa.PrivateKey, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Mallory"},
		EmailAddresses: []string{"mallory@example.org"},
		NotBefore:      time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), key, cert
}

// TestX509HasPrivateKeyAgreesWithImport: every input whose import stores a
// private key is one X509HasPrivateKey reports, so that keys import asks
// for the keystore passphrase and never stores such a key unencrypted
// without --no-passphrase. Crafted files used to slip by: a PEM "PKCS12"
// block (which the import opens), and a line longer than 64 KiB before the
// key (which pem.Decode skips and the label scanner stopped at).
func TestX509HasPrivateKeyAgreesWithImport(t *testing.T) {
	certPEMBytes, keyPEM, key, cert := selfSignedKey(t)
	pfx, err := gopkcs12.Modern.Encode(key, cert, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	long := append([]byte(strings.Repeat("x", 70<<10)), '\n')
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"PEM certificate and key", append(append([]byte(nil), certPEMBytes...), keyPEM...)},
		{"DER PKCS#12", pfx},
		{"PEM PKCS12 block", pem.EncodeToMemory(&pem.Block{Type: "PKCS12", Bytes: pfx})},
		{"long line before the key", bytes.Join([][]byte{certPEMBytes, long, keyPEM}, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			res, err := s.ImportX509(tc.data, constPass(""), nil)
			if err != nil {
				t.Fatal(err)
			}
			stored := false
			for _, r := range res {
				stored = stored || r.Secret
			}
			if !stored {
				t.Fatalf("the import stored no private key: %+v", res)
			}
			if !X509HasPrivateKey(tc.data) {
				t.Fatal("X509HasPrivateKey is false for input whose import stores a private key (unencrypted, as the CLI passes no passphrase then)")
			}
		})
	}
	if X509HasPrivateKey(certPEMBytes) {
		t.Fatal("a certificate alone reported as holding a private key")
	}
}

// TestReplayedOlderCRL: the CA's earlier CRL, still current and validly
// signed, imported again after a revocation (someone hands it over as "the
// CA's CRL"), does not make the revoked certificate good again, whatever
// order the stored CRLs are read in.
func TestReplayedOlderCRL(t *testing.T) {
	s, _, _, bob := privateCA(t)
	data := []byte("Hello.\r\n")
	sigBob := smimeSigned(t, s, "bob@example.org", data)
	older, _, err := s.IssueCRL(CRLOptions{CA: "Own CA", Passphrase: constPass("ca")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeX509(bob.Fingerprint, RevokeOptions{Reason: ReasonCompromised}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.IssueCRL(CRLOptions{CA: "Own CA", Passphrase: constPass("ca")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportX509(older, nil, nil); err != nil {
		t.Fatal(err)
	}
	sg, _ := smimeVerify(t, s, data, sigBob)
	if sg.Status != core.SignerUntrusted || !strings.Contains(sg.Error, "revoked") {
		t.Fatalf("signed by a revoked certificate, with the CA's earlier CRL imported again: %s %s", sg.Status, sg.Error)
	}
}

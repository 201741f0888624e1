package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// testIdentity makes a self-signed recipient certificate for key (signed
// by a throwaway ECDSA CA key, since X25519 cannot sign).
func testIdentity(t testing.TB, name string, key crypto.PrivateKey) Identity {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: name},
		Issuer:         pkix.Name{CommonName: "cms test CA"},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().Add(24 * time.Hour),
		KeyUsage:       x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		EmailAddresses: []string{name + "@example.org"},
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cms test CA"}}
	pub := key.(interface{ Public() crypto.PublicKey }).Public()
	certPub := pub
	if _, isECDH := pub.(*ecdh.PublicKey); isECDH {
		certPub = caKey.Public() // placeholder: crypto/x509 cannot issue X25519 certificates
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, certPub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, isECDH := pub.(*ecdh.PublicKey); isECDH {
		der = replaceSubjectPublicKey(t, der, pub, caKey)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{Cert: cert, Key: key}
}

// replaceSubjectPublicKey re-issues certificate der with pub as its
// subject public key, signed again by caKey (ECDSA with SHA-256).
func replaceSubjectPublicKey(t testing.TB, der []byte, pub crypto.PublicKey, caKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	tbs := cert.RawTBSCertificate
	old := cert.RawSubjectPublicKeyInfo
	i := bytes.Index(tbs, old)
	newTBS := append(append(append([]byte{}, tbs[:i]...), spki...), tbs[i+len(old):]...)
	// re-encode the TBS SEQUENCE with its new length
	in := cryptobyte.String(newTBS)
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1(&body, &tag) {
		// the outer length is now wrong: parse by hand
		hdr := 2
		if newTBS[1]&0x80 != 0 {
			hdr = 2 + int(newTBS[1]&0x7f)
		}
		body = cryptobyte.String(newTBS[hdr:])
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(body) })
	tbsDER := b.BytesOrPanic()
	digest := sha256.Sum256(tbsDER)
	sig, err := ecdsa.SignASN1(rand.Reader, caKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	var c cryptobyte.Builder
	c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
		c.AddBytes(tbsDER)
		c.AddASN1(cbasn1.SEQUENCE, func(c *cryptobyte.Builder) {
			c.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2})
		})
		c.AddASN1BitString(sig)
	})
	return c.BytesOrPanic()
}

type testKeys struct {
	rsa, p256, p384, p521, x25519 Identity
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	return testKeys{
		rsa:    testIdentity(t, "rsa", rsaKey),
		p256:   testIdentity(t, "p256", p256),
		p384:   testIdentity(t, "p384", p384),
		p521:   testIdentity(t, "p521", p521),
		x25519: testIdentity(t, "x25519", x),
	}
}

func (k testKeys) all() []Identity { return []Identity{k.rsa, k.p256, k.p384, k.p521, k.x25519} }

func TestRecipientInfoRoundTrip(t *testing.T) {
	keys := newTestKeys(t)
	for _, id := range keys.all() {
		for _, oaep := range []bool{false, true} {
			cek := randomBytes(32)
			der, _, err := recipientInfo(id.Cert, cek, EncryptOptions{RSAOAEP: oaep})
			if err != nil {
				t.Fatal(err)
			}
			ris, err := parseRecipientInfos(der)
			if err != nil || len(ris) != 1 || len(ris[0].keys) != 1 {
				t.Fatalf("%s: parse: %v", id.Cert.Subject.CommonName, err)
			}
			if !ris[0].keys[0].rid.matches(id.Cert) {
				t.Fatalf("%s: rid does not match", id.Cert.Subject.CommonName)
			}
			got, res, err := unwrapCEK(&ris[0], ris[0].keys[0].encryptedKey, id.Key, 32)
			if err != nil || res != unwrapOK || !bytes.Equal(got, cek) {
				t.Fatalf("%s oaep=%v: unwrap: %v %v", id.Cert.Subject.CommonName, oaep, res, err)
			}
			// another key of a different type does not fit; one of the
			// same type gives a wrong key or a failure
			for _, other := range keys.all() {
				if other.Cert == id.Cert {
					continue
				}
				got, res, _ := unwrapCEK(&ris[0], ris[0].keys[0].encryptedKey, other.Key, 32)
				if res == unwrapOK && bytes.Equal(got, cek) {
					t.Fatalf("%s unwrapped with %s", id.Cert.Subject.CommonName, other.Cert.Subject.CommonName)
				}
			}
		}
	}
}

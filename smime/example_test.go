package smime_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"strings"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/smime"
)

// certificate issues a certificate for key: a CA's when parent is nil,
// else alice@example.org's, for signing and encryption.
func certificate(key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if parent == nil {
		tmpl.Subject = pkix.Name{CommonName: "Example CA"}
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.Subject = pkix.Name{CommonName: "Alice"}
		tmpl.EmailAddresses = []string{"alice@example.org"}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		log.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// Sign content with a certificate issued by a CA the verifier trusts, and
// verify the detached signature: good, with the signer's address and chain.
func Example() {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := certificate(caKey, nil, nil)
	aliceKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	alice := smime.Identity{Cert: certificate(aliceKey, ca, caKey), Key: aliceKey}

	e := smime.New(core.DefaultPolicy())
	trust := smime.Trust{Roots: []*x509.Certificate{ca}}
	content := "Content-Type: text/plain\r\n\r\nMeet at noon.\r\n"
	var sig bytes.Buffer
	w, err := e.Sign(&sig, []smime.Identity{alice}, smime.SignOptions{})
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(w, content)
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	signers, _, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(sig.Bytes()), trust)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(signers[0].Status, signers[0].Emails, signers[0].Chain)
	// Output: good [alice@example.org] [CN=Alice CN=Example CA]
}

// Encrypt to a certificate (AES-256-GCM by default) and decrypt with its
// key.
func ExampleEngine_Decrypt() {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := certificate(caKey, nil, nil)
	aliceKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	alice := smime.Identity{Cert: certificate(aliceKey, ca, caKey), Key: aliceKey}

	var e smime.Engine
	var ciphertext bytes.Buffer
	w, err := e.Encrypt(&ciphertext, []*x509.Certificate{alice.Cert}, smime.EncryptOptions{})
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(w, "for Alice only")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	d, err := e.Decrypt(&ciphertext, []smime.Identity{alice})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	plaintext, _ := io.ReadAll(d.Body)
	fmt.Printf("%s (integrity %s)\n", plaintext, d.Integrity)
	// Output: for Alice only (integrity gcm)
}

package keystore_test

import (
	"fmt"
	"log"
	"os"

	"github.com/mailseal/mailseal/keystore"
)

// Revoke an OpenPGP key after its passphrase is lost, with the revocation
// certificate GeneratePGP kept.
func ExampleStore_RevokePGP() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	key, err := ks.GeneratePGP(keystore.GenerateOptions{UID: "Alice <alice@example.org>", Passphrase: []byte("since forgotten")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked at first:", key.Revoked)
	revoked, _, err := ks.RevokePGP(key.Fingerprint, keystore.RevokeOptions{UseStored: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked:", revoked.Revoked)
	// Output:
	// revoked at first: false
	// revoked: true
}

// A private CA revokes a certificate it issued and publishes a CRL, which
// the keystore then validates with.
func ExampleStore_IssueCRL() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	caPass := func(string) ([]byte, error) { return []byte("ca passphrase"), nil }
	ca, err := ks.GenerateCA(keystore.X509Options{Name: "Example CA", Passphrase: []byte("ca passphrase")})
	if err != nil {
		log.Fatal(err)
	}
	bob, err := ks.GenerateX509(keystore.X509Options{Email: "bob@example.org", Issuer: ca.Fingerprint,
		NoPassphrase: true, IssuerPassphrase: caPass})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ks.RevokeX509(bob.Fingerprint, keystore.RevokeOptions{Reason: keystore.ReasonCompromised}); err != nil {
		log.Fatal(err)
	}
	der, crl, err := ks.IssueCRL(keystore.CRLOptions{CA: ca.Fingerprint, Passphrase: caPass})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("CRL", crl.Number, "of", crl.Issuer, "revokes", len(crl.RevokedCertificateEntries), "certificate;", len(der) > 0)
	// Output:
	// CRL 1 of CN=Example CA revokes 1 certificate; true
}

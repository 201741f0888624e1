package keystore_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/mailseal/mailseal/keystore"
)

// constPassphrase is a PassphraseFunc for examples; a program asks the user.
func constPassphrase(p string) keystore.PassphraseFunc {
	return func(purpose string) ([]byte, error) { return []byte(p), nil }
}

// Give a key a second address, then take the first one back, and set when
// the key expires.
func ExampleStore_AddUserID() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	pass := constPassphrase("correct horse")
	key, err := ks.GeneratePGP(keystore.GenerateOptions{UID: "Alice <alice@old.example>", Passphrase: []byte("correct horse")})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ks.AddUserID(key.Fingerprint, "Alice <alice@example.org>", pass); err != nil {
		log.Fatal(err)
	}
	info, err := ks.RevokeUserID(key.Fingerprint, "alice@old.example", "moved", pass)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("addresses:", info.Emails)
	until := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	info, err = ks.SetExpiry(key.Fingerprint, until, keystore.ExpireAll, pass)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("expires:", info.Expires.UTC().Format(time.DateOnly), info.Subkeys[0].Expires.UTC().Format(time.DateOnly))
	// Output:
	// addresses: [alice@example.org]
	// expires: 2099-01-01 2099-01-01
}

// Put every secret key of the keystore under one passphrase.
func ExampleStore_ChangePassphrase() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ks.GeneratePGP(keystore.GenerateOptions{UID: "Alice <alice@example.org>", Passphrase: []byte("old")}); err != nil {
		log.Fatal(err)
	}
	if _, err := ks.GenerateCA(keystore.X509Options{Name: "Alice's CA", NoPassphrase: true}); err != nil {
		log.Fatal(err)
	}
	changes, err := ks.ChangePassphrase(keystore.PassphraseOptions{All: true, Old: constPassphrase("old"), New: constPassphrase("new")})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range changes {
		fmt.Println(c.Protocol, c.Name+":", c.Change)
	}
	// Output:
	// openpgp Alice <alice@example.org>: passphrase changed
	// smime CN=Alice's CA: passphrase changed
}

// Export two keys as one armored keyring, as gpg --export --armor does.
func ExampleStore_ExportPGPKeys() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, uid := range []string{"Alice <alice@example.org>", "Bob <bob@example.org>"} {
		if _, err := ks.GeneratePGP(keystore.GenerateOptions{UID: uid, NoPassphrase: true}); err != nil {
			log.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := ks.ExportPGPKeys(&out, []string{"alice@example.org", "bob@example.org"}, false); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Count(out.String(), "-----BEGIN PGP PUBLIC KEY BLOCK-----"), "armor block")
	// Output:
	// 1 armor block
}

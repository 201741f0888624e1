package keystore_test

import (
	"bytes"
	"fmt"
	"log"
	"os"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/pgp"
)

// Open a keystore, import a correspondent's key, and find what to encrypt
// to them with.
func Example() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir) // or keystore.OpenDefault()
	if err != nil {
		log.Fatal(err)
	}

	// Bob's public key, as he would send it (armored or binary).
	bob, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Bob <bob@example.org>"}})
	if err != nil {
		log.Fatal(err)
	}
	var cert bytes.Buffer
	if err := bob.Serialize(&cert); err != nil {
		log.Fatal(err)
	}
	imported, err := ks.ImportPGP(&cert, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("imported:", imported[0].UserIDs, imported[0].New)

	session := ks.Session(keystore.SessionOptions{})
	sel, err := mailseal.ChooseRecipients(session, []string{"bob@example.org"}, mailseal.Protocols(false))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("encrypt with:", sel.Protocol, len(sel.Recipients) == 1)
	// Output:
	// imported: [Bob <bob@example.org>] true
	// encrypt with: openpgp true
}

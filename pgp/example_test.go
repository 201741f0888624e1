package pgp_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"strings"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// Sign data with a new key, verify the signature, and see a change to the
// data make it bad.
func Example() {
	key, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Alice <alice@example.org>"}})
	if err != nil {
		log.Fatal(err)
	}
	e := pgp.New(core.Policy{}) // the default policy
	data := "Meet at noon.\r\n"

	var sig bytes.Buffer
	w, err := e.SignDetached(&sig, key)
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(w, data)
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	certs := openpgp.EntityList{key} // the certificates a signature may come from
	for _, content := range []string{data, "Meet at one.\r\n"} {
		signers, _, err := e.VerifyDetached(strings.NewReader(content), bytes.NewReader(sig.Bytes()), certs)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(signers[0].Status, signers[0].Emails)
	}
	// Output:
	// good [alice@example.org]
	// bad [alice@example.org]
}

// Encrypt to a recipient's key and decrypt with it; the plaintext is
// released only after its integrity is checked.
func ExampleEngine_Decrypt() {
	bob, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Bob <bob@example.org>"}})
	if err != nil {
		log.Fatal(err)
	}
	e := pgp.New(core.DefaultPolicy())

	var ciphertext bytes.Buffer
	w, err := e.Encrypt(&ciphertext, []*openpgp.Entity{bob}, nil)
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(w, "for Bob only")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	d, err := e.Decrypt(&ciphertext, pgp.Keyring{Secrets: openpgp.EntityList{bob}})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	plaintext, _ := io.ReadAll(d.Body)
	fmt.Printf("%s (integrity %s)\n", plaintext, d.Integrity)
	// Output: for Bob only (integrity mdc)
}

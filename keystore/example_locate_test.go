package keystore_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/locate"
	"github.com/mailseal/mailseal/pgp"
)

// Store a key found on the network with where it came from, ask the
// keystore for it as a look-up method ("local"), and see that refreshing
// a key imported by hand has nothing to ask. With a network method
// (locate.MethodWKD, ...) and LocateOptions.Import, Locate stores what it
// finds the same way.
func ExampleStore_Locate() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ks, err := keystore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	bob, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Bob <bob@example.org>"}})
	if err != nil {
		log.Fatal(err)
	}
	var cert bytes.Buffer
	if err := bob.Serialize(&cert); err != nil {
		log.Fatal(err)
	}
	_, err = ks.ImportPGPFrom(&cert, keystore.Provenance{Source: keystore.SourceWKD, Address: "bob@example.org",
		URL: "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/kei1q4tipxxu1yj79k9kfukdhfy631xe?l=bob"})
	if err != nil {
		log.Fatal(err)
	}
	var l locate.Locator // the network is not asked for "local"
	answers, err := ks.Locate(context.Background(), &l, "bob@example.org",
		keystore.LocateOptions{Methods: []string{locate.MethodLocal}})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range answers {
		fmt.Println(a.Method, a.UserIDs, a.Source, a.OK())
	}

	carol, _ := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Carol <carol@example.org>"}})
	cert.Reset()
	carol.Serialize(&cert)
	if _, err := ks.ImportPGP(&cert, nil); err != nil {
		log.Fatal(err)
	}
	refreshed, err := ks.Refresh(context.Background(), &l, []string{"carol@example.org"}, false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(refreshed[0].Skipped)
	// Output:
	// local [Bob <bob@example.org>] keystore (wkd) true
	// from import: no network source recorded to refresh it from
}

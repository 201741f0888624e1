package locate_test

import (
	"bytes"
	"fmt"

	"github.com/mailseal/mailseal/locate"
	"github.com/mailseal/mailseal/pgp"
)

func ExampleWKDURLs() {
	advanced, direct, err := locate.WKDURLs("Joe.Doe@Example.ORG")
	if err != nil {
		panic(err)
	}
	fmt.Println(advanced)
	fmt.Println(direct)
	// Output:
	// https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe
	// https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe
}

func ExampleOPENPGPKEYName() {
	name, err := locate.OPENPGPKEYName("hugh@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(name)
	// Output:
	// c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._openpgpkey.example.com.
}

func ExampleParseMethods() {
	m, err := locate.ParseMethods("wkd, DANE")
	fmt.Println(m, err)
	_, err = locate.ParseMethods("ldap")
	fmt.Println(err)
	// Output:
	// [wkd dane] <nil>
	// unknown lookup method "ldap" (the methods are local, autocrypt, wkd, dane, vks, smimea): usage error
}

// A key as an OPENPGPKEY record or a WKD publishes it for one address:
// only the user IDs bound to that address.
func ExampleMinimalKey() {
	key, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Joe <joe@example.org>", "Joe <joe@work.example>"}})
	if err != nil {
		panic(err)
	}
	var cert bytes.Buffer
	key.Serialize(&cert)
	min, err := locate.MinimalKey(cert.Bytes(), "joe@work.example")
	if err != nil {
		panic(err)
	}
	ents, err := pgp.ReadKeys(min)
	if err != nil {
		panic(err)
	}
	for name := range ents[0].Identities {
		fmt.Println(name)
	}
	fmt.Println(locate.CheckAddress("joe"))
	// Output:
	// Joe <joe@work.example>
	// "joe" is not a mail address: usage error
}

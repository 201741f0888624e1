package pgp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// Damage to the armor of a message is classified by what the message is,
// not by where in it the damage lies: in encrypted data, a truncation or a
// line that is not base64 is damaged ciphertext (ErrIntegrity) whether it
// falls in the first 64 KiB (read before go-crypto starts) or later; in a
// signed-only message it is unreadable input (ErrInput). Nothing is
// released either way.
func TestArmorDamageClassification(t *testing.T) {
	e := testEngine()
	alice := genKey(t, "Alice", "alice@example.org", keyOpts{})
	bob := genKey(t, "Bob", "bob@example.org", keyOpts{})
	kr := Keyring{Certs: openpgp.EntityList{publicOf(t, alice)}, Secrets: openpgp.EntityList{bob}}
	for _, size := range []int{2000, 300_000} {
		data := make([]byte, size)
		rand.Read(data)
		enc := encrypt(t, e, data, alice, publicOf(t, bob))
		var signed bytes.Buffer
		w, err := e.SignInline(&signed, []*openpgp.Entity{alice}, InlineOptions{Armor: true})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		for _, tc := range []struct {
			name string
			msg  []byte
			kind error
		}{{"encrypted", enc, core.ErrIntegrity}, {"signed", signed.Bytes(), core.ErrInput}} {
			text := string(tc.msg)
			body := strings.Index(text, "\n\n") + 2
			mid := body + strings.Index(text[body+(len(text)-body)/2:], "\n") + (len(text)-body)/2 + 1
			end := strings.Index(text, "-----END")
			for name, bad := range map[string]string{
				"truncated":       text[:mid],
				"truncated + END": text[:mid] + text[end:],
				"not base64":      text[:mid] + "this is not base64!\n" + text[mid:],
			} {
				d, err := e.Decrypt(strings.NewReader(bad), kr)
				if d != nil {
					t.Fatalf("%d bytes, %s, %s: plaintext released", size, tc.name, name)
				}
				if !errors.Is(err, tc.kind) {
					t.Errorf("%d bytes, %s, %s: %v, want %v", size, tc.name, name, err, tc.kind)
				}
			}
		}
	}
}

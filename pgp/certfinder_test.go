package pgp

import (
	"bytes"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// idFinder answers only for the key IDs it holds, as an index does.
type idFinder map[uint64][]*openpgp.Entity

func (f idFinder) EntitiesById(id uint64) []*openpgp.Entity { return f[id] }

func TestCertFinderLookup(t *testing.T) {
	e := testEngine()
	for name, opts := range map[string]keyOpts{"v4": {}, "v6": {v6: true}} {
		t.Run(name, func(t *testing.T) {
			key := genKey(t, "A", "a@example.org", opts)
			cert := publicOf(t, key)
			keys := []uint64{cert.PrimaryKey.KeyId}
			if got := keyIDOf(cert.PrimaryKey.Fingerprint); got != cert.PrimaryKey.KeyId {
				t.Fatalf("keyIDOf = %016X, want %016X", got, cert.PrimaryKey.KeyId)
			}
			for _, sk := range cert.Subkeys {
				keys = append(keys, sk.PublicKey.KeyId)
				if got := keyIDOf(sk.PublicKey.Fingerprint); got != sk.PublicKey.KeyId {
					t.Fatalf("subkey: keyIDOf = %016X, want %016X", got, sk.PublicKey.KeyId)
				}
			}
			data := []byte("Content-Type: text/plain\r\n\r\nlooked up\r\n")
			sig := sign(t, e, key, data)

			index := idFinder{}
			for _, id := range keys {
				index[id] = []*openpgp.Entity{cert}
			}
			signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), index)
			if err != nil {
				t.Fatal(err)
			}
			oneSigner(t, signers, core.SignerGood)

			// Filed under some other key ID only: not found.
			signers, _, _ = e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), idFinder{keys[0] ^ 1: {cert}})
			oneSigner(t, signers, core.SignerUnknown)

			// Decrypting a signed message looks the signer up the same way.
			rcpt := genKey(t, "R", "r@example.org", opts)
			ct := encrypt(t, e, data, key, publicOf(t, rcpt))
			d, _ := decryptAll(t, e, ct, Keyring{Secrets: openpgp.EntityList{rcpt}, Certs: index})
			oneSigner(t, d.Signers, core.SignerGood)
		})
	}
}

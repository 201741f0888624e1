package pgp

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// ReadKeys reads binary keys and a file of two armored certificates;
// Locked and Unlock work on a protected secret key, a wrong passphrase
// being ErrLocked; what is not a key is ErrInput.
func TestReadKeysAndUnlock(t *testing.T) {
	alice, bob := genKey(t, "A", "a@example.org", keyOpts{}), genKey(t, "B", "b@example.org", keyOpts{})
	var bin bytes.Buffer
	if err := publicOf(t, alice).Serialize(&bin); err != nil {
		t.Fatal(err)
	}
	if list, err := ReadKeys(bin.Bytes()); err != nil || len(list) != 1 || Fingerprint(list[0].PrimaryKey) != Fingerprint(alice.PrimaryKey) {
		t.Fatalf("binary: %v, %d keys", err, len(list))
	}
	var both bytes.Buffer
	for _, k := range []*openpgp.Entity{alice, bob} {
		w, _ := armor.Encode(&both, "PGP PUBLIC KEY BLOCK", nil)
		if err := publicOf(t, k).Serialize(w); err != nil {
			t.Fatal(err)
		}
		w.Close()
		both.WriteString("\n")
	}
	if list, err := ReadKeys(both.Bytes()); err != nil || len(list) != 2 {
		t.Fatalf("two armored certificates: %v, %d keys", err, len(list))
	}
	if _, err := ReadKeys([]byte("not a key")); !errors.Is(err, core.ErrInput) {
		t.Fatalf("not a key: %v", err)
	}

	if Locked(alice) {
		t.Fatal("an unprotected key is locked")
	}
	if err := ProtectKey(alice, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if !Locked(alice) {
		t.Fatal("a protected key is not locked")
	}
	if err := Unlock(alice, []byte("wrong")); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := Unlock(alice, []byte("pw")); err != nil || Locked(alice) {
		t.Fatalf("unlock: %v", err)
	}
}

// An unknown signer is named by the full fingerprint of its signing key
// when the signature gives it (issue 15: errors showed 16-digit key IDs).
func TestUnknownSignerFullFingerprint(t *testing.T) {
	e := testEngine()
	key := genKey(t, "S", "s@example.org", keyOpts{})
	data := []byte("x")
	signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sign(t, e, key, data)), openpgp.EntityList{})
	if err != nil {
		t.Fatal(err)
	}
	s := oneSigner(t, signers, core.SignerUnknown)
	if len(s.SigningKey) != 40 || !strings.Contains(s.Error, s.SigningKey) {
		t.Fatalf("signing key %q, error %q", s.SigningKey, s.Error)
	}
}

package pgp

import (
	"bytes"
	"fmt"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
)

// ReadKeys reads OpenPGP certificates or secret keys, binary or armored
// (every armored block of data: a file of concatenated armored keys is a
// keyring), as key files and key servers give them. Secret keys come back
// as they are stored, possibly locked (Locked, Unlock).
func ReadKeys(data []byte) (openpgp.EntityList, error) {
	bin := data
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		blocks, err := armor.DecodeAll(data)
		if err != nil {
			return nil, fmt.Errorf("pgp: reading keys: %w: %w", err, core.ErrInput)
		}
		bin = nil
		for _, b := range blocks {
			bin = append(bin, b.Data...)
		}
	}
	list, err := openpgp.ReadKeyRing(bytes.NewReader(bin))
	if err != nil {
		return nil, fmt.Errorf("pgp: reading keys: %v: %w", err, core.ErrInput)
	}
	return list, nil
}

// Locked reports whether a secret key of e (its primary key or a subkey)
// is encrypted with a passphrase.
func Locked(e *openpgp.Entity) bool {
	l := e.PrivateKey != nil && e.PrivateKey.Encrypted
	for _, sk := range e.Subkeys {
		l = l || sk.PrivateKey != nil && sk.PrivateKey.Encrypted
	}
	return l
}

// Unlock decrypts the secret keys of e in place with passphrase, so that
// it can sign (Signer) and decrypt; a key that is not locked is left as
// it is. A wrong passphrase is an error wrapping core.ErrLocked.
func Unlock(e *openpgp.Entity, passphrase []byte) error {
	if !Locked(e) {
		return nil
	}
	if err := e.DecryptPrivateKeys(passphrase); err != nil {
		return fmt.Errorf("pgp: wrong passphrase for the secret key %s: %w", Fingerprint(e.PrimaryKey), core.ErrLocked)
	}
	return nil
}

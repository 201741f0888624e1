package autocrypt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// KeyData makes the keydata a sender puts in its Autocrypt header: the
// certificate of e reduced to its primary key (with its latest direct-key
// signature, which v6 keys carry), the user ID bound to addr with its
// latest self-signature, and the encryption subkey valid at now with its
// latest binding signature. Never secret key material. It fails when e
// has no valid user ID for addr or no encryption subkey at now.
func KeyData(e *openpgp.Entity, addr string, now time.Time) ([]byte, error) {
	cfg := &packet.Config{}
	addr = strings.ToLower(addr)
	var uid string
	for _, u := range pgp.ValidUserIDs(e, now, cfg) {
		if u.Err == nil && strings.EqualFold(u.Address, addr) {
			uid = u.ID
			break
		}
	}
	if uid == "" {
		return nil, fmt.Errorf("autocrypt: key %s has no valid user ID for %s: %w", pgp.Fingerprint(e.PrimaryKey), addr, core.ErrNoKey)
	}
	ident := e.Identities[uid]
	self, err := ident.LatestValidSelfCertification(now, cfg)
	if err != nil {
		return nil, fmt.Errorf("autocrypt: user ID %q: %w", uid, err)
	}
	enc, ok := e.EncryptionKey(now, cfg)
	if !ok {
		return nil, fmt.Errorf("autocrypt: key %s has no valid encryption key: %w", pgp.Fingerprint(e.PrimaryKey), core.ErrNoKey)
	}
	out := &openpgp.Entity{
		PrimaryKey: e.PrimaryKey,
		Identities: map[string]*openpgp.Identity{uid: {
			Name: uid, UserId: ident.UserId,
			SelfCertifications: []*packet.VerifiableSignature{packet.NewVerifiableSig(self)},
		}},
	}
	if direct, err := e.LatestValidDirectSignature(now, cfg); err == nil && direct != nil {
		out.DirectSignatures = []*packet.VerifiableSignature{packet.NewVerifiableSig(direct)}
	}
	if enc.PublicKey != e.PrimaryKey {
		for i := range e.Subkeys {
			sk := &e.Subkeys[i]
			if sk.PublicKey != enc.PublicKey {
				continue
			}
			binding, err := sk.LatestValidBindingSignature(now, cfg)
			if err != nil {
				return nil, fmt.Errorf("autocrypt: encryption subkey: %w", err)
			}
			out.Subkeys = []openpgp.Subkey{{Primary: out, PublicKey: sk.PublicKey,
				Bindings: []*packet.VerifiableSignature{packet.NewVerifiableSig(binding)}}}
		}
	}
	var b bytes.Buffer
	if err := out.Serialize(&b); err != nil {
		return nil, fmt.Errorf("autocrypt: %w", err)
	}
	return b.Bytes(), nil
}

// ReadKey reads keydata: exactly one certificate, without secret key
// material.
func ReadKey(keydata []byte) (*openpgp.Entity, error) {
	if bytes.HasPrefix(bytes.TrimSpace(keydata), []byte("-----BEGIN")) {
		return nil, fmt.Errorf("%w: keydata is armored; Autocrypt carries binary keys", ErrInvalid)
	}
	ents, err := pgp.ReadKeys(keydata)
	if err != nil {
		return nil, fmt.Errorf("%w: keydata: %v", ErrInvalid, err)
	}
	if len(ents) != 1 {
		return nil, fmt.Errorf("%w: keydata holds %d certificates, want 1", ErrInvalid, len(ents))
	}
	if ents[0].PrivateKey != nil {
		return nil, errors.New("autocrypt: keydata holds a secret key: refused")
	}
	return ents[0], nil
}

package pgp

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// primaryValid checks that the primary key of ent is valid (self-signed,
// not revoked, not expired) at t. The error says what is wrong in words.
func (e *Engine) primaryValid(ent *openpgp.Entity, t time.Time) error {
	if ent == nil || ent.PrimaryKey == nil {
		return errors.New("no key")
	}
	cfg := e.Config()
	if ent.Revoked(t) {
		return fmt.Errorf("key %s is revoked", keyName(ent))
	}
	sig, err := ent.VerifyPrimaryKey(t, cfg)
	switch {
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return fmt.Errorf("key %s is revoked", keyName(ent))
	case errors.Is(err, pgperrors.ErrKeyExpired):
		msg := fmt.Sprintf("key %s expired", keyName(ent))
		if sig != nil && sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
			exp := ent.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
			msg += " on " + exp.UTC().Format(time.RFC3339)
		}
		return errors.New(msg)
	case err != nil:
		return fmt.Errorf("key %s is not valid: %v", keyName(ent), err)
	}
	return nil
}

// CheckRecipient reports whether cert can be encrypted to now: a valid,
// unrevoked, unexpired primary key with a valid encryption (sub)key of an
// accepted algorithm and size. The error wraps core.ErrNoKey and names
// the recipient.
func (e *Engine) CheckRecipient(cert *openpgp.Entity) error {
	if cert == nil || cert.PrimaryKey == nil {
		return fmt.Errorf("pgp: no recipient certificate: %w", core.ErrNoKey)
	}
	now := e.now()
	if err := e.primaryValid(cert, now); err != nil {
		return fmt.Errorf("pgp: cannot encrypt to %s: %v (get a current key from the recipient): %w", keyName(cert), err, core.ErrNoKey)
	}
	if _, err := cert.EncryptionKeyWithError(now, e.Config()); err != nil {
		return fmt.Errorf("pgp: cannot encrypt to %s: it has no valid encryption subkey (expired, revoked or none); ask its owner for a key that has one: %w", keyName(cert), core.ErrNoKey)
	}
	return nil
}

// signingKey returns the key of signer to sign with now and the hash to use.
// Errors wrap ErrNoKey (unusable key) or ErrLocked (protected secret key).
func (e *Engine) signingKey(signer *openpgp.Entity) (openpgp.Key, crypto.Hash, error) {
	if signer == nil || signer.PrimaryKey == nil {
		return openpgp.Key{}, 0, fmt.Errorf("pgp: no signing key given: %w", core.ErrNoKey)
	}
	now := e.now()
	cfg := e.Config()
	if err := e.primaryValid(signer, now); err != nil {
		return openpgp.Key{}, 0, fmt.Errorf("pgp: cannot sign with %s: %v: %w", keyName(signer), err, core.ErrNoKey)
	}
	key, ok := signer.SigningKey(now, cfg)
	if !ok {
		return openpgp.Key{}, 0, fmt.Errorf("pgp: cannot sign with %s: no valid signing key of an accepted algorithm and size: %w", keyName(signer), core.ErrNoKey)
	}
	if key.PrivateKey == nil {
		return openpgp.Key{}, 0, fmt.Errorf("pgp: cannot sign with %s: the secret key is missing (import the secret key): %w", keyName(signer), core.ErrNoKey)
	}
	if key.PrivateKey.Dummy() {
		return openpgp.Key{}, 0, fmt.Errorf("pgp: cannot sign with %s: the secret signing key is not available (stub key): %w", keyName(signer), core.ErrNoKey)
	}
	if key.PrivateKey.Encrypted {
		return openpgp.Key{}, 0, fmt.Errorf("pgp: cannot sign with %s: the secret key is locked (unlock it with its passphrase first): %w", keyName(signer), core.ErrLocked)
	}
	return key, e.chooseHash(key), nil
}

// chooseHash picks SHA-256 where the key's algorithm allows it (as gpg
// does; with the SHA extensions of current CPUs it is also about twice as
// fast as SHA-512), else the first hash the key prefers that the policy
// accepts and the algorithm allows (a P-384 or Ed448 key needs a longer
// digest), else SHA-512.
func (e *Engine) chooseHash(key openpgp.Key) crypto.Hash {
	allowed := func(h crypto.Hash) bool {
		if !h.Available() || !e.hashAccepted(h, time.Time{}) || h == crypto.SHA1 || h == crypto.SHA224 {
			return false
		}
		return hashFitsKey(h, key.PublicKey)
	}
	if allowed(crypto.SHA256) {
		return crypto.SHA256
	}
	var prefs []uint8
	if key.PrimarySelfSignature != nil {
		prefs = key.PrimarySelfSignature.PreferredHash
	}
	for _, id := range prefs {
		if h, ok := hashFromID(id); ok && allowed(h) {
			return h
		}
	}
	for _, h := range []crypto.Hash{crypto.SHA512, crypto.SHA3_512} {
		if allowed(h) {
			return h
		}
	}
	return crypto.SHA512
}

// hashFitsKey: some curves need a digest at least as long as their order.
func hashFitsKey(h crypto.Hash, pk *packet.PublicKey) bool {
	strong := h == crypto.SHA512 || h == crypto.SHA3_512
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoEd448:
		return strong
	case packet.PubKeyAlgoECDSA, packet.PubKeyAlgoEdDSA:
		curve, err := pk.Curve()
		if err != nil {
			return strong
		}
		switch curve {
		case packet.Curve448, packet.CurveNistP521, packet.CurveBrainpoolP512:
			return strong
		case packet.CurveNistP384, packet.CurveBrainpoolP384:
			return strong || h == crypto.SHA384
		}
	}
	return true
}

// hashFromID maps an OpenPGP hash algorithm ID (RFC 9580 section 9.5).
func hashFromID(id uint8) (crypto.Hash, bool) {
	switch id {
	case 1:
		return crypto.MD5, true
	case 2:
		return crypto.SHA1, true
	case 3:
		return crypto.RIPEMD160, true
	case 8:
		return crypto.SHA256, true
	case 9:
		return crypto.SHA384, true
	case 10:
		return crypto.SHA512, true
	case 11:
		return crypto.SHA224, true
	case 12:
		return crypto.SHA3_256, true
	case 14:
		return crypto.SHA3_512, true
	}
	return 0, false
}

// Micalg returns the micalg parameter ("pgp-sha512") for a PGP/MIME
// signature by signer; it is the hash SignDetached will use. It fails like
// SignDetached would if signer cannot sign.
func (e *Engine) Micalg(signer *openpgp.Entity) (string, error) {
	_, h, err := e.signingKey(signer)
	if err != nil {
		return "", err
	}
	name, ok := micalgName(h)
	if !ok {
		return "", fmt.Errorf("pgp: no micalg name for %s: %w", core.HashName(h), core.ErrUsage)
	}
	return name, nil
}

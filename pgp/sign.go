package pgp

import (
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
)

// Armor block types.
const (
	armorSignature = "PGP SIGNATURE"
	armorMessage   = "PGP MESSAGE"
)

// SignDetached returns a writer that receives the exact bytes to sign. Close
// computes a binary-document signature (type 0x00) by signer's signing key,
// using the hash Micalg reports, and writes it ASCII-armored to sig. Memory
// use does not depend on the amount written. The signer must be unlocked and
// valid now; otherwise the error wraps mailseal.ErrNoKey or mailseal.ErrLocked.
func (e *Engine) SignDetached(sig io.Writer, signer *openpgp.Entity) (io.WriteCloser, error) {
	key, h, err := e.signingKey(signer)
	if err != nil {
		return nil, err
	}
	cfg := e.Config()
	pub := key.PublicKey
	keyID := pub.KeyId
	s := &packet.Signature{
		Version:           pub.Version,
		SigType:           packet.SigTypeBinary,
		PubKeyAlgo:        pub.PubKeyAlgo,
		Hash:              h,
		CreationTime:      cfg.Now(),
		IssuerKeyId:       &keyID,
		IssuerKeyVersion:  uint8(pub.Version),
		IssuerFingerprint: pub.Fingerprint,
	}
	hh, err := s.PrepareSign(cfg)
	if err != nil {
		return nil, fmt.Errorf("pgp: sign: %v: %w", err, mailseal.ErrUsage)
	}
	return &detachedSigner{out: sig, sig: s, h: hh, key: key.PrivateKey, cfg: cfg}, nil
}

// detachedSigner hashes what is written; Close signs and writes the armor.
// Layering: caller -> hash; on Close: signature packet -> armor encoder -> out.
type detachedSigner struct {
	out    io.Writer
	sig    *packet.Signature
	h      hash.Hash
	key    *packet.PrivateKey
	cfg    *packet.Config
	closed bool
}

func (d *detachedSigner) Write(p []byte) (int, error) {
	if d.closed {
		return 0, errors.New("pgp: sign: write after close")
	}
	return d.h.Write(p)
}

func (d *detachedSigner) Close() error {
	if d.closed {
		return errors.New("pgp: sign: already closed")
	}
	d.closed = true
	if err := d.sig.Sign(d.h, d.key, d.cfg); err != nil {
		return fmt.Errorf("pgp: sign: %w", err)
	}
	aw, err := newArmorWriter(d.out, armorSignature)
	if err != nil {
		return fmt.Errorf("pgp: sign: %w", err)
	}
	if err := d.sig.Serialize(aw); err != nil {
		return fmt.Errorf("pgp: sign: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("pgp: sign: %w", err)
	}
	return nil
}

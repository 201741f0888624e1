package pgp

import (
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
)

// Armor block types.
const (
	armorSignature = "PGP SIGNATURE"
	armorMessage   = "PGP MESSAGE"
)

// DataOptions shape OpenPGP data for byte-level users (SOP, scripts) as
// opposed to PGP/MIME, which is always armored binary-mode data.
type DataOptions struct {
	Armor bool // ASCII armor
	CRLF  bool // armor lines ended by CRLF, as a MIME body carries them
	Text  bool // text mode: signatures of type 0x01 over CRLF-canonical text, a UTF-8 literal packet
}

// armorWriter is the armor encoder opts ask for (Armor set): lines ended by
// CRLF or by LF.
func (opts DataOptions) armorWriter(w io.Writer, blockType string) *armor.Writer {
	if opts.CRLF {
		return armor.NewCRLFWriter(w, blockType)
	}
	return armor.NewWriter(w, blockType)
}

// SignDetached returns a writer that receives the exact bytes to sign. Close
// computes a binary-document signature (type 0x00) by signer's signing key,
// using the hash Micalg reports, and writes it ASCII-armored (in CRLF lines:
// the body of a PGP/MIME part) to sig. Memory
// use does not depend on the amount written. The signer must be unlocked and
// valid now; otherwise the error wraps core.ErrNoKey or core.ErrLocked.
func (e *Engine) SignDetached(sig io.Writer, signer *openpgp.Entity) (io.WriteCloser, error) {
	return e.SignData(sig, []*openpgp.Entity{signer}, DataOptions{Armor: true, CRLF: true})
}

// SignData is SignDetached for several signers (one signature packet each,
// all written on Close), with armor and text mode as opts say.
func (e *Engine) SignData(sig io.Writer, signers []*openpgp.Entity, opts DataOptions) (io.WriteCloser, error) {
	if len(signers) == 0 {
		return nil, fmt.Errorf("pgp: sign: no signer: %w", core.ErrNoKey)
	}
	d := &detachedSigner{out: sig, cfg: e.Config(), opts: opts}
	sigType := packet.SigTypeBinary
	if opts.Text {
		sigType = packet.SigTypeText
	}
	for _, signer := range signers {
		ps, err := e.newPendingSig(signer, sigType, d.cfg)
		if err != nil {
			return nil, err
		}
		d.sigs = append(d.sigs, ps)
	}
	return d, nil
}

// newPendingSig starts a signature of type sigType by signer's signing key,
// with the hash Micalg reports: what is signed goes to in, then sig.Sign
// with h and key finishes it.
func (e *Engine) newPendingSig(signer *openpgp.Entity, sigType packet.SignatureType, cfg *packet.Config) (pendingSig, error) {
	key, h, err := e.signingKey(signer)
	if err != nil {
		return pendingSig{}, err
	}
	pub := key.PublicKey
	keyID := pub.KeyId
	s := &packet.Signature{
		Version:           pub.Version,
		SigType:           sigType,
		PubKeyAlgo:        pub.PubKeyAlgo,
		Hash:              h,
		CreationTime:      cfg.Now(),
		IssuerKeyId:       &keyID,
		IssuerKeyVersion:  uint8(pub.Version),
		IssuerFingerprint: pub.Fingerprint,
	}
	hh, err := s.PrepareSign(cfg)
	if err != nil {
		return pendingSig{}, fmt.Errorf("pgp: sign: %v: %w", err, core.ErrUsage)
	}
	// Text mode hashes the data as CRLF text; the signature trailer that
	// Sign adds must go into the hash unchanged.
	var in io.Writer = hh
	if sigType == packet.SigTypeText {
		in = openpgp.NewCanonicalTextHash(hh)
	}
	return pendingSig{sig: s, h: hh, in: in, key: key.PrivateKey}, nil
}

type pendingSig struct {
	sig *packet.Signature
	h   hash.Hash
	in  io.Writer // h, or a canonicalising writer in front of it
	key *packet.PrivateKey
}

// detachedSigner hashes what is written; Close signs and writes the
// signature packets, armored or not.
type detachedSigner struct {
	out    io.Writer
	sigs   []pendingSig
	cfg    *packet.Config
	opts   DataOptions // Armor and CRLF
	closed bool
}

func (d *detachedSigner) Write(p []byte) (int, error) {
	if d.closed {
		return 0, errors.New("pgp: sign: write after close")
	}
	for _, s := range d.sigs {
		s.in.Write(p)
	}
	return len(p), nil
}

func (d *detachedSigner) Close() error {
	if d.closed {
		return errors.New("pgp: sign: already closed")
	}
	d.closed = true
	out := d.out
	var aw io.WriteCloser
	if d.opts.Armor {
		aw = d.opts.armorWriter(d.out, armorSignature)
		out = aw
	}
	for _, s := range d.sigs {
		if err := s.sig.Sign(s.h, s.key, d.cfg); err != nil {
			return fmt.Errorf("pgp: sign: %w", err)
		}
		if err := s.sig.Serialize(out); err != nil {
			return fmt.Errorf("pgp: sign: %w", err)
		}
	}
	if aw != nil {
		if err := aw.Close(); err != nil {
			return fmt.Errorf("pgp: sign: %w", err)
		}
	}
	return nil
}

// InlineOptions shape an inline-signed message.
type InlineOptions struct {
	Armor     bool // ASCII armor ("PGP MESSAGE"); always for Cleartext
	Text      bool // text-mode signatures
	Cleartext bool // a cleartext-signed message ("-----BEGIN PGP SIGNED MESSAGE-----")
}

// SignInline returns a writer for data to sign inline: a one-pass signed
// OpenPGP message, or with Cleartext the cleartext signature framework
// (RFC 9580 §7). Every signer must be able to sign now.
func (e *Engine) SignInline(w io.Writer, signers []*openpgp.Entity, opts InlineOptions) (io.WriteCloser, error) {
	if len(signers) == 0 {
		return nil, fmt.Errorf("pgp: sign: no signer: %w", core.ErrNoKey)
	}
	cfg := e.Config()
	var keys []*packet.PrivateKey
	for _, s := range signers {
		key, h, err := e.signingKey(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, key.PrivateKey)
		cfg.DefaultHash = h
	}
	if opts.Cleartext {
		pw, err := clearsign.EncodeMulti(w, keys, cfg)
		if err != nil {
			return nil, fmt.Errorf("pgp: sign: %w", err)
		}
		return pw, nil
	}
	var out io.WriteCloser = nopCloser{w}
	if opts.Armor {
		out = armor.NewWriter(w, armorMessage)
	}
	pw, err := openpgp.SignWithParams(out, signers, &openpgp.SignParams{TextSig: opts.Text, Config: cfg,
		Hints: &openpgp.FileHints{IsUTF8: opts.Text}})
	if err != nil {
		return nil, fmt.Errorf("pgp: sign: %w", err)
	}
	return &encWriter{pt: pw, armor: out}, nil
}

package pgp

import (
	"errors"
	"fmt"
	"io"
	"strings"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
)

// Encrypt returns a writer for the plaintext; what is written is encrypted
// to every recipient in to (and signed by signer unless it is nil) and
// written ASCII-armored ("PGP MESSAGE") to ciphertext as it goes. Close
// finishes the message. Every recipient must pass CheckRecipient; otherwise
// nothing is written and the error names each bad recipient and wraps
// mailseal.ErrNoKey. SEIPDv2 (AEAD) is used when every recipient's key
// announces support for it, SEIPDv1 (MDC) otherwise.
func (e *Engine) Encrypt(ciphertext io.Writer, to []*openpgp.Entity, signer *openpgp.Entity) (io.WriteCloser, error) {
	var signers []*openpgp.Entity
	if signer != nil {
		signers = []*openpgp.Entity{signer}
	}
	return e.EncryptData(ciphertext, to, signers, nil, DataOptions{Armor: true})
}

// EncryptData is Encrypt for byte-level users: several signers, messages
// also (or only) encrypted to passwords, armor and text mode as opts say.
func (e *Engine) EncryptData(ciphertext io.Writer, to, signers []*openpgp.Entity, passwords [][]byte, opts DataOptions) (io.WriteCloser, error) {
	if len(to) == 0 && len(passwords) == 0 {
		return nil, fmt.Errorf("pgp: encrypt: no recipients: %w", mailseal.ErrUsage)
	}
	var bad []string
	for _, r := range to {
		if err := e.CheckRecipient(r); err != nil {
			bad = append(bad, strings.TrimPrefix(strings.TrimSuffix(err.Error(), ": "+mailseal.ErrNoKey.Error()), "pgp: "))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("pgp: encrypt: %s: %w", strings.Join(bad, "; "), mailseal.ErrNoKey)
	}
	for _, signer := range signers {
		if _, _, err := e.signingKey(signer); err != nil {
			return nil, err
		}
	}
	cfg := e.Config()
	// Layering: plaintext -> go-crypto (literal, signature, SEIPD) -> armor -> ciphertext.
	// The armor carries a CRC-24 line although RFC 9580 deprecates it:
	// GnuPG 2.2 misreads armor without one.
	var aw io.WriteCloser = nopCloser{ciphertext}
	if opts.Armor {
		aw = NewArmorWriter(ciphertext, armorMessage)
	}
	params := &openpgp.EncryptParams{Signers: signers, Config: cfg, TextSig: opts.Text, Passwords: passwords,
		Hints: &openpgp.FileHints{IsUTF8: opts.Text}}
	var pw io.WriteCloser
	var err error
	if len(to) == 0 {
		params.Passwords = passwords[1:]
		pw, err = openpgp.SymmetricallyEncryptWithParams(passwords[0], aw, params)
	} else {
		pw, err = openpgp.EncryptWithParams(aw, to, nil, params)
	}
	if err != nil {
		return nil, fmt.Errorf("pgp: encrypt: %v: %w", err, mailseal.ErrNoKey)
	}
	return &encWriter{pt: pw, armor: aw}, nil
}

type encWriter struct {
	pt     io.WriteCloser
	armor  io.WriteCloser
	closed bool
}

func (w *encWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("pgp: encrypt: write after close")
	}
	return w.pt.Write(p)
}

func (w *encWriter) Close() error {
	if w.closed {
		return errors.New("pgp: encrypt: already closed")
	}
	w.closed = true
	if err := w.pt.Close(); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	if err := w.armor.Close(); err != nil {
		return fmt.Errorf("pgp: encrypt: %w", err)
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

package pgp

import (
	"errors"
	"fmt"
	"io"
	"strings"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/stage"
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
	// Three goroutines share the work of a large message: the caller's
	// (producing plaintext), go-crypto's (hashing, encrypting) and the
	// armor's (base64, CRC-24, output).
	out := stage.NewWriter(aw)
	params := &openpgp.EncryptParams{Signers: signers, Config: cfg, TextSig: opts.Text, Passwords: passwords,
		Hints: &openpgp.FileHints{IsUTF8: opts.Text}}
	var pw io.WriteCloser
	var err error
	if len(to) == 0 {
		params.Passwords = passwords[1:]
		pw, err = openpgp.SymmetricallyEncryptWithParams(passwords[0], out, params)
	} else {
		pw, err = openpgp.EncryptWithParams(out, to, nil, params)
	}
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("pgp: encrypt: %v: %w", err, mailseal.ErrNoKey)
	}
	return &encWriter{in: stage.NewWriter(pw), pt: pw, out: out, armor: aw}, nil
}

// encWriter is the plaintext end of the pipeline in -> pt -> out -> armor;
// in and out, goroutine stages, may be nil.
type encWriter struct {
	in     *stage.Writer  // to go-crypto's goroutine
	pt     io.WriteCloser // go-crypto
	out    *stage.Writer  // to the armor's goroutine
	armor  io.WriteCloser
	closed bool
}

func (w *encWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("pgp: write after close")
	}
	var n int
	var err error
	if w.in != nil {
		n, err = w.in.Write(p)
	} else {
		n, err = w.pt.Write(p)
	}
	if err != nil {
		return n, fmt.Errorf("pgp: %w", err)
	}
	return n, nil
}

// Close finishes the message; every stage is closed even after an error,
// so that no goroutine is left behind.
func (w *encWriter) Close() error {
	if w.closed {
		return errors.New("pgp: already closed")
	}
	w.closed = true
	var err error
	if w.in != nil {
		err = w.in.Close()
	}
	if err == nil {
		err = w.pt.Close()
	}
	if w.out != nil {
		if oerr := w.out.Close(); err == nil {
			err = oerr
		}
	}
	if err == nil {
		err = w.armor.Close()
	}
	if err != nil {
		return fmt.Errorf("pgp: %w", err)
	}
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

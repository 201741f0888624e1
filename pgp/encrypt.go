package pgp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/stage"
)

// Encrypt returns a writer for the plaintext; what is written is encrypted
// to every recipient in to (and signed by signer unless it is nil) and
// written ASCII-armored ("PGP MESSAGE", in CRLF lines: the body of a
// PGP/MIME part) to ciphertext as it goes. Close
// finishes the message. Every recipient must pass CheckRecipient; otherwise
// nothing is written and the error names each bad recipient and wraps
// core.ErrNoKey. SEIPDv2 (AEAD) is used when every recipient's key
// announces support for it, SEIPDv1 (MDC) otherwise.
func (e *Engine) Encrypt(ciphertext io.Writer, to []*openpgp.Entity, signer *openpgp.Entity) (io.WriteCloser, error) {
	var signers []*openpgp.Entity
	if signer != nil {
		signers = []*openpgp.Entity{signer}
	}
	return e.EncryptData(ciphertext, to, signers, nil, DataOptions{Armor: true, CRLF: true})
}

// EncryptData is Encrypt for byte-level users: several signers, messages
// also (or only) encrypted to passwords, armor and text mode as opts say.
func (e *Engine) EncryptData(ciphertext io.Writer, to, signers []*openpgp.Entity, passwords [][]byte, opts DataOptions) (io.WriteCloser, error) {
	if len(to) == 0 && len(passwords) == 0 {
		return nil, fmt.Errorf("pgp: encrypt: no recipients: %w", core.ErrUsage)
	}
	var bad []string
	for _, r := range to {
		if err := e.CheckRecipient(r); err != nil {
			bad = append(bad, strings.TrimPrefix(strings.TrimSuffix(err.Error(), ": "+core.ErrNoKey.Error()), "pgp: "))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("pgp: encrypt: %s: %w", strings.Join(bad, "; "), core.ErrNoKey)
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
		aw = opts.armorWriter(ciphertext, armorMessage)
	}
	// The work of a large message is shared by goroutines: the caller's
	// (producing plaintext), the engine's behind the in stage (go-crypto's
	// hashing and encrypting; for SEIPDv1 our signatures' and the MDC's
	// hashes, with the CFB encryption on a stage of its own in
	// seipdV1Writer) and the armor's (base64, CRC-24, output).
	out := stage.NewWriter(aw)
	if len(passwords) == 0 && !opts.Text {
		pw, ok, err := e.encryptSEIPDV1(out, to, signers, cfg)
		if err != nil {
			out.Close()
			if errors.Is(err, core.ErrUsage) || errors.Is(err, core.ErrNoKey) || errors.Is(err, core.ErrLocked) {
				return nil, fmt.Errorf("pgp: encrypt: %w", err)
			}
			return nil, fmt.Errorf("pgp: encrypt: %v: %w", err, core.ErrNoKey)
		}
		if ok {
			return &encWriter{in: stage.NewWriter(pw), pt: pw, out: out, armor: aw}, nil
		}
	}
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
		return nil, fmt.Errorf("pgp: encrypt: %v: %w", err, core.ErrNoKey)
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
	// pt is closed even after an error: it may have a stage of its own.
	if perr := w.pt.Close(); err == nil {
		err = perr
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

// encryptSEIPDV1 encrypts to v4 recipients not all of which announce SEIPDv2,
// signed by v4 keys, the way go-crypto's EncryptWithParams does (the same
// cipher choice, key packets written by go-crypto itself, one-pass
// signatures, a binary literal packet, signatures with the Intended
// Recipient Fingerprint), but with seipdV1Writer for the encrypted data:
// several times faster, and with the CFB encryption on a goroutine of its
// own beside the hashing. ok is false when the message is not of that
// kind (or go-crypto disagrees about it): then go-crypto writes it.
func (e *Engine) encryptSEIPDV1(out io.Writer, to, signers []*openpgp.Entity, cfg *packet.Config) (w io.WriteCloser, ok bool, err error) {
	now := cfg.Now()
	ciphers := []uint8{uint8(packet.CipherAES256), uint8(packet.CipherAES128)}
	var recipients []*packet.Recipient
	allSEIPDv2 := true // then go-crypto writes SEIPDv2
	for _, r := range to {
		self, _ := r.PrimarySelfSignature(now, cfg)
		if r.PrimaryKey == nil || r.PrimaryKey.Version != 4 || self == nil {
			return nil, false, nil
		}
		allSEIPDv2 = allSEIPDv2 && self.SEIPDv2
		ciphers = slices.DeleteFunc(ciphers, func(c uint8) bool { return !slices.Contains(self.PreferredSymmetric, c) })
		if cfg.IntendedRecipients() {
			recipients = append(recipients, &packet.Recipient{KeyVersion: r.PrimaryKey.Version, Fingerprint: r.PrimaryKey.Fingerprint})
		}
	}
	if allSEIPDv2 {
		return nil, false, nil
	}
	c := packet.CipherAES128
	if len(ciphers) > 0 {
		c = packet.CipherFunction(ciphers[0])
		if slices.Contains(ciphers, uint8(cfg.Cipher())) {
			c = cfg.Cipher()
		}
	}
	var sigs []pendingSig
	for _, signer := range signers {
		ps, err := e.newPendingSig(signer, packet.SigTypeBinary, cfg)
		if err != nil {
			return nil, false, err
		}
		if ps.sig.Version != 4 {
			return nil, false, nil
		}
		ps.sig.IntendedRecipients = recipients
		sigs = append(sigs, ps)
	}
	sessionKey := make([]byte, c.KeySize())
	if _, err := io.ReadFull(cfg.Random(), sessionKey); err != nil {
		return nil, false, err
	}
	// go-crypto writes the key packets; the data it would encrypt with the
	// session key goes to probe, to check it is SEIPDv1 under the cipher
	// the key packets name: our reader, with c, must open it, MDC and all.
	var keyPackets, probe bytes.Buffer
	pw, err := openpgp.EncryptWithParams(&probe, to, nil, &openpgp.EncryptParams{KeyWriter: &keyPackets, SessionKey: sessionKey, Config: cfg})
	if err != nil {
		return nil, false, nil
	}
	if err := pw.Close(); err != nil {
		return nil, false, nil
	}
	if p, err := packet.NewReader(&probe).Next(); err != nil {
		return nil, false, nil
	} else if se, isSE := p.(*packet.SymmetricallyEncrypted); !isSE || se.Version != 1 || !se.IntegrityProtected {
		return nil, false, nil
	} else if r, ok, err := newSEIPDV1ReaderSize(se.Contents, c, sessionKey, 256); !ok || err != nil {
		return nil, false, nil
	} else if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, false, nil
	}
	if _, err := out.Write(keyPackets.Bytes()); err != nil {
		return nil, false, err
	}
	data, err := newSEIPDV1Writer(out, sessionKey, cfg.Random())
	if err != nil {
		return nil, false, err
	}
	// One-pass signature packets in signer order, the signatures after the
	// literal data in reverse order, as go-crypto writes them.
	for i, ps := range sigs {
		ops := &packet.OnePassSignature{Version: 3, SigType: ps.sig.SigType, Hash: ps.sig.Hash, PubKeyAlgo: ps.sig.PubKeyAlgo,
			KeyId: *ps.sig.IssuerKeyId, IsLast: i == len(sigs)-1}
		if err := ops.Serialize(data); err != nil {
			data.abort()
			return nil, false, err
		}
	}
	// data encrypts on a goroutine of its own, beside the signing hash.
	literal, err := newLiteralWriter(data)
	if err != nil {
		data.abort()
		return nil, false, err
	}
	return &signedLiteral{literal: literal, data: data, sigs: sigs, cfg: cfg}, true, nil
}

// literalWriter writes a literal data packet (RFC 9580 5.9) of binary data
// with no file name and a zero date, as packet.SerializeLiteral(w, true,
// "", 0) does, in partial-length chunks of seipdV1Chunk. SerializeLiteral
// copies every byte into a buffer of its own; here the whole chunks of a
// large write go out as they are (a stage.Writer copies them anyway), and
// only the pieces around them are gathered. The last chunk is kept until
// Close, so that the packet never ends with an empty one.
type literalWriter struct {
	out   io.Writer
	chunk []byte
	err   error // the first write error: every later call fails with it
}

func newLiteralWriter(out io.Writer) (*literalWriter, error) {
	if _, err := out.Write([]byte{0xC0 | 11}); err != nil { // new-format header, tag 11
		return nil, err
	}
	w := &literalWriter{out: out, chunk: make([]byte, 0, 1024)}
	w.chunk = append(w.chunk, 'b', 0, 0, 0, 0, 0) // binary, no file name, no date
	return w, nil
}

// Write returns how much of p it took (gathered, or gone out in a whole
// chunk) with the first error.
func (w *literalWriter) Write(p []byte) (int, error) {
	n := 0
	for w.err == nil && n < len(p) {
		if len(w.chunk) == seipdV1Chunk {
			if w.err = writePartialChunk(w.out, w.chunk); w.err != nil {
				break
			}
			w.chunk = w.chunk[:0]
		}
		if rest := p[n:]; len(w.chunk) == 0 && len(rest) > seipdV1Chunk {
			if w.err = writePartialChunk(w.out, rest[:seipdV1Chunk]); w.err == nil {
				n += seipdV1Chunk
			}
			continue
		}
		k := min(len(p)-n, seipdV1Chunk-len(w.chunk))
		w.chunk = append(w.chunk, p[n:n+k]...)
		n += k
	}
	return n, w.err
}

// Close writes the last chunk; it does not close out. After a write
// error it writes nothing and returns that error.
func (w *literalWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = writeLastChunk(w.out, w.chunk)
	return w.err
}

// writePartialChunk writes chunk, seipdV1Chunk bytes, with its partial body
// length (RFC 9580 4.2.1.4).
func writePartialChunk(out io.Writer, chunk []byte) error {
	if _, err := out.Write([]byte{0xE0 | seipdV1ChunkBits}); err != nil {
		return err
	}
	_, err := out.Write(chunk)
	return err
}

// writeLastChunk writes the last chunk of a packet with its length.
func writeLastChunk(out io.Writer, chunk []byte) error {
	var hdr []byte
	switch n := len(chunk); {
	case n < 192:
		hdr = []byte{byte(n)}
	case n < 8384:
		hdr = []byte{byte((n-192)>>8) + 192, byte(n - 192)}
	default:
		hdr = []byte{0xFF, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	if _, err := out.Write(hdr); err != nil {
		return err
	}
	_, err := out.Write(chunk)
	return err
}

// signedLiteral is the plaintext end of encryptSEIPDV1: what is written is
// hashed for each signature and framed as literal data; Close writes the
// signatures and ends the encrypted data.
type signedLiteral struct {
	literal io.WriteCloser
	data    *seipdV1Writer
	sigs    []pendingSig
	cfg     *packet.Config
}

func (s *signedLiteral) Write(p []byte) (int, error) {
	for _, ps := range s.sigs {
		ps.in.Write(p)
	}
	return s.literal.Write(p)
}

func (s *signedLiteral) Close() error {
	err := s.literal.Close()
	for i := len(s.sigs) - 1; i >= 0 && err == nil; i-- {
		ps := s.sigs[i]
		if err = ps.sig.Sign(ps.h, ps.key, s.cfg); err == nil {
			err = ps.sig.Serialize(s.data)
		}
	}
	if err == nil {
		err = s.data.Close()
	} else {
		s.data.abort()
	}
	return err
}

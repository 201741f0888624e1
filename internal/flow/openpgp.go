package flow

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/stage"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

// RFC 3156 media types.
const (
	pgpSignatureType = "application/pgp-signature"
	pgpEncryptedType = "application/pgp-encrypted"
)

// maxInlineText bounds the text body read when looking for inline PGP blocks.
const maxInlineText = 64 << 20

// OpenPGP is the OpenPGP engine as the message flow uses it: PGP/MIME
// (RFC 3156) and inline PGP.
type OpenPGP struct {
	Engine  *pgp.Engine
	Keyring pgp.Keyring
}

func (o *OpenPGP) Protocol() string { return mailseal.ProtocolOpenPGP }

// Detect recognises multipart/signed and multipart/encrypted with the
// OpenPGP protocol parameter, and text bodies holding armored blocks.
func (o *OpenPGP) Detect(e *mime.Entity) (Kind, bool) {
	switch e.MediaType {
	case "multipart/signed":
		if strings.EqualFold(e.Params["protocol"], pgpSignatureType) {
			return KindSigned, true
		}
	case "multipart/encrypted":
		if strings.EqualFold(e.Params["protocol"], pgpEncryptedType) {
			return KindEncrypted, true
		}
	case "text/plain":
		text, err := readLimited(e.Body(), maxInlineText)
		if err == nil && len(pgp.FindBlocks(text)) > 0 {
			return KindInline, true
		}
	}
	return KindPlain, false
}

// Sign writes m as a PGP/MIME multipart/signed message signed by signer,
// with RFC 9788 Header Protection (hp="clear"). The content is made 7-bit
// safe first, as RFC 3156 requires.
func (o *OpenPGP) Sign(w io.Writer, m *mime.Message, signer *openpgp.Entity) error {
	micalg, err := o.Engine.Micalg(signer)
	if err != nil {
		return err
	}
	var sig bytes.Buffer
	sw, err := o.Engine.SignDetached(&sig, signer)
	if err != nil {
		return err
	}
	outer, payload := mime.Protect(m, false, true)
	return mime.WriteSigned(w, outer, pgpSignatureType, micalg, payload, sw,
		mime.Header{{Key: "Content-Type", Value: pgpSignatureType + "; name=\"signature.asc\""}}, func() ([]byte, error) {
			if err := sw.Close(); err != nil {
				return nil, err
			}
			return sig.Bytes(), nil
		})
}

// Encrypt writes m as a PGP/MIME multipart/encrypted message to the given
// recipients, signed by signer if it is not nil, with RFC 9788 Header
// Protection (hp="cipher", Subject "[...]" outside). The Bcc field is dropped.
func (o *OpenPGP) Encrypt(w io.Writer, m *mime.Message, to []*openpgp.Entity, signer *openpgp.Entity) error {
	if signer != nil {
		// Fail before writing anything if the signer cannot sign.
		if _, err := o.Engine.Micalg(signer); err != nil {
			return err
		}
	}
	outer, content := mime.Protect(m, true, false)
	payload, err := mime.WriteEncrypted(w, outer, pgpEncryptedType, pgpEncryptedType,
		[]byte("Version: 1\r\n"), "application/octet-stream; name=\"encrypted.asc\"")
	if err != nil {
		return err
	}
	pt, err := o.Engine.Encrypt(payload, to, signer)
	if err != nil {
		return err
	}
	_, err = io.Copy(pt, content)
	// Close even after an error: it stops the engine's goroutines.
	if cerr := pt.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return payload.Close()
}

// verifySigned checks a PGP/MIME multipart/signed entity.
func (o *OpenPGP) verifySigned(e *mime.Entity) ([]mailseal.Signer, error) {
	if len(e.Children) != 2 {
		return nil, fmt.Errorf("multipart/signed has %d parts, want 2: %w", len(e.Children), mailseal.ErrInput)
	}
	sigPart := e.Children[1]
	if sigPart.MediaType != pgpSignatureType {
		return nil, fmt.Errorf("signature part is %s, want %s: %w", sigPart.MediaType, pgpSignatureType, mailseal.ErrInput)
	}
	// The signed part is read on a goroutine of its own, beside hashing.
	content := stage.NewReader(e.Children[0].Raw())
	defer content.Close()
	return o.Engine.VerifyDetached(content, sigPart.Body(), o.Keyring.Certs)
}

// open decrypts (or, for inline signed text, verifies) a protected entity
// and returns its content.
// signedPartHashes is empty: an OpenPGP signature hashes the signed part
// with its own trailer, inside the engine.
func (o *OpenPGP) signedPartHashes(map[string]string) []crypto.Hash { return nil }

func (o *OpenPGP) open(f Found) (*Opened, error) {
	switch f.Kind {
	case KindSigned:
		signers, err := o.verifySigned(f.Entity)
		if err != nil {
			return nil, err
		}
		return &Opened{Signers: signers, Inner: f.Entity.Children[0].Raw()}, nil
	case KindEncrypted:
		e := f.Entity
		if len(e.Children) != 2 {
			return nil, fmt.Errorf("multipart/encrypted has %d parts, want 2: %w", len(e.Children), mailseal.ErrInput)
		}
		if ct := e.Children[0].MediaType; ct != pgpEncryptedType {
			return nil, fmt.Errorf("first part of multipart/encrypted is %s, want %s: %w", ct, pgpEncryptedType, mailseal.ErrInput)
		}
		d, err := o.Engine.Decrypt(e.Children[1].Body(), o.Keyring)
		if err != nil {
			return nil, err
		}
		return &Opened{Encrypted: true, Integrity: d.Integrity, DecryptedWith: d.DecryptedWith,
			Signers: d.Signers, Inner: d.Body, closer: d.Close}, nil
	case KindInline:
		return o.openInline(f.Entity)
	}
	return nil, fmt.Errorf("not an OpenPGP entity: %w", mailseal.ErrInput)
}

// openInline handles a text body with armored blocks. Exactly one block is
// opened; text outside it is reported as unprotected, never merged into the
// signed or decrypted text.
func (o *OpenPGP) openInline(e *mime.Entity) (*Opened, error) {
	text, err := readLimited(e.Body(), maxInlineText)
	if err != nil {
		return nil, err
	}
	blocks := pgp.FindBlocks(text)
	if len(blocks) == 0 {
		return nil, fmt.Errorf("no armored OpenPGP block: %w", mailseal.ErrInput)
	}
	b := blocks[0]
	var unprotected []string
	if strings.TrimSpace(string(text[:b.Start])) != "" {
		unprotected = append(unprotected, "text before the armored block")
	}
	if strings.TrimSpace(string(text[b.End:])) != "" {
		unprotected = append(unprotected, "text after the armored block")
	}
	if len(blocks) > 1 {
		unprotected = append(unprotected, fmt.Sprintf("%d further armored blocks (not processed)", len(blocks)-1))
	}
	charset := e.Params["charset"]
	if charset == "" {
		charset = "utf-8"
	}
	header := "Content-Type: text/plain; charset=" + charset + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	switch b.Kind {
	case pgp.KindSigned:
		signed, signers, err := o.Engine.VerifyCleartext(text[b.Start:b.End], o.Keyring.Certs)
		if err != nil {
			return nil, err
		}
		return &Opened{Signers: signers, Unprotected: unprotected,
			Inner: io.MultiReader(strings.NewReader(header), bytes.NewReader(signed))}, nil
	default:
		d, err := o.Engine.Decrypt(bytes.NewReader(text[b.Start:b.End]), o.Keyring)
		if err != nil {
			return nil, err
		}
		return &Opened{Encrypted: d.Encrypted, Integrity: d.Integrity, DecryptedWith: d.DecryptedWith,
			Signers: d.Signers, Unprotected: unprotected,
			Inner: io.MultiReader(strings.NewReader(header), d.Body), closer: d.Close}, nil
	}
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errors.New("text body too large for inline OpenPGP")
	}
	return data, nil
}

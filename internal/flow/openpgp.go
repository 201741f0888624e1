package flow

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"strings"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/stage"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

// RFC 3156 media types.
const (
	pgpSignatureType = "application/pgp-signature"
	pgpEncryptedType = "application/pgp-encrypted"
)

// maxCleartextBlock bounds an inline cleartext-signed block, which is
// verified in memory: go-crypto's clearsign takes a whole block, and the
// verification needs about eight times its size. Text bodies are otherwise
// streamed, and an encrypted block too.
const maxCleartextBlock = 2 << 20

// OpenPGP is the OpenPGP engine as the message flow uses it: PGP/MIME
// (RFC 3156) and inline PGP.
type OpenPGP struct {
	Engine  *pgp.Engine
	Keyring pgp.Keyring
	// KeepSubject leaves the Subject of what Encrypt writes readable
	// outside (mime.ProtectOptions.KeepSubject).
	KeepSubject bool
}

func (o *OpenPGP) Protocol() string { return core.ProtocolOpenPGP }

// Detect recognises multipart/signed and multipart/encrypted with the
// OpenPGP protocol parameter (a multipart/signed whose protocol is missing
// or wrong by its signature part), text bodies holding armored blocks, and
// PGP/MIME that Exchange and Outlook turned into multipart/mixed (mixedUp).
func (o *OpenPGP) Detect(e *mime.Entity) (Kind, bool) {
	switch e.MediaType {
	case "multipart/mixed":
		if mixedUp(e) {
			return KindEncrypted, true
		}
	case "multipart/signed":
		if strings.EqualFold(e.Params["protocol"], pgpSignatureType) || len(e.Children) == 2 && pgpSignaturePart(e.Children[1]) {
			return KindSigned, true
		}
	case "multipart/encrypted":
		if strings.EqualFold(e.Params["protocol"], pgpEncryptedType) {
			return KindEncrypted, true
		}
	case "text/plain", "text/html":
		if found, err := pgp.HasBlock(inlineText(e)()); err == nil && found {
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
	outer, payload := mime.Protect(m, mime.ProtectOptions{SevenBit: true})
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
	outer, content := mime.Protect(m, mime.ProtectOptions{Encrypt: true, KeepSubject: o.KeepSubject})
	payload, err := mime.WriteEncrypted(w, outer, pgpEncryptedType, pgpEncryptedType,
		[]byte("Version: 1\r\n"), "application/octet-stream; name=\"encrypted.asc\"")
	if err != nil {
		return err
	}
	pt, err := o.Engine.Encrypt(payload, to, signer)
	if err != nil {
		return err
	}
	_, err = copyBody(pt, content)
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
func (o *OpenPGP) verifySigned(e *mime.Entity) ([]core.Signature, []string, error) {
	if len(e.Children) < 2 {
		return nil, nil, fmt.Errorf("multipart/signed has %d parts, want 2: %w", len(e.Children), core.ErrInput)
	}
	sigPart := e.Children[1]
	if !pgpSignaturePart(sigPart) {
		return nil, nil, fmt.Errorf("signature part is %s, want %s: %w", sigPart.MediaType, pgpSignatureType, core.ErrInput)
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
		signers, warnings, err := o.verifySigned(f.Entity)
		if err != nil {
			return nil, err
		}
		return &Opened{Signers: signers, Warnings: warnings, Unprotected: partsAfterSignature(f.Entity),
			Inner: f.Entity.Children[0].Raw()}, nil
	case KindEncrypted:
		e := f.Entity
		var ciphertext *mime.Entity
		var warnings []string
		switch {
		case e.MediaType == "multipart/mixed": // mixedUp
			ciphertext = e.Children[2]
			warnings = append(warnings, "the message's structure was repaired: it is PGP/MIME that a server (Exchange, Outlook) turned from multipart/encrypted into multipart/mixed")
		case e.MediaType != "multipart/encrypted": // a part named by --part (encryptedPart)
			ciphertext = e
		case len(e.Children) != 2:
			return nil, fmt.Errorf("multipart/encrypted has %d parts, want 2: %w", len(e.Children), core.ErrInput)
		case e.Children[0].MediaType != pgpEncryptedType:
			return nil, fmt.Errorf("first part of multipart/encrypted is %s, want %s: %w", e.Children[0].MediaType, pgpEncryptedType, core.ErrInput)
		default:
			ciphertext = e.Children[1]
		}
		// The canonical body, whatever the message's line endings: the
		// armor reader's result must not depend on them.
		d, err := o.Engine.Decrypt(ciphertext.Body(), o.Keyring)
		if err != nil {
			return nil, err
		}
		if !d.Encrypted {
			// Plain OpenPGP data dressed as encrypted: nothing shows where
			// it came from, and it must not be reported as decrypted.
			d.Close()
			return nil, fmt.Errorf("the encrypted part holds OpenPGP data that is not encrypted: %w", core.ErrInput)
		}
		return &Opened{Encrypted: true, Integrity: d.Integrity, DecryptedWith: d.DecryptedWith,
			Signers: d.Signers, Warnings: append(warnings, d.Warnings...), Inner: d.Body, closer: d.Close}, nil
	case KindInline:
		return o.openInline(f.Entity)
	}
	return nil, fmt.Errorf("not an OpenPGP entity: %w", core.ErrInput)
}

// mixedUp reports whether e is PGP/MIME as Exchange and Outlook mangle it
// ("mixed-up" encryption): a multipart/mixed of exactly an empty
// text/plain, the application/pgp-encrypted version part ("Version: 1")
// and an application/octet-stream holding the armored message (named
// encrypted.asc). Exactly this shape is repaired (as KMail and Delta Chat
// do); text in the first part, or any other part, leaves the message as it
// is.
func mixedUp(e *mime.Entity) bool {
	if !mixedUpWithText(e) {
		return false
	}
	body, ok := smallBody(e.Children[0], 1024)
	return ok && len(bytes.TrimSpace(body)) == 0
}

// mixedUpWithText reports whether e has the shape of mixed-up encryption
// whatever its first part holds: text/plain, the version part and the
// armored message.
func mixedUpWithText(e *mime.Entity) bool {
	if e.MediaType != "multipart/mixed" || len(e.Children) != 3 {
		return false
	}
	text, version, data := e.Children[0], e.Children[1], e.Children[2]
	if text.MediaType != "text/plain" || version.MediaType != pgpEncryptedType || data.MediaType != "application/octet-stream" {
		return false
	}
	if body, ok := smallBody(version, 1024); !ok || !strings.EqualFold(string(bytes.TrimSpace(body)), "Version: 1") {
		return false
	}
	return armoredMessage(data)
}

// DetectChild recognises the encrypted.asc of mixed-up encryption whose
// first part holds text (KMail's "ambiguous" shape): not repaired, since
// that text would be unprotected beside the decrypted message, but found,
// so that the report says where the encrypted content is (a nested part,
// opened with --part) instead of calling the message unencrypted.
func (o *OpenPGP) DetectChild(parent, child *mime.Entity) (Kind, bool) {
	if len(parent.Children) == 3 && child == parent.Children[2] && mixedUpWithText(parent) && !mixedUp(parent) {
		return KindEncrypted, true
	}
	return KindPlain, false
}

// armoredMessage reports whether e's body is an armored OpenPGP message
// (white space, then its BEGIN line).
func armoredMessage(e *mime.Entity) bool { return armored(e, "MESSAGE") }

// pgpSignaturePart reports whether e is the signature part of PGP/MIME:
// application/pgp-signature, or a part of another media type holding an
// armored signature (clients that name the protocol wrong; the signature
// is checked all the same).
func pgpSignaturePart(e *mime.Entity) bool {
	return e.MediaType == pgpSignatureType || !e.IsMultipart() && armored(e, "SIGNATURE")
}

// armored reports whether e's body starts (after white space) with the
// BEGIN line of an armored block of kind ("MESSAGE", "SIGNATURE").
func armored(e *mime.Entity, kind string) bool {
	head := make([]byte, 1024)
	n, _ := io.ReadFull(e.Body(), head)
	return bytes.HasPrefix(bytes.TrimLeft(head[:n], " \t\r\n"), []byte("-----BEGIN PGP "+kind+"-----"))
}

// smallBody reads e's decoded body if it has at most max bytes.
func smallBody(e *mime.Entity, max int64) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(e.Body(), max+1))
	if err != nil || int64(len(body)) > max {
		return nil, false
	}
	return body, true
}

// DetectNamed recognises, in a part the user names (--part), what Detect
// does and also the encrypted half of broken PGP/MIME: an
// application/octet-stream whose body is an armored OpenPGP message (the
// encrypted.asc of mixed-up encryption). It is not looked for elsewhere:
// an encrypted file attached to a message is not the message's encryption.
func (o *OpenPGP) DetectNamed(e *mime.Entity) (Kind, bool) {
	if k, ok := o.Detect(e); ok {
		return k, true
	}
	if e.MediaType == "application/octet-stream" && armoredMessage(e) {
		return KindEncrypted, true
	}
	return KindPlain, false
}

// openInline handles a text body with armored blocks. Exactly one block is
// opened; text outside it is reported as unprotected, never merged into the
// signed or decrypted text.
func (o *OpenPGP) openInline(e *mime.Entity) (*Opened, error) {
	text := inlineText(e)
	s := pgp.NewBlockScanner(text)
	if !s.Scan() {
		if err := s.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no armored OpenPGP block: %w", core.ErrInput)
	}
	b := s.Block()
	var unprotected []string
	if s.TextBefore() {
		unprotected = append(unprotected, "text before the armored block")
	}
	further := 0
	for s.Scan() {
		further++
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if further > 0 || s.TextAfter() {
		unprotected = append(unprotected, "text after the armored block")
	}
	if further > 0 {
		unprotected = append(unprotected, fmt.Sprintf("%d further armored blocks (not processed)", further))
	}
	if size := b.End - b.Start; b.Kind == pgp.KindSigned && size > maxCleartextBlock {
		return nil, fmt.Errorf("the cleartext-signed block is %.1f MiB, more than the %d MiB mailseal verifies; ask the sender to sign with PGP/MIME (multipart/signed), which has no such limit: %w",
			float64(size)/(1<<20), maxCleartextBlock>>20, core.ErrInput)
	}
	if b.Kind == pgp.KindSigned && isHTMLBody(e.MediaType) {
		return nil, fmt.Errorf("a cleartext-signed block in an HTML body cannot be checked: HTML does not keep the signed text's lines and spaces; ask the sender to sign with PGP/MIME: %w", core.ErrInput)
	}
	block, err := textSection(text, int64(b.Start), int64(b.End))
	if err != nil {
		return nil, err
	}
	charset := e.Params["charset"]
	if charset == "" {
		charset = "utf-8"
	}
	header := "Content-Type: text/plain; charset=" + charset + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	switch b.Kind {
	case pgp.KindSigned:
		data := make([]byte, b.End-b.Start)
		if _, err := io.ReadFull(block, data); err != nil {
			return nil, fmt.Errorf("reading the cleartext-signed block: %w", err)
		}
		ct, err := o.Engine.VerifyCleartext(data, o.Keyring.Certs)
		if err != nil {
			return nil, err
		}
		return &Opened{Signers: ct.Signers, Warnings: ct.Warnings, Unprotected: unprotected,
			Inner: io.MultiReader(strings.NewReader(header), bytes.NewReader(ct.Text))}, nil
	default:
		d, err := o.Engine.Decrypt(block, o.Keyring)
		if err != nil {
			return nil, err
		}
		return &Opened{Encrypted: d.Encrypted, Integrity: d.Integrity, DecryptedWith: d.DecryptedWith,
			Signers: d.Signers, Warnings: d.Warnings, Unprotected: unprotected,
			Inner: io.MultiReader(strings.NewReader(header), d.Body), closer: d.Close}, nil
	}
}

// inlineText opens the text in which inline armor is looked for: the
// decoded body of a text/plain part, the text of a text/html one
// (htmlText).
func inlineText(e *mime.Entity) func() io.Reader {
	if isHTMLBody(e.MediaType) {
		return func() io.Reader { return htmlText(e.Body()) }
	}
	return e.Body
}

// textSection returns bytes start to end of the text that open returns,
// read again: in place if it can be.
func textSection(open func() io.Reader, start, end int64) (io.Reader, error) {
	body := open()
	if ra, ok := body.(io.ReaderAt); ok {
		return io.NewSectionReader(ra, start, end-start), nil
	}
	if _, err := io.CopyN(io.Discard, body, start); err != nil {
		return nil, fmt.Errorf("reading the text body again: %w", err)
	}
	return io.LimitReader(body, end-start), nil
}

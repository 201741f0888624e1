package cms

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/dn"
)

// encryptChunk is the size of the OCTET STRING pieces of encryptedContent.
const encryptChunk = 16 << 10

// Encrypt writes a BER ContentInfo (AuthEnvelopedData for the GCM ciphers,
// EnvelopedData for CBC) to w, with indefinite lengths, streaming: the
// content is written to the returned writer, and Close writes the rest
// (the GCM tag goes in the mac field; there are no authAttrs). The key
// management for each recipient follows its certificate's key: RSA (PKCS #1
// v1.5, or RSAES-OAEP with SHA-256 if opts.RSAOAEP), ECDSA P-256/P-384/P-521
// (ECDH with X9.63 KDF SHA-256/384/512 and AES-128/192/256 key wrap),
// X25519 (RFC 8418: HKDF-SHA256, AES-256 key wrap). Recipients are
// identified by issuer and serial number. Errors that name a recipient
// wrap core.ErrNoKey.
func Encrypt(w io.Writer, recipients []*x509.Certificate, opts EncryptOptions) (io.WriteCloser, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("cms: encrypt: no recipients: %w", core.ErrUsage)
	}
	enc, cek, algID, err := newContentEncryption(opts.Cipher)
	if err != nil {
		return nil, fmt.Errorf("cms: encrypt: %w", err)
	}
	defer clear(cek)
	var infos [][]byte
	version := 0
	var bad []string
	for _, cert := range recipients {
		der, riVersion, err := recipientInfo(cert, cek, opts)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", certName(cert), err))
			continue
		}
		if riVersion != 0 {
			version = 2 // RFC 5652 6.1: any KARI (version 3) makes EnvelopedData version 2
		}
		infos = append(infos, der)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("cms: encrypt: cannot encrypt to %s: %w", joinSemicolon(bad), core.ErrNoKey)
	}
	contentType := oidEnvelopedData
	if opts.Cipher.authenticated() {
		contentType = oidAuthEnvelopedData
		version = 0 // RFC 5083: always 0
	}

	var head cryptobyte.Builder
	head.AddASN1ObjectIdentifier(contentType)
	header := head.BytesOrPanic()
	var start []byte
	start = appendIndefinite(start, cbasn1.SEQUENCE) // ContentInfo
	start = append(start, header...)
	start = appendIndefinite(start, cbasn1.Tag(0).Constructed().ContextSpecific()) // [0] EXPLICIT content
	start = appendIndefinite(start, cbasn1.SEQUENCE)                               // (Auth)EnvelopedData
	var v cryptobyte.Builder
	v.AddASN1Int64(int64(version))
	start = append(start, v.BytesOrPanic()...)
	start = appendIndefinite(start, cbasn1.SET) // RecipientInfos
	for _, ri := range infos {
		start = append(start, ri...)
	}
	start = appendEndOfContents(start)
	start = appendIndefinite(start, cbasn1.SEQUENCE) // EncryptedContentInfo
	var data cryptobyte.Builder
	data.AddASN1ObjectIdentifier(oidData)
	start = append(start, data.BytesOrPanic()...)
	start = append(start, algID...)
	start = appendIndefinite(start, cbasn1.Tag(0).Constructed().ContextSpecific()) // encryptedContent [0] IMPLICIT OCTET STRING

	return &encryptWriter{w: w, start: start, enc: enc}, nil
}

func certName(cert *x509.Certificate) string {
	if len(cert.EmailAddresses) > 0 {
		return cert.EmailAddresses[0]
	}
	return dn.String(cert.Subject)
}

// appendIndefinite appends an identifier octet (tags < 31) with the
// indefinite length octet 0x80.
func appendIndefinite(b []byte, tag cbasn1.Tag) []byte {
	return append(b, byte(tag)|0x20, 0x80)
}

func appendEndOfContents(b []byte) []byte { return append(b, 0, 0) }

// appendDefiniteHeader appends a definite-length header.
func appendDefiniteHeader(b []byte, tag cbasn1.Tag, length int) []byte {
	b = append(b, byte(tag))
	switch {
	case length < 0x80:
		return append(b, byte(length))
	case length < 0x100:
		return append(b, 0x81, byte(length))
	case length < 0x10000:
		return append(b, 0x82, byte(length>>8), byte(length))
	default:
		return append(b, 0x83, byte(length>>16), byte(length>>8), byte(length))
	}
}

// encryptWriter collects plaintext into chunks, encrypts each and writes
// it as one primitive OCTET STRING of the constructed encryptedContent, in
// one Write: the ciphertext goes into out after pieceRoom bytes, and the
// OCTET STRING header into the end of that room. (A bufio.Writer in front
// of w cost a 16 KiB buffer per message, most of a small message's
// allocations, and a copy of every piece of a large one.)
type encryptWriter struct {
	w      io.Writer
	start  []byte // the structure up to encryptedContent, written before the first piece (nil once written)
	enc    contentEncrypter
	buf    []byte // plaintext waiting for a full chunk (grown by append: a small message does not allocate a whole chunk)
	out    []byte // pieceRoom bytes, then a piece's ciphertext
	err    error
	closed bool
}

// pieceRoom is the room for a piece's header: a tag and a length of up to
// three octets (a piece is at most encryptChunk plus a block).
const pieceRoom = 5

func (e *encryptWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, errors.New("cms: encrypt: write after close")
	}
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), encryptChunk-len(e.buf))
		e.buf = append(e.buf, p[:k]...)
		p = p[k:]
		if len(e.buf) == encryptChunk {
			if err := e.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (e *encryptWriter) flush() error {
	out, err := e.enc.encrypt(e.room(), e.buf)
	e.buf = e.buf[:0]
	if err != nil {
		e.err = fmt.Errorf("cms: encrypt: %w", err)
		return e.err
	}
	e.out = out
	return e.writePiece()
}

// room is e.out emptied to its pieceRoom bytes.
func (e *encryptWriter) room() []byte {
	return append(e.out[:0], make([]byte, pieceRoom)...)
}

// writePiece writes the ciphertext in e.out (after its room), if any, as
// one OCTET STRING.
func (e *encryptWriter) writePiece() error {
	n := len(e.out) - pieceRoom
	if n == 0 {
		return nil
	}
	if e.start != nil {
		if _, err := e.w.Write(e.start); err != nil {
			e.err = fmt.Errorf("cms: encrypt: %w", err)
			return e.err
		}
		e.start = nil
	}
	var hdr [pieceRoom]byte
	h := appendDefiniteHeader(hdr[:0], cbasn1.OCTET_STRING, n)
	off := pieceRoom - len(h)
	copy(e.out[off:], h)
	if _, err := e.w.Write(e.out[off:]); err != nil {
		e.err = fmt.Errorf("cms: encrypt: %w", err)
		return e.err
	}
	return nil
}

// Close encrypts what is left, writes the end of the structure and the
// GCM tag. It does not close the underlying writer.
func (e *encryptWriter) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	if e.err != nil {
		return e.err
	}
	var mac []byte
	whole := false
	if ws, ok := e.enc.(wholeSealer); ok && e.start != nil {
		// Nothing was encrypted yet: the content is all in buf.
		var out []byte
		if out, mac, whole = ws.sealWhole(e.room(), e.buf); whole {
			e.out = out
		}
	}
	if !whole {
		if len(e.buf) > 0 {
			if err := e.flush(); err != nil {
				return err
			}
		}
		e.out, mac = e.enc.finish(e.room())
	}
	if err := e.writePiece(); err != nil {
		return err
	}
	tail := e.start // still here when there was no ciphertext at all
	e.start = nil
	tail = appendEndOfContents(tail) // encryptedContent
	tail = appendEndOfContents(tail) // EncryptedContentInfo
	if mac != nil {
		tail = appendDefiniteHeader(tail, cbasn1.OCTET_STRING, len(mac))
		tail = append(tail, mac...)
	}
	tail = appendEndOfContents(tail) // (Auth)EnvelopedData
	tail = appendEndOfContents(tail) // [0]
	tail = appendEndOfContents(tail) // ContentInfo
	if _, err := e.w.Write(tail); err != nil {
		e.err = fmt.Errorf("cms: encrypt: %w", err)
	}
	return e.err
}

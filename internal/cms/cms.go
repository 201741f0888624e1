// Package cms is mailseal's CMS codec (RFC 5652) for S/MIME message bodies:
// SignedData (sign and verify, detached or encapsulated), and
// EnvelopedData (RFC 5652 section 6, AES-CBC, 3DES read-only) and
// AuthEnvelopedData (RFC 5083/5084, AES-GCM), with key transport to RSA
// recipients (PKCS #1 v1.5 or RSAES-OAEP) and ephemeral-static key
// agreement to EC recipients (RFC 5753: P-256/P-384/P-521, X9.63 KDF, AES
// key wrap) and X25519 recipients (RFC 8418: HKDF).
//
// Both directions stream. Encrypt writes BER with indefinite lengths while
// the content is written; Decrypt reads the message incrementally and
// withholds the plaintext in an internal/spool.Spool until the GCM tag (or,
// for CBC, the end of the stream and the padding) has been checked.
//
// Errors: every failure to decrypt (key unwrap, padding, tag, truncation)
// is one generic error wrapping core.ErrIntegrity, so the errors are no
// oracle; no matching recipient wraps core.ErrNoKey; malformed input
// wraps core.ErrInput.
package cms

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/mailseal/mailseal/core"
)

// Cipher is a content-encryption algorithm for Encrypt.
type Cipher int

const (
	// AES256GCM is AES-256 in GCM mode in AuthEnvelopedData (the default).
	AES256GCM Cipher = iota
	// AES128GCM is AES-128 in GCM mode in AuthEnvelopedData.
	AES128GCM
	// AES256CBC is AES-256-CBC in EnvelopedData: no integrity protection,
	// for recipients that cannot read AuthEnvelopedData.
	AES256CBC
	// AES128CBC is AES-128-CBC in EnvelopedData (legacy, as AES256CBC).
	AES128CBC
)

func (c Cipher) String() string {
	switch c {
	case AES256GCM:
		return "AES-256-GCM"
	case AES128GCM:
		return "AES-128-GCM"
	case AES256CBC:
		return "AES-256-CBC"
	case AES128CBC:
		return "AES-128-CBC"
	}
	return fmt.Sprintf("Cipher(%d)", int(c))
}

func (c Cipher) authenticated() bool { return c == AES256GCM || c == AES128GCM }

// EncryptOptions select the content cipher and the RSA key transport.
type EncryptOptions struct {
	Cipher Cipher
	// RSAOAEP uses RSAES-OAEP with SHA-256 (hash and MGF1) instead of
	// PKCS #1 v1.5 for RSA recipients.
	RSAOAEP bool
}

// Identity is a recipient certificate with its private key: *rsa.PrivateKey,
// *ecdsa.PrivateKey, or *ecdh.PrivateKey (P-256/P-384/P-521 or X25519).
type Identity struct {
	Cert *x509.Certificate
	Key  crypto.PrivateKey
}

// errDecrypt is the one error for every decryption failure.
var errDecrypt = core.WithKind(errors.New("cms: decrypt: the message cannot be decrypted: it is damaged, tampered with, or not for this key"), core.ErrIntegrity)

func inputError(format string, args ...any) error {
	return fmt.Errorf("cms: decrypt: malformed message: %s: %w", fmt.Sprintf(format, args...), core.ErrInput)
}

// Package cmstest alters S/MIME messages for tests: it finds the IV and
// the ciphertext of an AES-CBC EnvelopedData, so that tests can flip bits
// in them as an attacker would (CBC is malleable: a changed IV changes the
// first plaintext block the same way, a changed ciphertext block garbles
// its own plaintext block and changes the next one the same way).
package cmstest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/mailseal/mailseal/internal/b64lines"
)

// aesCBCOIDPrefix is the DER of an AES-CBC algorithm OID
// (2.16.840.1.101.3.4.1.x) without its last byte: 2 (AES-128), 22
// (AES-192) or 42 (AES-256).
var aesCBCOIDPrefix = []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01}

// CBCLayout finds, in a BER or DER EnvelopedData with an AES-CBC content
// cipher, the offset of the IV (the algorithm's OCTET STRING parameter)
// and of the first byte of ciphertext, with the number of ciphertext
// bytes that follow it contiguously (the primitive encryptedContent [0],
// or the first OCTET STRING of a constructed one).
func CBCLayout(der []byte) (iv, ct, ctLen int, err error) {
	for from := 0; ; {
		i := bytes.Index(der[from:], aesCBCOIDPrefix)
		if i < 0 {
			return 0, 0, 0, fmt.Errorf("cmstest: no AES-CBC content-encryption algorithm")
		}
		i += from + len(aesCBCOIDPrefix)
		from = i
		if i+3 > len(der) || (der[i] != 2 && der[i] != 22 && der[i] != 42) || der[i+1] != 0x04 || der[i+2] != 16 {
			continue
		}
		iv = i + 3
		p := iv + 16
		if p < len(der) && der[p] == 0xa0 { // constructed [0]: its first OCTET STRING
			if _, p, err = berLength(der, p+1); err != nil {
				return 0, 0, 0, err
			}
			if p >= len(der) || der[p] != 0x04 {
				return 0, 0, 0, fmt.Errorf("cmstest: encryptedContent holds no OCTET STRING")
			}
		} else if p >= len(der) || der[p] != 0x80 {
			return 0, 0, 0, fmt.Errorf("cmstest: no encryptedContent after the IV")
		}
		n, p, err := berLength(der, p+1)
		if err != nil || n < 32 || p+n > len(der) {
			return 0, 0, 0, fmt.Errorf("cmstest: encryptedContent: bad length %d (%v)", n, err)
		}
		return iv, p, n, nil
	}
}

// berLength reads the length octets at der[p:]: the length (-1 for the
// indefinite form) and the offset after them.
func berLength(der []byte, p int) (int, int, error) {
	if p >= len(der) {
		return 0, 0, fmt.Errorf("cmstest: truncated length")
	}
	b := int(der[p])
	switch {
	case b < 0x80:
		return b, p + 1, nil
	case b == 0x80:
		return -1, p + 1, nil
	}
	k := b & 0x7f
	if k > 4 || p+1+k > len(der) {
		return 0, 0, fmt.Errorf("cmstest: bad length octets")
	}
	n := 0
	for _, c := range der[p+1 : p+1+k] {
		n = n<<8 | int(c)
	}
	return n, p + 1 + k, nil
}

// FlipCBC flips bit 0 of byte at (0 to 15) of the IV (where "iv") or of
// ciphertext block N (where "blockN", 0-based; a negative N counts back
// from the end of the first ciphertext chunk) of an AES-CBC
// EnvelopedData, in place.
func FlipCBC(der []byte, where string, at int) error {
	if at < 0 || at > 15 {
		return fmt.Errorf("cmstest: byte %d is not in a 16-byte block", at)
	}
	iv, ct, ctLen, err := CBCLayout(der)
	if err != nil {
		return err
	}
	if where == "iv" {
		der[iv+at] ^= 0x01
		return nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(where, "block"))
	if err != nil || !strings.HasPrefix(where, "block") {
		return fmt.Errorf("cmstest: want iv or blockN, not %q", where)
	}
	if n < 0 {
		n += ctLen / 16
	}
	if n < 0 || (n+1)*16 > ctLen {
		return fmt.Errorf("cmstest: no block %s: the first ciphertext chunk has %d bytes", where, ctLen)
	}
	der[ct+16*n+at] ^= 0x01
	return nil
}

// RewriteBody decodes the base64 body of a single-part message (the CMS
// blob of an S/MIME message), lets change alter it in place, and returns
// the message with it re-encoded. Line endings become LF throughout.
func RewriteBody(msg []byte, change func(der []byte) error) ([]byte, error) {
	norm := bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	i := bytes.Index(norm, []byte("\n\n"))
	if i < 0 {
		return nil, fmt.Errorf("cmstest: the message has no body")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(norm[i+2:])), ""))
	if err != nil {
		return nil, fmt.Errorf("cmstest: the body is not base64: %w", err)
	}
	if err := change(raw); err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(append([]byte(nil), norm[:i+2]...))
	enc := b64lines.NewWriter(out, 64, "\n")
	enc.Write(raw)
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

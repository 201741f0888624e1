package pgp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mailseal/mailseal/core"
)

// SessionKey is the symmetric key of one encrypted message. Handing it out
// lets a third party (an auditor, a court) read that one message without the
// secret key; gpg calls this --show-session-key / --override-session-key.
type SessionKey struct {
	Cipher packet.CipherFunction
	Key    []byte
}

// String is the "ALGORITHM:HEXKEY" form of the Stateless OpenPGP interface
// and of gpg --show-session-key, e.g. "9:FCA4…".
func (s SessionKey) String() string {
	return fmt.Sprintf("%d:%X", uint8(s.Cipher), s.Key)
}

// ParseSessionKey reads the "ALGORITHM:HEXKEY" form (surrounding white
// space is ignored). The algorithm must be a supported cipher and the key
// must have its length.
func ParseSessionKey(s string) (SessionKey, error) {
	algo, key, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return SessionKey{}, fmt.Errorf("pgp: session key: expected ALGORITHM:HEXKEY: %w", core.ErrUsage)
	}
	n, err := strconv.ParseUint(algo, 10, 8)
	if err != nil {
		return SessionKey{}, fmt.Errorf("pgp: session key: algorithm %q is not a number: %w", algo, core.ErrUsage)
	}
	c := packet.CipherFunction(n)
	if !c.IsSupported() {
		return SessionKey{}, fmt.Errorf("pgp: session key: unsupported cipher algorithm %d: %w", n, core.ErrUsage)
	}
	k, err := hex.DecodeString(key)
	if err != nil {
		return SessionKey{}, fmt.Errorf("pgp: session key: the key is not hexadecimal: %w", core.ErrUsage)
	}
	if len(k) != c.KeySize() {
		return SessionKey{}, fmt.Errorf("pgp: session key: algorithm %d needs a %d-byte key, got %d bytes: %w", n, c.KeySize(), len(k), core.ErrUsage)
	}
	return SessionKey{Cipher: c, Key: k}, nil
}

// openWithSessionKey skips the key packets in front of the encrypted data
// and opens it with sk. Reading the result to the end and closing it checks
// the MDC or the last AEAD tag: the caller must do both before releasing
// anything it read.
func openWithSessionKey(stream io.Reader, sk SessionKey) (io.ReadCloser, error) {
	packets := packet.NewReader(stream)
	for {
		p, err := packets.Next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch p := p.(type) {
		case *packet.EncryptedKey, *packet.SymmetricKeyEncrypted:
			continue
		case *packet.SymmetricallyEncrypted:
			if !p.IntegrityProtected {
				return nil, fmt.Errorf("the message is encrypted without integrity protection: %w", core.ErrIntegrity)
			}
			if p.Version == 2 && p.Cipher != sk.Cipher {
				return nil, fmt.Errorf("the message is encrypted with cipher %d, the session key is for cipher %d: %w", p.Cipher, sk.Cipher, errWrongSessionKey)
			}
			if p.Version == 1 {
				if r, ok, err := newSEIPDV1Reader(p.Contents, sk.Cipher, sk.Key); ok {
					return r, err
				}
			}
			return p.Decrypt(sk.Cipher, sk.Key)
		case *packet.AEADEncrypted:
			return p.Decrypt(sk.Cipher, sk.Key)
		default:
			return nil, core.WithKind(errors.New("the message is not encrypted: there is nothing to decrypt with a session key"), core.ErrInput)
		}
	}
}

var errWrongSessionKey = fmt.Errorf("wrong session key: %w", core.ErrNoKey)

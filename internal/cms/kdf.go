package cms

import (
	"crypto"
	"crypto/hkdf"
	"encoding/asn1"
	"encoding/binary"
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// eccSharedInfo is the DER encoding of ECC-CMS-SharedInfo (RFC 5753
// section 7.2), the KDF's context: the key-wrap algorithm (parameters
// absent), the ukm if any, and the KEK length in bits.
func eccSharedInfo(wrapOID asn1.ObjectIdentifier, ukm []byte, kekLen int) ([]byte, error) {
	b := sizedBuilder(len(ukm) + 48)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(wrapOID)
		})
		if ukm != nil {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(ukm)
			})
		}
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			var bitsLen [4]byte
			binary.BigEndian.PutUint32(bitsLen[:], uint32(kekLen)*8)
			b.AddASN1OctetString(bitsLen[:])
		})
	})
	return b.Bytes()
}

// x963KDF is the ANSI X9.63 key derivation function as RFC 5753 uses it:
// Hash(Z || counter || SharedInfo) for counter = 1, 2, ... (32-bit big-endian).
func x963KDF(h crypto.Hash, z, sharedInfo []byte, size int) []byte {
	out := make([]byte, 0, size+h.Size())
	var counter [4]byte
	for i := uint32(1); len(out) < size; i++ {
		binary.BigEndian.PutUint32(counter[:], i)
		d := h.New()
		d.Write(z)
		d.Write(counter[:])
		d.Write(sharedInfo)
		out = d.Sum(out)
	}
	return out[:size]
}

// kdfKind is how a KeyAgreeRecipientInfo turns the shared secret into the KEK.
type kdfKind int

const (
	kdfX963 kdfKind = iota + 1 // RFC 5753
	kdfHKDF                    // RFC 8418
)

type keyAgreementScheme struct {
	kdf  kdfKind
	hash crypto.Hash
}

func keyAgreementSchemeFor(oid asn1.ObjectIdentifier) (keyAgreementScheme, bool) {
	switch {
	case oid.Equal(oidStdDHSHA1KDF), oid.Equal(oidCofactorDHSHA1KDF):
		return keyAgreementScheme{kdfX963, crypto.SHA1}, true
	case oid.Equal(oidStdDHSHA224KDF), oid.Equal(oidCofactorDHSHA224KDF):
		return keyAgreementScheme{kdfX963, crypto.SHA224}, true
	case oid.Equal(oidStdDHSHA256KDF), oid.Equal(oidCofactorDHSHA256KDF):
		return keyAgreementScheme{kdfX963, crypto.SHA256}, true
	case oid.Equal(oidStdDHSHA384KDF), oid.Equal(oidCofactorDHSHA384KDF):
		return keyAgreementScheme{kdfX963, crypto.SHA384}, true
	case oid.Equal(oidStdDHSHA512KDF), oid.Equal(oidCofactorDHSHA512KDF):
		return keyAgreementScheme{kdfX963, crypto.SHA512}, true
	case oid.Equal(oidStdDHHKDFSHA256):
		return keyAgreementScheme{kdfHKDF, crypto.SHA256}, true
	case oid.Equal(oidStdDHHKDFSHA384):
		return keyAgreementScheme{kdfHKDF, crypto.SHA384}, true
	case oid.Equal(oidStdDHHKDFSHA512):
		return keyAgreementScheme{kdfHKDF, crypto.SHA512}, true
	}
	return keyAgreementScheme{}, false
}

// deriveKEK derives the key-encryption key from the ECDH shared secret z.
// For HKDF (RFC 8418 section 2.2) the ukm, when present, is also the salt.
func (s keyAgreementScheme) deriveKEK(z, ukm []byte, wrapOID asn1.ObjectIdentifier, kekLen int) ([]byte, error) {
	info, err := eccSharedInfo(wrapOID, ukm, kekLen)
	if err != nil {
		return nil, err
	}
	switch s.kdf {
	case kdfX963:
		return x963KDF(s.hash, z, info, kekLen), nil
	case kdfHKDF:
		return hkdf.Key(s.hash.New, z, ukm, string(info), kekLen)
	}
	return nil, errors.New("unknown KDF")
}

// keyWrapSize returns the KEK length of an AES key-wrap algorithm.
func keyWrapSize(oid asn1.ObjectIdentifier) (int, bool) {
	switch {
	case oid.Equal(oidAES128Wrap):
		return 16, true
	case oid.Equal(oidAES192Wrap):
		return 24, true
	case oid.Equal(oidAES256Wrap):
		return 32, true
	}
	return 0, false
}

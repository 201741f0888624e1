package smime

import "bytes"

// Kind is what an application/pkcs7-mime body holds (its smime-type).
type Kind int

const (
	KindUnknown Kind = iota
	KindSignedData
	KindEnvelopedData
	KindAuthEnvelopedData
	KindCertsOnly
)

// DER encodings of the CMS content type OIDs (RFC 5652, RFC 5083).
var (
	oidSignedData        = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	oidEnvelopedData     = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}
	oidAuthEnvelopedData = []byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17}
)

// PeekKind classifies a CMS ContentInfo from its first bytes, for
// application/pkcs7-mime entities whose smime-type parameter is missing
// (as some clients send them). A signed-data without content cannot be
// told from certs-only this way; it is reported as signed-data and the
// verifier then finds no signers.
func PeekKind(prefix []byte) Kind {
	// ContentInfo ::= SEQUENCE { contentType OID, ... }
	if len(prefix) < 2 || prefix[0] != 0x30 {
		return KindUnknown
	}
	rest := prefix[1:]
	switch l := rest[0]; {
	case l == 0x80: // indefinite length
		rest = rest[1:]
	case l < 0x80:
		rest = rest[1:]
	default:
		n := int(l & 0x7f)
		if n > 4 || len(rest) < 1+n {
			return KindUnknown
		}
		rest = rest[1+n:]
	}
	switch {
	case bytes.HasPrefix(rest, oidSignedData):
		return KindSignedData
	case bytes.HasPrefix(rest, oidEnvelopedData):
		return KindEnvelopedData
	case bytes.HasPrefix(rest, oidAuthEnvelopedData):
		return KindAuthEnvelopedData
	}
	return KindUnknown
}

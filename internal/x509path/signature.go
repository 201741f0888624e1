package x509path

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA is needed for RFC 5280 conformance (PKITS)
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/internal/sigalg"
)

var oidDSA = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}

// signatureAlgorithms maps the algorithms accepted, as crypto/x509 reads
// them from a certificate or CRL, to sigalg's. MD2 and MD5 are never
// accepted; crypto/x509 reads RSA-PSS only with MGF1 and a salt as long as
// the hash.
var signatureAlgorithms = map[x509.SignatureAlgorithm]sigalg.Algorithm{
	x509.SHA1WithRSA:      {Scheme: sigalg.PKCS1v15, Hash: crypto.SHA1},
	x509.SHA256WithRSA:    {Scheme: sigalg.PKCS1v15, Hash: crypto.SHA256},
	x509.SHA384WithRSA:    {Scheme: sigalg.PKCS1v15, Hash: crypto.SHA384},
	x509.SHA512WithRSA:    {Scheme: sigalg.PKCS1v15, Hash: crypto.SHA512},
	x509.SHA256WithRSAPSS: {Scheme: sigalg.PSS, Hash: crypto.SHA256, SaltLength: 32},
	x509.SHA384WithRSAPSS: {Scheme: sigalg.PSS, Hash: crypto.SHA384, SaltLength: 48},
	x509.SHA512WithRSAPSS: {Scheme: sigalg.PSS, Hash: crypto.SHA512, SaltLength: 64},
	x509.ECDSAWithSHA1:    {Scheme: sigalg.ECDSA, Hash: crypto.SHA1},
	x509.ECDSAWithSHA256:  {Scheme: sigalg.ECDSA, Hash: crypto.SHA256},
	x509.ECDSAWithSHA384:  {Scheme: sigalg.ECDSA, Hash: crypto.SHA384},
	x509.ECDSAWithSHA512:  {Scheme: sigalg.ECDSA, Hash: crypto.SHA512},
	x509.PureEd25519:      {Scheme: sigalg.Ed25519},
	x509.DSAWithSHA1:      {Scheme: sigalg.DSA, Hash: crypto.SHA1},
	x509.DSAWithSHA256:    {Scheme: sigalg.DSA, Hash: crypto.SHA256},
}

// checkSignature verifies sig over signed with key under algo. Its errors
// match sigalg.ErrRefused or sigalg.ErrInvalid.
func checkSignature(algo x509.SignatureAlgorithm, signed, sig []byte, key crypto.PublicKey, p sigalg.Policy) error {
	alg, ok := signatureAlgorithms[algo]
	if !ok {
		return sigalg.Refusedf("signature algorithm %v not accepted", algo)
	}
	return alg.Verify(key, signed, sig, p)
}

// effectiveKey returns c's public key. A DSA key whose parameters are
// absent inherits them from the issuer's key (RFC 5280 §6.1.4 (k)); inherit
// is nil for certificates directly under the anchor when the anchor's key
// has no parameters either.
func effectiveKey(c *x509.Certificate, inherit crypto.PublicKey) (crypto.PublicKey, error) {
	if c.PublicKey != nil {
		return c.PublicKey, nil
	}
	s := cryptobyte.String(c.RawSubjectPublicKeyInfo)
	var spki, algo cryptobyte.String
	var oid asn1.ObjectIdentifier
	var bits asn1.BitString
	if !s.ReadASN1(&spki, cbasn1.SEQUENCE) || !spki.ReadASN1(&algo, cbasn1.SEQUENCE) ||
		!algo.ReadASN1ObjectIdentifier(&oid) || !spki.ReadASN1BitString(&bits) {
		return nil, errors.New("malformed subject public key info")
	}
	if !oid.Equal(oidDSA) {
		return nil, fmt.Errorf("unsupported public key algorithm %s", oid)
	}
	if !algo.Empty() {
		return nil, errors.New("DSA key with unparsable parameters")
	}
	parent, ok := inherit.(*dsa.PublicKey)
	if !ok {
		return nil, errors.New("DSA key without parameters and no DSA issuer key to inherit them from")
	}
	y := new(big.Int)
	yder := cryptobyte.String(bits.RightAlign())
	if !yder.ReadASN1Integer(y) || !yder.Empty() || y.Sign() <= 0 {
		return nil, errors.New("malformed DSA public key")
	}
	return &dsa.PublicKey{Parameters: parent.Parameters, Y: y}, nil
}

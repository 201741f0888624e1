package x509path

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA is needed for RFC 5280 conformance (PKITS)
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var oidDSA = asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}

type signatureScheme int

const (
	schemePKCS1 signatureScheme = iota
	schemePSS
	schemeECDSA
	schemeEd25519
	schemeDSA
)

// signatureAlgorithms maps the algorithms accepted to hash and scheme.
// MD2 and MD5 are never accepted.
var signatureAlgorithms = map[x509.SignatureAlgorithm]struct {
	hash   crypto.Hash
	scheme signatureScheme
}{
	x509.SHA1WithRSA:      {crypto.SHA1, schemePKCS1},
	x509.SHA256WithRSA:    {crypto.SHA256, schemePKCS1},
	x509.SHA384WithRSA:    {crypto.SHA384, schemePKCS1},
	x509.SHA512WithRSA:    {crypto.SHA512, schemePKCS1},
	x509.SHA256WithRSAPSS: {crypto.SHA256, schemePSS},
	x509.SHA384WithRSAPSS: {crypto.SHA384, schemePSS},
	x509.SHA512WithRSAPSS: {crypto.SHA512, schemePSS},
	x509.ECDSAWithSHA1:    {crypto.SHA1, schemeECDSA},
	x509.ECDSAWithSHA256:  {crypto.SHA256, schemeECDSA},
	x509.ECDSAWithSHA384:  {crypto.SHA384, schemeECDSA},
	x509.ECDSAWithSHA512:  {crypto.SHA512, schemeECDSA},
	x509.PureEd25519:      {0, schemeEd25519},
	x509.DSAWithSHA1:      {crypto.SHA1, schemeDSA},
	x509.DSAWithSHA256:    {crypto.SHA256, schemeDSA},
}

// checkSignature verifies sig over signed with key under algo.
func checkSignature(algo x509.SignatureAlgorithm, signed, sig []byte, key crypto.PublicKey, allowSHA1 bool) error {
	alg, ok := signatureAlgorithms[algo]
	if !ok {
		return fmt.Errorf("signature algorithm %v not accepted", algo)
	}
	if alg.hash == crypto.SHA1 && !allowSHA1 {
		return fmt.Errorf("SHA-1 signature (%v) refused by policy", algo)
	}
	var digest []byte
	if alg.hash != 0 {
		h := alg.hash.New()
		h.Write(signed)
		digest = h.Sum(nil)
	}
	bad := fmt.Errorf("bad %v signature", algo)
	switch alg.scheme {
	case schemePKCS1, schemePSS:
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%v signature but the issuer key is %T", algo, key)
		}
		var err error
		if alg.scheme == schemePSS {
			err = rsa.VerifyPSS(pub, alg.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(pub, alg.hash, digest, sig)
		}
		if err != nil {
			return bad
		}
	case schemeECDSA:
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%v signature but the issuer key is %T", algo, key)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return bad
		}
	case schemeEd25519:
		pub, ok := key.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("%v signature but the issuer key is %T", algo, key)
		}
		if !ed25519.Verify(pub, signed, sig) {
			return bad
		}
	case schemeDSA:
		pub, ok := key.(*dsa.PublicKey)
		if !ok {
			return fmt.Errorf("%v signature but the issuer key is %T", algo, key)
		}
		s := cryptobyte.String(sig)
		var inner cryptobyte.String
		r, ss := new(big.Int), new(big.Int)
		if !s.ReadASN1(&inner, cbasn1.SEQUENCE) || !s.Empty() || !inner.ReadASN1Integer(r) ||
			!inner.ReadASN1Integer(ss) || !inner.Empty() {
			return bad
		}
		// FIPS 186: the digest is truncated to the bit length of Q.
		if n := (pub.Q.BitLen() + 7) / 8; len(digest) > n {
			digest = digest[:n]
		}
		if r.Sign() <= 0 || ss.Sign() <= 0 || !dsa.Verify(pub, digest, r, ss) {
			return bad
		}
	}
	return nil
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

// checkKeyStrength applies the RSA size policy.
func checkKeyStrength(key crypto.PublicKey, minRSABits int) error {
	if k, ok := key.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return fmt.Errorf("RSA key of %d bits, policy requires %d", k.N.BitLen(), minRSABits)
	}
	return nil
}

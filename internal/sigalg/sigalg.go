// Package sigalg verifies the signatures of X.509 certificates, CRLs and
// CMS SignerInfos. It is the one place that turns a signature algorithm
// (scheme, hash, RSA-PSS salt length), a public key and a Policy into a
// call of crypto/rsa, crypto/ecdsa, crypto/ed25519 or crypto/dsa; callers
// map their own identifiers (crypto/x509's SignatureAlgorithm, CMS object
// identifiers) to an Algorithm.
//
// Every error says which of two things happened: the signature was not
// checked because its algorithm, hash, parameters or key are refused by
// policy or not supported (ErrRefused), or it was checked and is wrong: it
// does not verify, is malformed, or does not fit the key (ErrInvalid). A
// refusal is no sign of a forgery; an invalid signature may be one.
package sigalg

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA is needed for RFC 5280 conformance (PKITS)
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha1" // the hashes CheckHash accepts
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Errors every error of this package matches with errors.Is, one or the
// other.
var (
	// ErrRefused: the signature was not checked; its algorithm, hash,
	// parameters or key are refused by policy or not supported.
	ErrRefused = errors.New("signature refused")
	// ErrInvalid: the signature was checked and is wrong.
	ErrInvalid = errors.New("invalid signature")
)

// sigError is an error of this package, a refusal or an invalid signature.
type sigError struct {
	refused bool
	reason  string
}

func (e *sigError) Error() string { return e.reason }

// Is makes errors.Is match ErrRefused or ErrInvalid.
func (e *sigError) Is(target error) bool {
	return e.refused && target == ErrRefused || !e.refused && target == ErrInvalid
}

// Refusedf returns an error matching ErrRefused, for callers that refuse
// an identifier they cannot map to an Algorithm.
func Refusedf(format string, args ...any) error {
	return &sigError{refused: true, reason: fmt.Sprintf(format, args...)}
}

// Invalidf returns an error matching ErrInvalid, for callers that find a
// signature's identifiers inconsistent or malformed.
func Invalidf(format string, args ...any) error {
	return &sigError{reason: fmt.Sprintf(format, args...)}
}

// Scheme is a signature scheme.
type Scheme int

// The schemes verified.
const (
	PKCS1v15 Scheme = iota + 1 // RSASSA-PKCS1-v1_5
	PSS                        // RSASSA-PSS, MGF1 with the message hash
	ECDSA                      // ECDSA, signature as a DER Ecdsa-Sig-Value
	Ed25519                    // pure Ed25519 over the whole message
	DSA                        // DSA, signature as a DER Dss-Sig-Value
)

var schemeNames = map[Scheme]string{PKCS1v15: "RSA", PSS: "RSA-PSS", ECDSA: "ECDSA", Ed25519: "Ed25519", DSA: "DSA"}

// String returns "RSA", "RSA-PSS", "ECDSA", "Ed25519" or "DSA".
func (s Scheme) String() string {
	if n, ok := schemeNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// Algorithm is a signature algorithm.
type Algorithm struct {
	Scheme Scheme
	// Hash is the message hash; Ed25519 does not use it.
	Hash crypto.Hash
	// SaltLength is the RSA-PSS salt length in bytes; 0 is refused
	// (crypto/rsa would read it as "any length").
	SaltLength int
}

// String names a in crypto/x509's manner: "SHA256-RSA", "SHA256-RSAPSS",
// "ECDSA-SHA256", "Ed25519", "DSA-SHA1".
func (a Algorithm) String() string {
	h := strings.ReplaceAll(a.Hash.String(), "-", "")
	switch a.Scheme {
	case PKCS1v15:
		return h + "-RSA"
	case PSS:
		return h + "-RSAPSS"
	case Ed25519:
		return "Ed25519"
	}
	return a.Scheme.String() + "-" + h
}

// Policy is what a signature must meet besides its algorithm's rules.
type Policy struct {
	// AllowSHA1 accepts SHA-1; MD5 is always refused.
	AllowSHA1 bool
	// MinRSABits is the smallest RSA modulus accepted; 0 means no
	// minimum, for callers that check keys where they enter (path
	// validation).
	MinRSABits int
}

// CheckHash refuses a message hash the policy or this package does not
// accept: MD5, SHA-1 unless allowed, anything but SHA-1 and SHA-2.
func (p Policy) CheckHash(h crypto.Hash) error {
	switch h {
	case crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return nil
	case crypto.SHA1:
		if p.AllowSHA1 {
			return nil
		}
		return Refusedf("SHA-1 is refused by policy (collisions are practical)")
	case crypto.MD5:
		return Refusedf("MD5 is refused (it is broken)")
	}
	return Refusedf("the hash %v is not supported", h)
}

// CheckKey refuses an RSA key smaller than MinRSABits.
func (p Policy) CheckKey(pub crypto.PublicKey) error {
	if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() < p.MinRSABits {
		return Refusedf("RSA key of %d bits, policy requires %d", k.N.BitLen(), p.MinRSABits)
	}
	return nil
}

// Verify checks sig over message with pub: Ed25519 over the message
// itself, the other schemes over its hash under a.Hash.
func (a Algorithm) Verify(pub crypto.PublicKey, message, sig []byte, p Policy) error {
	if err := a.check(pub, p); err != nil {
		return err
	}
	if a.Scheme == Ed25519 {
		key := pub.(ed25519.PublicKey) // a.check saw to it
		if !ed25519.Verify(key, message, sig) {
			return a.bad()
		}
		return nil
	}
	h := a.Hash.New()
	h.Write(message)
	return a.verifyDigest(pub, h.Sum(nil), sig)
}

// VerifyDigest checks sig with pub over digest, the hash of the message
// under a.Hash computed by the caller (a CMS content digest). Ed25519
// signs the whole message and has no such form: it is refused.
func (a Algorithm) VerifyDigest(pub crypto.PublicKey, digest, sig []byte, p Policy) error {
	if a.Scheme == Ed25519 {
		return Refusedf("Ed25519 signs the message itself, not a digest of it")
	}
	if err := a.check(pub, p); err != nil {
		return err
	}
	if len(digest) != a.Hash.Size() {
		return Invalidf("a %s digest of %d bytes", a.Hash, len(digest))
	}
	return a.verifyDigest(pub, digest, sig)
}

// check applies the policy and the algorithm's rules on its parameters,
// and checks that pub is a usable key of the scheme.
func (a Algorithm) check(pub crypto.PublicKey, p Policy) error {
	if _, ok := schemeNames[a.Scheme]; !ok {
		return Refusedf("signature scheme %v is not supported", a.Scheme)
	}
	if a.Scheme != Ed25519 {
		if err := p.CheckHash(a.Hash); err != nil {
			return err
		}
		if !a.Hash.Available() {
			return Refusedf("the hash %v is not available", a.Hash)
		}
	}
	if a.Scheme == PSS && a.SaltLength <= 0 {
		// crypto/rsa takes a salt length of 0 to mean "any length"
		return Refusedf("RSA-PSS signatures with an empty salt (saltLength 0) cannot be checked and are not supported")
	}
	var ok bool
	switch a.Scheme {
	case PKCS1v15, PSS:
		_, ok = pub.(*rsa.PublicKey)
	case ECDSA:
		_, ok = pub.(*ecdsa.PublicKey)
	case Ed25519:
		var k ed25519.PublicKey
		k, ok = pub.(ed25519.PublicKey)
		ok = ok && len(k) == ed25519.PublicKeySize
	case DSA:
		var k *dsa.PublicKey
		k, ok = pub.(*dsa.PublicKey)
		ok = ok && k.Q != nil && k.Q.Sign() > 0
	}
	if !ok {
		return Invalidf("%v signature but the key is %T", a, pub)
	}
	return p.CheckKey(pub)
}

// bad is the error of a signature that does not verify.
func (a Algorithm) bad() error {
	return Invalidf("bad %v signature (the signed data or the signature was altered, or another key made it)", a)
}

// verifyDigest verifies after check.
func (a Algorithm) verifyDigest(pub crypto.PublicKey, digest, sig []byte) error {
	ok := false
	switch a.Scheme {
	case PKCS1v15:
		ok = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), a.Hash, digest, sig) == nil
	case PSS:
		ok = rsa.VerifyPSS(pub.(*rsa.PublicKey), a.Hash, digest, sig, &rsa.PSSOptions{SaltLength: a.SaltLength, Hash: a.Hash}) == nil
	case ECDSA:
		ok = ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest, sig)
	case DSA:
		ok = verifyDSA(pub.(*dsa.PublicKey), digest, sig)
	}
	if !ok {
		return a.bad()
	}
	return nil
}

// verifyDSA checks a DER Dss-Sig-Value; the digest is truncated to the
// bit length of Q (FIPS 186).
func verifyDSA(pub *dsa.PublicKey, digest, sig []byte) bool {
	s := cryptobyte.String(sig)
	var inner cryptobyte.String
	r, ss := new(big.Int), new(big.Int)
	if !s.ReadASN1(&inner, cbasn1.SEQUENCE) || !s.Empty() || !inner.ReadASN1Integer(r) ||
		!inner.ReadASN1Integer(ss) || !inner.Empty() {
		return false
	}
	if n := (pub.Q.BitLen() + 7) / 8; len(digest) > n {
		digest = digest[:n]
	}
	return r.Sign() > 0 && ss.Sign() > 0 && dsa.Verify(pub, digest, r, ss)
}

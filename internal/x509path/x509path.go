// Package x509path decides whether an X.509 certificate may be trusted for
// S/MIME: it builds a certification path from the certificate to one of the
// caller's trust anchors, validates it as RFC 5280 section 6 describes
// (signatures, validity, basic constraints, key usage, name constraints and
// the certificate policy tree), checks every certificate of the path against
// the caller's CRLs (section 6.3, with delta and indirect CRLs), and applies
// the S/MIME end-entity rules of RFC 8550 and RFC 8551 (key usage, extended
// key usage, email address).
//
// A trust anchor that is a certificate is held to its own constraints, as
// OpenSSL and NSS hold it and RFC 5937 describes (RFC 5280 §6.1 takes only
// the anchor's name and key; §6.2 allows more): it must be valid at the
// validation time, have no unknown critical extension, allow keyCertSign
// if it has keyUsage and not deny being a CA in basicConstraints (without
// basicConstraints it is taken as the name and key of §6.1); its
// pathLenConstraint limits the CA certificates below it (self-issued ones
// not counted) and its name constraints bind every certificate below it.
// Its policy extensions are not used, as OpenSSL does not use them: the
// policy tree starts at the certificate the anchor issued. A certificate
// that is itself an anchor must be valid at the validation time and have no
// unknown critical extension.
//
// For S/MIME, extended key usage nests: every certificate of the path that
// has the extension, the leaf, the CA certificates and the anchor alike,
// must list emailProtection or anyExtendedKeyUsage; a certificate without it
// is unrestricted. OpenSSL's S/MIME purposes apply the same rule, except
// that they refuse anyExtendedKeyUsage without emailProtection at every
// depth. Options.SkipSMIMEChecks turns this off with the other S/MIME rules.
//
// crypto/x509 is used for parsing only; the path algorithm, the signature
// checks (including DSA with inherited parameters) and the revocation logic
// are this package's own.
package x509path

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/dn"
	"github.com/mailseal/mailseal/internal/sigalg"
)

// Purpose is what the end-entity certificate is to be used for.
type Purpose int

const (
	// Signing: the key signs messages (keyUsage digitalSignature or
	// nonRepudiation, when keyUsage is present).
	Signing Purpose = iota + 1
	// Encryption: the key receives content-encryption keys (keyUsage
	// keyEncipherment for RSA, keyAgreement for EC and X25519 keys).
	Encryption
)

func (p Purpose) String() string {
	switch p {
	case Signing:
		return "signing"
	case Encryption:
		return "encryption"
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

// DefaultMinRSABits is the RSA modulus size required when Options.MinRSABits is zero.
const DefaultMinRSABits = 2048

// Options are the inputs of path validation.
type Options struct {
	// Roots are the trust anchors. Never put certificates taken from a
	// message here.
	Roots []*x509.Certificate
	// Intermediates are candidate CA certificates (and CRL signers) for
	// building the path, e.g. those carried in the message.
	Intermediates []*x509.Certificate
	// CRLs are all revocation lists available (keystore and message). Every
	// certificate of the path except the anchor needs CRLs that cover it,
	// unless CRLsOptional is set.
	CRLs []*x509.RevocationList
	// CRLsOptional accepts a certificate whose revocation status is unknown
	// (no valid CRL covers it) and reports that in Result.Warnings, as mail
	// clients do when they have no CRL. A certificate a valid CRL lists as
	// revoked fails either way. PKITS conformance runs with it off.
	CRLsOptional bool
	// Time is the validation time; zero means now.
	Time time.Time
	// AllowSHA1 accepts SHA-1 signatures on certificates and CRLs.
	AllowSHA1 bool
	// AcceptSHA1Before accepts SHA-1 signatures on certificates issued
	// (notBefore) and CRLs made (thisUpdate) before it (core.Policy's
	// rule of the same name).
	AcceptSHA1Before time.Time
	// MinRSABits is the smallest RSA modulus accepted for any key in the
	// path or signing a CRL; zero means DefaultMinRSABits.
	MinRSABits int
	// Email, if set, must match an rfc822Name in the leaf's subjectAltName
	// or, only when there is none, an emailAddress attribute of its subject.
	Email string
	// Purpose selects the key usage the leaf must allow. Required unless
	// SkipSMIMEChecks is set.
	Purpose Purpose
	// SkipSMIMEChecks turns off the S/MIME end-entity checks (key usage for
	// Purpose, extended key usage, Email). It exists for plain RFC 5280
	// conformance tests such as NIST PKITS; S/MIME callers leave it false.
	SkipSMIMEChecks bool
}

// signaturePolicy is what signatures on certificates and CRLs made at
// made, and the keys that make them, must meet.
func (o *Options) signaturePolicy(made time.Time) sigalg.Policy {
	sha1 := core.Policy{AllowSHA1: o.AllowSHA1, AcceptSHA1Before: o.AcceptSHA1Before}.SHA1Accepted(made)
	return sigalg.Policy{AllowSHA1: sha1, MinRSABits: o.MinRSABits}
}

// Limits of the path search.
const (
	maxPathDepth      = 12   // certificates in one path, anchor included
	maxPathsTried     = 64   // complete paths validated before giving up
	maxSearchSteps    = 1024 // partial paths extended before giving up
	maxCRLSignerDepth = 4    // nested validations of CRL signers' own paths
	maxWork           = 1024 // certificates processed plus CRL signatures checked, per Verify
)

// Verify builds and validates a path from leaf to a root per RFC 5280 §6
// (signatures incl. DSA with parameter inheritance, validity at Time, basic
// constraints, path length, key usage, name constraints, policies with
// initial-policy-set any-policy and no explicit policy required, CRL checking
// incl. delta CRLs, indirect CRLs, distribution points and reasons), the
// constraints of a trust anchor that is a certificate (see the package
// documentation) and the S/MIME checks (EKU emailProtection or
// anyExtendedKeyUsage if present, on every certificate of the path; the
// leaf's key usage and email). Returns the chain leaf first, the anchor last, or an
// error wrapping core.ErrVerification that says which certificate failed
// and why.
func Verify(leaf *x509.Certificate, opts Options) ([]*x509.Certificate, error) {
	res, err := VerifyResult(leaf, opts)
	if err != nil {
		return nil, err
	}
	return res.Chain, nil
}

// Result is a validated path.
type Result struct {
	Chain []*x509.Certificate // leaf first, anchor last
	// Warnings name what was accepted without proof (revocation status
	// unknown under CRLsOptional).
	Warnings []string
	// LeafKey is the leaf's public key with DSA parameters inherited along
	// the path (the leaf's PublicKey is nil when it inherits them).
	LeafKey crypto.PublicKey
}

// VerifyResult is Verify, returning the warnings as well.
func VerifyResult(leaf *x509.Certificate, opts Options) (*Result, error) {
	if leaf == nil {
		return nil, fmt.Errorf("x509path: no certificate: %w", core.ErrVerification)
	}
	if !opts.SkipSMIMEChecks && opts.Purpose != Signing && opts.Purpose != Encryption {
		return nil, fmt.Errorf("x509path: Options.Purpose must be Signing or Encryption: %w", core.ErrUsage)
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	if opts.MinRSABits == 0 {
		opts.MinRSABits = DefaultMinRSABits
	}
	v := newValidator(opts)
	res, err := v.verifyPath(leaf)
	if err != nil {
		return nil, err
	}
	if !opts.SkipSMIMEChecks {
		if err := checkSMIMELeaf(leaf, opts); err != nil {
			return nil, err
		}
	}
	return &Result{Chain: res.chain, Warnings: res.warnings, LeafKey: res.leafKey}, nil
}

// certError reports why certificate c failed, wrapping core.ErrVerification
// and what format wraps with %w.
func certError(c *x509.Certificate, format string, args ...any) error {
	return newCertError(c, format, args...)
}

func newCertError(c *x509.Certificate, format string, args ...any) *CertificateError {
	cause := fmt.Errorf(format, args...)
	return &CertificateError{Subject: subjectString(c), Reason: cause.Error(), cause: cause}
}

// CertificateError says which certificate failed validation and why.
// It matches core.ErrVerification with errors.Is.
type CertificateError struct {
	Subject string // the failing certificate's subject DN
	Reason  string
	// RevocationUnknown: the only problem is that no valid CRL covers it.
	RevocationUnknown bool
	// NoPath: no path to a trust anchor was found at all (the certificate
	// is self-signed, or its issuers end at a certificate that is not an
	// anchor); nothing that was found failed. errors.Is(err, ErrNoPath).
	NoPath bool
	cause  error
}

// ErrNoPath matches a CertificateError whose only problem is that no path
// to a trust anchor was found: not one that a path was found for and that
// failed it (revoked, a weak key, a broken signature, a constraint).
var ErrNoPath = errors.New("no path to a trust anchor")

func (e *CertificateError) Error() string {
	return fmt.Sprintf("x509path: certificate %q: %s", e.Subject, e.Reason)
}

// Is makes errors.Is(err, core.ErrVerification) true, and
// errors.Is(err, ErrNoPath) when NoPath is set.
func (e *CertificateError) Is(target error) bool {
	return target == core.ErrVerification || (e.NoPath && target == ErrNoPath)
}

// Unwrap returns the cause: a signature or key that sigalg refused
// (sigalg.ErrRefused) or a signature that does not verify
// (sigalg.ErrInvalid), among others.
func (e *CertificateError) Unwrap() error { return e.cause }

func subjectString(c *x509.Certificate) string {
	if c == nil {
		return "<nil>"
	}
	s := dn.String(c.Subject)
	if s == "" {
		s = fmt.Sprintf("<empty subject, serial %s>", c.SerialNumber)
	}
	return s
}

// noPath is certError for a certificate that no path was found for.
func noPath(c *x509.Certificate, format string, args ...any) error {
	err := newCertError(c, format, args...)
	err.NoPath = true
	return err
}

package x509path

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
)

// checkSMIMELeaf applies the RFC 8550/8551 end-entity rules: key usage for
// the purpose, extended key usage, and the email address.
func checkSMIMELeaf(leaf *x509.Certificate, opts Options) error {
	info, err := newCertInfo(leaf)
	if err != nil {
		return certError(leaf, "unparsable: %v", err)
	}
	if info.hasKeyUsage {
		switch opts.Purpose {
		case Signing:
			if leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
				return certError(leaf, "key usage allows neither digitalSignature nor nonRepudiation, needed for signing")
			}
		case Encryption:
			switch leaf.PublicKey.(type) {
			case *rsa.PublicKey:
				if leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
					return certError(leaf, "key usage does not allow keyEncipherment, needed for RSA encryption")
				}
			case *ecdsa.PublicKey, *ecdh.PublicKey:
				if leaf.KeyUsage&x509.KeyUsageKeyAgreement == 0 {
					return certError(leaf, "key usage does not allow keyAgreement, needed for EC encryption")
				}
			default:
				return certError(leaf, "%T keys cannot receive encrypted messages", leaf.PublicKey)
			}
		}
	} else if opts.Purpose == Encryption {
		switch leaf.PublicKey.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, *ecdh.PublicKey:
		default:
			return certError(leaf, "%T keys cannot receive encrypted messages", leaf.PublicKey)
		}
	}
	if err := checkEmailEKU(info); err != nil {
		return certError(leaf, "%v", err)
	}
	if opts.Email != "" {
		candidates := emails(leaf, info)
		matched := false
		for _, c := range candidates {
			if emailEqual(c, opts.Email) {
				matched = true
			}
		}
		if !matched {
			return certError(leaf, "not issued for %s (certificate addresses: %s)", opts.Email, strings.Join(candidates, ", "))
		}
	}
	return nil
}

// Key purposes (RFC 5280 §4.2.1.12): the two the S/MIME rule accepts, and
// names of others for error messages.
var (
	oidAnyExtendedKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37, 0}
	oidEmailProtection     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}
	keyPurposeNames        = map[string]string{
		"1.3.6.1.5.5.7.3.1": "serverAuth",
		"1.3.6.1.5.5.7.3.2": "clientAuth",
		"1.3.6.1.5.5.7.3.3": "codeSigning",
		"1.3.6.1.5.5.7.3.8": "timeStamping",
		"1.3.6.1.5.5.7.3.9": "OCSPSigning",
	}
)

// maxPurposesNamed bounds the key purposes an error message lists.
const maxPurposesNamed = 4

// checkEmailEKU is the S/MIME extended key usage rule, the same for the
// leaf, the CA certificates of the path and a certificate trust anchor: a
// certificate without the extension is unrestricted; one with it must list
// emailProtection or anyExtendedKeyUsage.
func checkEmailEKU(ci *certInfo) error {
	if !ci.hasEKU {
		return nil
	}
	var names []string
	for _, oid := range ci.ekus {
		if oid.Equal(oidEmailProtection) || oid.Equal(oidAnyExtendedKeyUsage) {
			return nil
		}
		if len(names) < maxPurposesNamed {
			name, ok := keyPurposeNames[oid.String()]
			if !ok {
				name = oid.String()
			}
			names = append(names, name)
		}
	}
	if len(ci.ekus) > len(names) {
		names = append(names, fmt.Sprintf("and %d more", len(ci.ekus)-len(names)))
	}
	if len(names) == 0 {
		names = []string{"empty"}
	}
	return fmt.Errorf("extended key usage (%s) has neither emailProtection nor anyExtendedKeyUsage", strings.Join(names, ", "))
}

// EndEntity says c is an end entity's certificate, not a CA's: neither
// cA in its basic constraints nor keyCertSign in its key usage. A
// certificate that stands in as its own trust anchor (DANE-EE) must be
// one, so that it can never be the issuer of another.
func EndEntity(c *x509.Certificate) bool {
	return !(c.BasicConstraintsValid && c.IsCA) && c.KeyUsage&x509.KeyUsageCertSign == 0
}

// Emails returns the addresses a certificate is bound to per RFC 8550
// §3: its rfc822Name subjectAltNames or, only when it has none, the
// emailAddress attributes of its subject. Nil if it cannot be parsed.
func Emails(c *x509.Certificate) []string {
	info, err := newCertInfo(c)
	if err != nil {
		return nil
	}
	return emails(c, info)
}

func emails(c *x509.Certificate, info *certInfo) []string {
	var out []string
	for _, g := range info.sans {
		if g.kind == gnRFC822 {
			out = append(out, g.text)
		}
	}
	if len(out) == 0 {
		out = nameAttributes(c.RawSubject, oidEmailAddress)
	}
	return out
}

// emailEqual compares addresses: local part exactly, domain case-insensitively.
func emailEqual(a, b string) bool {
	ia, ib := strings.LastIndexByte(a, '@'), strings.LastIndexByte(b, '@')
	if ia < 0 || ib < 0 {
		return false
	}
	return a[:ia] == b[:ib] && strings.EqualFold(a[ia+1:], b[ib+1:])
}

package x509path

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
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
	if hasExtension(leaf, oidExtKeyUsage) {
		ok := false
		for _, u := range leaf.ExtKeyUsage {
			if u == x509.ExtKeyUsageEmailProtection || u == x509.ExtKeyUsageAny {
				ok = true
			}
		}
		if !ok {
			return certError(leaf, "extended key usage has neither emailProtection nor anyExtendedKeyUsage")
		}
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

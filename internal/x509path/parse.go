package x509path

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// oidUnparsedKey stands in for a public key algorithm while crypto/x509
// parses a certificate whose key it refuses; a private-arc OID nothing uses.
var oidUnparsedKey = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}

// ParseCertificate parses a DER certificate like x509.ParseCertificate, and
// also accepts three things RFC 5280 allows that crypto/x509 refuses:
// DSA keys that inherit their parameters from the issuer (PublicKey is then
// nil and Verify derives the key along the path), negative serial numbers,
// and CRL distribution points named relative to the CRL issuer (Verify
// reads distribution points from Extensions itself). Raw, RawTBSCertificate,
// RawSubjectPublicKeyInfo, SerialNumber and Extensions are always the
// certificate's own.
func ParseCertificate(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err == nil {
		return cert, nil
	}
	cert, ferr := parseLenient(der)
	if ferr != nil {
		return nil, fmt.Errorf("x509path: %w", err)
	}
	return cert, nil
}

// parseLenient rewrites what crypto/x509 refuses into something it
// accepts, parses that, and restores the original raw fields.
func parseLenient(der []byte) (*x509.Certificate, error) {
	in := cryptobyte.String(der)
	var certSeq, tbs, rest cryptobyte.String
	var tbsFull cryptobyte.String
	if !in.ReadASN1(&certSeq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("malformed certificate")
	}
	rest = certSeq
	if !rest.ReadASN1Element(&tbsFull, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed certificate")
	}
	tbs = tbsFull
	if !tbs.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed TBS")
	}
	var version, serialEl, sigAlg, issuer, validity, subject, spki cryptobyte.String
	var hasVersion bool
	if !tbs.ReadOptionalASN1(&version, &hasVersion, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, errors.New("malformed version")
	}
	serial := new(big.Int)
	if !tbs.ReadASN1Element(&serialEl, cbasn1.INTEGER) {
		return nil, errors.New("malformed serial")
	}
	serialCopy := serialEl
	if !serialCopy.ReadASN1Integer(serial) {
		return nil, errors.New("malformed serial")
	}
	if !tbs.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE) || !tbs.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&validity, cbasn1.SEQUENCE) || !tbs.ReadASN1Element(&subject, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed TBS")
	}
	// Unique IDs and extensions follow.
	var tail []cryptobyte.String
	var extensions []pkix.Extension
	var keptExtensions []pkix.Extension
	for !tbs.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !tbs.ReadAnyASN1Element(&el, &tag) {
			return nil, errors.New("malformed TBS")
		}
		if tag == cbasn1.Tag(3).ContextSpecific().Constructed() {
			if _, err := asn1.UnmarshalWithParams(el, &extensions, "explicit,tag:3"); err != nil {
				return nil, errors.New("malformed extensions")
			}
			for _, e := range extensions {
				if !e.Id.Equal(oidCRLDistributionPoints) {
					keptExtensions = append(keptExtensions, e)
				}
			}
			continue
		}
		tail = append(tail, el)
	}
	// The stand-in SPKI: same key bits, an algorithm crypto/x509 ignores.
	dsaWithoutParams := false
	{
		s := spki
		var inner, algo cryptobyte.String
		var oid asn1.ObjectIdentifier
		if s.ReadASN1(&inner, cbasn1.SEQUENCE) && inner.ReadASN1(&algo, cbasn1.SEQUENCE) &&
			algo.ReadASN1ObjectIdentifier(&oid) && oid.Equal(oidDSA) && algo.Empty() {
			dsaWithoutParams = true
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if hasVersion {
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(version) })
			}
			if serial.Sign() < 0 {
				b.AddASN1BigInt(big.NewInt(1))
			} else {
				b.AddBytes(serialEl)
			}
			b.AddBytes(sigAlg)
			b.AddBytes(issuer)
			b.AddBytes(validity)
			b.AddBytes(subject)
			if dsaWithoutParams {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidUnparsedKey) })
					b.AddASN1BitString([]byte{0})
				})
			} else {
				b.AddBytes(spki)
			}
			for _, el := range tail {
				b.AddBytes(el)
			}
			if len(keptExtensions) > 0 {
				enc, err := asn1.MarshalWithParams(keptExtensions, "explicit,tag:3")
				if err != nil {
					b.SetError(err)
					return
				}
				b.AddBytes(enc)
			}
		})
		b.AddBytes(rest) // signatureAlgorithm and signatureValue as they are
	})
	rewritten, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(rewritten)
	if err != nil {
		return nil, err
	}
	cert.Raw = der
	cert.RawTBSCertificate = tbsFull
	cert.RawSubjectPublicKeyInfo = spki
	cert.RawIssuer = issuer
	cert.RawSubject = subject
	cert.SerialNumber = serial
	cert.Extensions = extensions
	cert.CRLDistributionPoints = nil
	if dsaWithoutParams {
		cert.PublicKeyAlgorithm = x509.DSA
		cert.PublicKey = nil
	}
	return cert, nil
}

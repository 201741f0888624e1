package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
)

// ---- Building RecipientInfos (Encrypt) ----

// recipientInfo returns the DER RecipientInfo that gives cek to cert's
// key, and its version (0 for KTRI, 3 for KARI).
func recipientInfo(cert *x509.Certificate, cek []byte, opts EncryptOptions) ([]byte, int, error) {
	pub, err := certificatePublicKey(cert)
	if err != nil {
		return nil, 0, err
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := keyTransRecipientInfo(cert, pub, cek, opts.RSAOAEP)
		return der, 0, err
	case *ecdsa.PublicKey:
		var hash crypto.Hash
		var wrap asn1.ObjectIdentifier
		var scheme asn1.ObjectIdentifier
		switch pub.Curve {
		case elliptic.P256():
			hash, wrap, scheme = crypto.SHA256, oidAES128Wrap, oidStdDHSHA256KDF
		case elliptic.P384():
			hash, wrap, scheme = crypto.SHA384, oidAES192Wrap, oidStdDHSHA384KDF
		case elliptic.P521():
			hash, wrap, scheme = crypto.SHA512, oidAES256Wrap, oidStdDHSHA512KDF
		default:
			return nil, 0, fmt.Errorf("unsupported elliptic curve %s", pub.Curve.Params().Name)
		}
		key, err := pub.ECDH()
		if err != nil {
			return nil, 0, err
		}
		der, err := keyAgreeRecipientInfo(cert, key, oidECPublicKey, scheme, keyAgreementScheme{kdfX963, hash}, wrap, cek)
		return der, 3, err
	case *ecdh.PublicKey:
		if pub.Curve() != ecdh.X25519() {
			return nil, 0, errors.New("unsupported ECDH key (only X25519 certificates carry *ecdh.PublicKey)")
		}
		der, err := keyAgreeRecipientInfo(cert, pub, oidX25519, oidStdDHHKDFSHA256, keyAgreementScheme{kdfHKDF, crypto.SHA256}, oidAES256Wrap, cek)
		return der, 3, err
	}
	return nil, 0, fmt.Errorf("unsupported public key type %T", pub)
}

// certificatePublicKey returns cert's public key. crypto/x509 leaves
// PublicKey nil for X25519 certificates (there is no x509.PublicKeyAlgorithm
// for it), but ParsePKIXPublicKey reads X25519 keys.
func certificatePublicKey(cert *x509.Certificate) (crypto.PublicKey, error) {
	if cert.PublicKey != nil {
		return cert.PublicKey, nil
	}
	pub, err := x509.ParsePKIXPublicKey(cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, fmt.Errorf("certificate public key: %w", err)
	}
	return pub, nil
}

func addIssuerAndSerial(b *cryptobyte.Builder, cert *x509.Certificate) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(cert.RawIssuer)
		b.AddASN1BigInt(cert.SerialNumber)
	})
}

// keyTransRecipientInfo: RFC 5652 6.2.1, rid = issuerAndSerialNumber.
func keyTransRecipientInfo(cert *x509.Certificate, pub *rsa.PublicKey, cek []byte, oaep bool) ([]byte, error) {
	var encrypted []byte
	var err error
	if oaep {
		encrypted, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
	} else {
		encrypted, err = rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
	}
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		addIssuerAndSerial(b, cert)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if !oaep {
				b.AddASN1ObjectIdentifier(oidRSAEncryption)
				b.AddASN1NULL()
				return
			}
			// RSAES-OAEP-params (RFC 4055): SHA-256, MGF1-SHA-256, empty label
			b.AddASN1ObjectIdentifier(oidRSAESOAEP)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSHA256) })
				})
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSHA256) })
					})
				})
			})
		})
		b.AddASN1OctetString(encrypted)
	})
	return b.Bytes()
}

// keyAgreeRecipientInfo: RFC 5652 6.2.2 with an ephemeral originator key
// (RFC 5753 for NIST curves, RFC 8418 for X25519), no ukm, one
// RecipientEncryptedKey identified by issuerAndSerialNumber.
func keyAgreeRecipientInfo(cert *x509.Certificate, pub *ecdh.PublicKey, originatorAlg, schemeOID asn1.ObjectIdentifier, scheme keyAgreementScheme, wrapOID asn1.ObjectIdentifier, cek []byte) ([]byte, error) {
	ephemeral, err := pub.Curve().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	z, err := ephemeral.ECDH(pub)
	if err != nil {
		return nil, err
	}
	kekLen, _ := keyWrapSize(wrapOID)
	kek, err := scheme.deriveKEK(z, nil, wrapOID, kekLen)
	if err != nil {
		return nil, err
	}
	wrapped, err := aesKeyWrap(kek, cek)
	if err != nil {
		return nil, err
	}
	b := sizedBuilder(len(cert.RawIssuer) + 256)
	b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
		b.AddASN1Int64(3)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(originatorAlg) })
				b.AddASN1BitString(ephemeral.PublicKey().Bytes())
			})
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(schemeOID)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(wrapOID) })
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				addIssuerAndSerial(b, cert)
				b.AddASN1OctetString(wrapped)
			})
		})
	})
	return b.Bytes()
}

// ---- Parsing RecipientInfos (Decrypt) ----

// recipientID is a RecipientIdentifier / KeyAgreeRecipientIdentifier.
type recipientID struct {
	issuer []byte // DER Name; nil when identified by skid
	serial []byte // INTEGER contents octets
	skid   []byte
}

func (r recipientID) matches(cert *x509.Certificate) bool {
	if r.issuer != nil {
		return bytes.Equal(r.issuer, cert.RawIssuer) && bytes.Equal(r.serial, integerContents(cert.SerialNumber))
	}
	return len(r.skid) > 0 && bytes.Equal(r.skid, cert.SubjectKeyId)
}

// integerContents is the DER INTEGER contents octets of n (two's complement).
func integerContents(n *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1BigInt(n)
	der, _ := b.Bytes()
	s := cryptobyte.String(der)
	var contents cryptobyte.String
	s.ReadASN1(&contents, cbasn1.INTEGER)
	return contents
}

func (r recipientID) String() string {
	if r.issuer == nil {
		return "skid=" + hex.EncodeToString(r.skid)
	}
	issuer := "(unparsable issuer)"
	var rdn pkix.RDNSequence
	if rest, err := asn1.Unmarshal(r.issuer, &rdn); err == nil && len(rest) == 0 {
		var name pkix.Name
		name.FillFromRDNSequence(&rdn)
		issuer = name.String()
	}
	return fmt.Sprintf("issuer=%s, serial=%s", issuer, hex.EncodeToString(r.serial))
}

type recipientKind int

const (
	kindKeyTrans recipientKind = iota + 1
	kindKeyAgree
	kindOther // KEKRecipientInfo, PasswordRecipientInfo, OtherRecipientInfo
)

// encryptedKeyFor is one RecipientEncryptedKey (KARI) or the KTRI itself.
type encryptedKeyFor struct {
	rid          recipientID
	encryptedKey []byte
}

// parsedRecipient is one RecipientInfo.
type parsedRecipient struct {
	kind             recipientKind
	keyEncAlg        asn1.ObjectIdentifier
	keyEncParams     []byte // DER of the parameters, nil if absent
	keys             []encryptedKeyFor
	originatorAlg    asn1.ObjectIdentifier // KARI
	originatorParams []byte                // KARI: DER of the algorithm parameters, nil if absent
	originatorKey    []byte                // KARI: public key bits
	ukm              []byte                // KARI: nil if absent
}

var (
	tagContext0Prim = cbasn1.Tag(0).ContextSpecific()
	tagContext0     = cbasn1.Tag(0).Constructed().ContextSpecific()
	tagContext1     = cbasn1.Tag(1).Constructed().ContextSpecific()
)

// parseRecipientInfos parses the contents of the RecipientInfos SET (DER,
// or BER already normalised to definite lengths).
func parseRecipientInfos(set []byte) ([]parsedRecipient, error) {
	in := cryptobyte.String(set)
	var out []parsedRecipient
	for !in.Empty() {
		var ri cryptobyte.String
		var tag cbasn1.Tag
		if !in.ReadAnyASN1(&ri, &tag) {
			return nil, errors.New("bad RecipientInfo")
		}
		var p parsedRecipient
		var err error
		switch tag {
		case cbasn1.SEQUENCE:
			p, err = parseKeyTrans(ri)
		case tagContext1:
			p, err = parseKeyAgree(ri)
		default:
			p = parsedRecipient{kind: kindOther}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no RecipientInfos")
	}
	return out, nil
}

func parseRecipientID(in *cryptobyte.String, allowRKeyID bool) (recipientID, error) {
	var el cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1(&el, &tag) {
		return recipientID{}, errors.New("bad recipient identifier")
	}
	switch {
	case tag == cbasn1.SEQUENCE:
		var issuer, serial cryptobyte.String
		if !el.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !el.ReadASN1(&serial, cbasn1.INTEGER) || !el.Empty() || len(serial) == 0 {
			return recipientID{}, errors.New("bad issuerAndSerialNumber")
		}
		return recipientID{issuer: issuer, serial: serial}, nil
	case tag == tagContext0Prim && !allowRKeyID:
		return recipientID{skid: el}, nil
	case tag == tagContext0 && allowRKeyID:
		// RecipientKeyIdentifier ::= SEQUENCE { subjectKeyIdentifier, date OPTIONAL, other OPTIONAL }
		var skid cryptobyte.String
		if !el.ReadASN1(&skid, cbasn1.OCTET_STRING) {
			return recipientID{}, errors.New("bad rKeyId")
		}
		return recipientID{skid: skid}, nil
	}
	return recipientID{}, errors.New("bad recipient identifier")
}

func parseAlgorithm(in *cryptobyte.String) (asn1.ObjectIdentifier, []byte, error) {
	var seq cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, errors.New("bad AlgorithmIdentifier")
	}
	var params []byte
	if !seq.Empty() {
		params = seq
	}
	return oid, params, nil
}

func parseKeyTrans(ri cryptobyte.String) (parsedRecipient, error) {
	p := parsedRecipient{kind: kindKeyTrans}
	var version int
	if !ri.ReadASN1Integer(&version) {
		return p, errors.New("bad KeyTransRecipientInfo version")
	}
	rid, err := parseRecipientID(&ri, false)
	if err != nil {
		return p, err
	}
	if p.keyEncAlg, p.keyEncParams, err = parseAlgorithm(&ri); err != nil {
		return p, err
	}
	var ek cryptobyte.String
	if !ri.ReadASN1(&ek, cbasn1.OCTET_STRING) || !ri.Empty() {
		return p, errors.New("bad KeyTransRecipientInfo")
	}
	p.keys = []encryptedKeyFor{{rid: rid, encryptedKey: ek}}
	return p, nil
}

func parseKeyAgree(ri cryptobyte.String) (parsedRecipient, error) {
	p := parsedRecipient{kind: kindKeyAgree}
	var version int
	var originator, originatorChoice cryptobyte.String
	if !ri.ReadASN1Integer(&version) || !ri.ReadASN1(&originator, tagContext0) {
		return p, errors.New("bad KeyAgreeRecipientInfo")
	}
	// Only originatorKey [1] (ephemeral-static) is supported; the other
	// choices identify a static originator certificate.
	if originator.ReadASN1(&originatorChoice, tagContext1) {
		var bitString asn1.BitString
		var err error
		p.originatorAlg, p.originatorParams, err = parseAlgorithm(&originatorChoice)
		if err != nil || !originatorChoice.ReadASN1BitString(&bitString) || bitString.BitLength%8 != 0 ||
			!originatorChoice.Empty() || !originator.Empty() {
			return p, errors.New("bad originatorKey")
		}
		p.originatorKey = bitString.Bytes
	}
	var ukmWrapper cryptobyte.String
	var hasUKM bool
	if !ri.ReadOptionalASN1(&ukmWrapper, &hasUKM, tagContext1) {
		return p, errors.New("bad ukm")
	}
	if hasUKM {
		var ukm cryptobyte.String
		if !ukmWrapper.ReadASN1(&ukm, cbasn1.OCTET_STRING) {
			return p, errors.New("bad ukm")
		}
		p.ukm = append([]byte{}, ukm...)
	}
	var err error
	if p.keyEncAlg, p.keyEncParams, err = parseAlgorithm(&ri); err != nil {
		return p, err
	}
	var keys cryptobyte.String
	if !ri.ReadASN1(&keys, cbasn1.SEQUENCE) || !ri.Empty() {
		return p, errors.New("bad RecipientEncryptedKeys")
	}
	for !keys.Empty() {
		var rek, ek cryptobyte.String
		if !keys.ReadASN1(&rek, cbasn1.SEQUENCE) {
			return p, errors.New("bad RecipientEncryptedKey")
		}
		rid, err := parseRecipientID(&rek, true)
		if err != nil {
			return p, err
		}
		if !rek.ReadASN1(&ek, cbasn1.OCTET_STRING) || !rek.Empty() {
			return p, errors.New("bad RecipientEncryptedKey")
		}
		p.keys = append(p.keys, encryptedKeyFor{rid: rid, encryptedKey: ek})
	}
	return p, nil
}

// ---- Recovering the content-encryption key ----

// unwrapResult says how unwrapping went. keyTransportV15 always "succeeds"
// (with a random key on failure), so that a padding failure shows only as
// the generic content failure later.
type unwrapResult int

const (
	unwrapOK unwrapResult = iota
	unwrapFailed
	unwrapWrongKeyType // the identity's key does not fit this RecipientInfo
)

// unwrapCEK recovers the content-encryption key of length keyLen from ek
// (one encrypted key of ri) with the identity's private key.
func unwrapCEK(ri *parsedRecipient, ek []byte, key crypto.PrivateKey, keyLen int) ([]byte, unwrapResult, error) {
	switch ri.kind {
	case kindKeyTrans:
		priv, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, unwrapWrongKeyType, nil
		}
		return unwrapKeyTrans(ri, ek, priv, keyLen)
	case kindKeyAgree:
		return unwrapKeyAgree(ri, ek, key, keyLen)
	}
	return nil, unwrapWrongKeyType, nil
}

func unwrapKeyTrans(ri *parsedRecipient, ek []byte, priv *rsa.PrivateKey, keyLen int) ([]byte, unwrapResult, error) {
	switch {
	case ri.keyEncAlg.Equal(oidRSAEncryption):
		// Implicit rejection: start from a random key; a bad padding or
		// length leaves it in place and the content check fails later.
		cek := make([]byte, keyLen)
		if _, err := rand.Read(cek); err != nil {
			return nil, unwrapFailed, err
		}
		_ = rsa.DecryptPKCS1v15SessionKey(nil, priv, ek, cek)
		return cek, unwrapOK, nil
	case ri.keyEncAlg.Equal(oidRSAESOAEP):
		opts, err := parseOAEPParams(ri.keyEncParams)
		if err != nil {
			return nil, unwrapFailed, err
		}
		cek, err := priv.Decrypt(nil, ek, opts)
		if err != nil || len(cek) != keyLen {
			return nil, unwrapFailed, nil
		}
		return cek, unwrapOK, nil
	}
	return nil, unwrapFailed, fmt.Errorf("unsupported key transport algorithm %v", ri.keyEncAlg)
}

func hashForOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	return lookupHash(digestHashes, oid)
}

// parseOAEPParams reads RSAES-OAEP-params (RFC 4055 section 4.1); every
// field has a SHA-1 / empty-label default.
func parseOAEPParams(params []byte) (*rsa.OAEPOptions, error) {
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	if params == nil {
		return opts, nil
	}
	in := cryptobyte.String(params)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("bad RSAES-OAEP-params")
	}
	var field cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&field, &present, tagContext0) {
		return nil, errors.New("bad RSAES-OAEP-params hashFunc")
	}
	if present {
		oid, _, err := parseAlgorithm(&field)
		h, ok := hashForOID(oid)
		if err != nil || !ok {
			return nil, fmt.Errorf("unsupported OAEP hash %v", oid)
		}
		opts.Hash = h
	}
	if !seq.ReadOptionalASN1(&field, &present, tagContext1) {
		return nil, errors.New("bad RSAES-OAEP-params maskGenFunc")
	}
	if present {
		oid, mgfParams, err := parseAlgorithm(&field)
		if err != nil || !oid.Equal(oidMGF1) {
			return nil, fmt.Errorf("unsupported OAEP mask generation function %v", oid)
		}
		p := cryptobyte.String(mgfParams)
		hashOID, _, err := parseAlgorithm(&p)
		h, ok := hashForOID(hashOID)
		if err != nil || !ok {
			return nil, fmt.Errorf("unsupported MGF1 hash %v", hashOID)
		}
		opts.MGFHash = h
	}
	if !seq.ReadOptionalASN1(&field, &present, cbasn1.Tag(2).Constructed().ContextSpecific()) {
		return nil, errors.New("bad RSAES-OAEP-params pSourceFunc")
	}
	if present {
		oid, labelParam, err := parseAlgorithm(&field)
		if err != nil || !oid.Equal(oidPSpecified) {
			return nil, fmt.Errorf("unsupported OAEP pSourceFunc %v", oid)
		}
		p := cryptobyte.String(labelParam)
		var label cryptobyte.String
		if !p.ReadASN1(&label, cbasn1.OCTET_STRING) || !p.Empty() {
			return nil, errors.New("bad OAEP label")
		}
		opts.Label = label
	}
	if !seq.Empty() {
		return nil, errors.New("bad RSAES-OAEP-params")
	}
	return opts, nil
}

func ecdhPrivateKey(key crypto.PrivateKey) (*ecdh.PrivateKey, bool) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		e, err := k.ECDH()
		return e, err == nil
	case *ecdh.PrivateKey:
		return k, true
	}
	return nil, false
}

func unwrapKeyAgree(ri *parsedRecipient, ek []byte, key crypto.PrivateKey, keyLen int) ([]byte, unwrapResult, error) {
	priv, ok := ecdhPrivateKey(key)
	if !ok {
		return nil, unwrapWrongKeyType, nil
	}
	if ri.originatorAlg == nil {
		return nil, unwrapFailed, errors.New("key agreement with a static originator key is not supported")
	}
	if !ri.originatorFits(priv) {
		return nil, unwrapWrongKeyType, nil
	}
	scheme, ok := keyAgreementSchemeFor(ri.keyEncAlg)
	if !ok {
		return nil, unwrapFailed, fmt.Errorf("unsupported key agreement algorithm %v", ri.keyEncAlg)
	}
	params := cryptobyte.String(ri.keyEncParams)
	wrapOID, _, err := parseAlgorithm(&params)
	if err != nil {
		return nil, unwrapFailed, errors.New("bad key-wrap algorithm")
	}
	kekLen, ok := keyWrapSize(wrapOID)
	if !ok {
		return nil, unwrapFailed, fmt.Errorf("unsupported key-wrap algorithm %v", wrapOID)
	}
	z, err := ri.sharedSecret(priv)
	if err != nil {
		return nil, unwrapFailed, nil
	}
	kek, err := scheme.deriveKEK(z, ri.ukm, wrapOID, kekLen)
	if err != nil {
		return nil, unwrapFailed, nil
	}
	cek, err := aesKeyUnwrap(kek, ek)
	if err != nil || len(cek) != keyLen {
		return nil, unwrapFailed, nil
	}
	return cek, unwrapOK, nil
}

// originatorFits reports whether the originator key of a KARI is of the
// kind of priv (X25519, or an EC key for a NIST curve).
func (ri *parsedRecipient) originatorFits(priv *ecdh.PrivateKey) bool {
	if priv.Curve() == ecdh.X25519() {
		return ri.originatorAlg.Equal(oidX25519)
	}
	return ri.originatorAlg.Equal(oidECPublicKey)
}

// sharedSecret returns the ECDH secret of priv and the KARI's originator
// key. It refuses a key that is not a point of priv's curve in
// uncompressed form (off the curve, the point at infinity, compressed or
// otherwise malformed), an EC key whose parameters are not those RFC 5753
// section 3.1.1 allows (absent, NULL, or the namedCurve of priv's curve:
// explicit curve parameters and other curves are refused), and for X25519
// a low-order key (all-zero secret).
func (ri *parsedRecipient) sharedSecret(priv *ecdh.PrivateKey) ([]byte, error) {
	if priv.Curve() != ecdh.X25519() && !namesCurve(ri.originatorParams, priv.Curve()) {
		return nil, errors.New("the originator key's parameters do not name the recipient's curve")
	}
	pub, err := priv.Curve().NewPublicKey(ri.originatorKey)
	if err != nil {
		return nil, err
	}
	return priv.ECDH(pub)
}

// namesCurve reports whether the id-ecPublicKey parameters params are
// absent, NULL or the namedCurve of curve.
func namesCurve(params []byte, curve ecdh.Curve) bool {
	if params == nil || bytes.Equal(params, []byte{0x05, 0x00}) {
		return true
	}
	in := cryptobyte.String(params)
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1ObjectIdentifier(&oid) || !in.Empty() {
		return false
	}
	switch curve {
	case ecdh.P256():
		return oid.Equal(oidCurveP256)
	case ecdh.P384():
		return oid.Equal(oidCurveP384)
	case ecdh.P521():
		return oid.Equal(oidCurveP521)
	}
	return false
}

// noKeyError lists the recipients of the message.
func noKeyError(recipients []parsedRecipient) error {
	var names []string
	others := 0
	for _, ri := range recipients {
		for _, k := range ri.keys {
			names = append(names, k.rid.String())
		}
		if ri.kind == kindOther {
			others++
		}
	}
	msg := "cms: decrypt: none of the keys is a recipient of this message"
	if len(names) > 0 {
		msg += "; it is encrypted to: " + joinSemicolon(names)
	}
	if others > 0 {
		msg += fmt.Sprintf(" (and %d recipients with key-encryption keys or passwords, which are not supported)", others)
	}
	return fmt.Errorf("%s: %w", msg, core.ErrNoKey)
}

func joinSemicolon(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x)
	}
	return b.String()
}

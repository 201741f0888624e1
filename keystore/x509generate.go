package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"strings"
	"time"

	"github.com/mailseal/mailseal/core"
)

// X509Options describe a new X.509 key and certificate (or request).
type X509Options struct {
	Email string // rfc822Name SAN of an end-entity certificate or request
	Name  string // subject common name (default: the email address)
	Algo  string // "ecdsa-p256" (default), "rsa3072", "ed25519"
	// Issuer is a QUERY naming a stored CA certificate with its private key;
	// empty: a self-signed certificate (SelfSigned says so explicitly).
	Issuer     string
	SelfSigned bool
	// Renew is a QUERY naming a stored S/MIME certificate to renew: the
	// new certificate has its subject and addresses, a new key (of the
	// same algorithm unless Algo says otherwise) and serial, and the same
	// issuer (the keystore's CA that issued it, or none for a self-signed
	// one). Email, Name, Issuer and SelfSigned must then be empty. The
	// successor of a self-signed trust anchor is made a trust anchor.
	Renew string
	// Validity: default 2 years for end-entity certificates, 10 for CAs; an
	// issued certificate never outlives its issuer.
	Validity time.Duration
	// Passphrase protects the new private key; nil only with NoPassphrase.
	Passphrase   []byte
	NoPassphrase bool
	// IssuerPassphrase unlocks the issuer's private key.
	IssuerPassphrase PassphraseFunc
	// Now is the issuing time (zero: now); for tests.
	Now time.Time
}

const (
	defaultLeafValidity = 2 * 365 * 24 * time.Hour
	defaultCAValidity   = 10 * 365 * 24 * time.Hour
)

func (o *X509Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().Truncate(time.Second)
	}
	return o.Now
}

func (o *X509Options) protect() ([]byte, error) {
	if o.NoPassphrase {
		return nil, nil
	}
	if o.Passphrase == nil {
		return nil, core.WithKind(errors.New("keystore: x509: generate: a passphrase to protect the new key is needed (or NoPassphrase)"), core.ErrLocked)
	}
	return o.Passphrase, nil
}

// newX509Key makes a key pair of a named algorithm.
func newX509Key(algo string) (crypto.Signer, error) {
	switch strings.ToLower(algo) {
	case "", "ecdsa-p256", "p256", "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("keystore: x509: unknown algorithm %q (ecdsa-p256, rsa3072 or ed25519): %w", algo, core.ErrUsage)
}

// randomSerial is a positive random 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, err
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID is the leftmost 160 bits of the SHA-256 of the
// subjectPublicKey bits (RFC 7093 section 2, method 1).
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// GenerateCA makes a self-signed CA certificate (basicConstraints CA:true,
// pathLen 0, keyUsage keyCertSign and cRLSign, subject key identifier) with
// subject CN=opts.Name, stores it with its private key, and describes it.
// It is not made a trust anchor: that is Trust's decision.
func (s *Store) GenerateCA(opts X509Options) (*CertInfo, error) {
	if strings.TrimSpace(opts.Name) == "" {
		return nil, fmt.Errorf("keystore: x509: generate: a CA needs a name: %w", core.ErrUsage)
	}
	protect, err := opts.protect()
	if err != nil {
		return nil, err
	}
	key, err := newX509Key(opts.Algo)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: generate: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: generate: %w", err)
	}
	validity := opts.Validity
	if validity <= 0 {
		validity = defaultCAValidity
	}
	now := opts.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.Name},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          ski,
	}
	return s.issueAndStore(tmpl, key, tmpl, key, protect)
}

// GenerateX509 makes an S/MIME end-entity certificate for opts.Email:
// extKeyUsage emailProtection, an rfc822Name SAN, keyUsage digitalSignature
// plus keyEncipherment (RSA) or keyAgreement (ECDSA) — Ed25519 keys only
// sign —, subject and authority key identifiers, a random 128-bit serial
// and subject CN=opts.Name. It is issued by the stored CA opts.Issuer names
// (its key unlocked with opts.IssuerPassphrase) or self-signed, and stored
// with its private key.
func (s *Store) GenerateX509(opts X509Options) (*CertInfo, error) {
	var renew *x509.Certificate
	if opts.Renew != "" {
		var err error
		if renew, err = s.renewal(&opts); err != nil {
			return nil, err
		}
	}
	addr, err := mail.ParseAddress(opts.Email)
	if err != nil || addr.Name != "" {
		return nil, fmt.Errorf("keystore: x509: generate: %q is not an email address: %w", opts.Email, core.ErrUsage)
	}
	if opts.Issuer != "" && opts.SelfSigned {
		return nil, fmt.Errorf("keystore: x509: generate: an issuer and self-signed exclude each other: %w", core.ErrUsage)
	}
	protect, err := opts.protect()
	if err != nil {
		return nil, err
	}
	var issuer *x509.Certificate
	var issuerKey crypto.Signer
	if opts.Issuer != "" {
		c, err := s.FindOneX509(opts.Issuer)
		if err != nil {
			return nil, err
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, fmt.Errorf("keystore: x509: generate: %s (%s) is not a CA certificate: %w", CertFingerprint(c), c.Subject, core.ErrUsage)
		}
		k, err := s.privateKey(c, opts.IssuerPassphrase)
		if err != nil {
			return nil, err
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("keystore: x509: generate: the issuer's key cannot sign: %w", core.ErrNoKey)
		}
		issuer, issuerKey = c, signer
	}
	key, err := newX509Key(opts.Algo)
	if err != nil {
		return nil, err
	}
	tmpl, err := leafTemplate(addr.Address, opts.Name, key.Public(), opts)
	if err != nil {
		return nil, err
	}
	if renew != nil {
		tmpl.RawSubject = renew.RawSubject
		if len(renew.EmailAddresses) > 0 {
			tmpl.EmailAddresses = renew.EmailAddresses
		}
		// The newest certificate for an address is chosen: make sure the
		// renewed one is, also when made within the second.
		if !tmpl.NotBefore.After(renew.NotBefore) {
			tmpl.NotBefore = renew.NotBefore.Add(time.Second)
		}
	}
	if issuer == nil {
		issuer, issuerKey = tmpl, key
	} else if tmpl.NotAfter.After(issuer.NotAfter) {
		tmpl.NotAfter = issuer.NotAfter
	}
	info, err := s.issueAndStore(tmpl, key, issuer, issuerKey, protect)
	if err != nil || renew == nil || !isSelfSigned(renew) || !s.isTrusted(CertFingerprint(renew)) {
		return info, err
	}
	// The successor of a self-signed certificate that is a trust anchor is
	// one too: it is chosen to sign from now on, and would otherwise make
	// its owner's own mail untrusted.
	return s.Trust(info.Fingerprint)
}

// renewal finds the certificate opts.Renew names and fills opts from it:
// its first address, its issuer (or self-signed), its key algorithm.
func (s *Store) renewal(opts *X509Options) (*x509.Certificate, error) {
	if opts.Email != "" || opts.Name != "" || opts.Issuer != "" || opts.SelfSigned {
		return nil, fmt.Errorf("keystore: x509: renew: the renewed certificate keeps the subject, addresses and issuer; "+
			"for others, generate a new certificate: %w", core.ErrUsage)
	}
	old, err := s.FindOneX509(opts.Renew)
	if err != nil {
		return nil, err
	}
	emails := CertEmails(old)
	if !personalCert(old) || len(emails) == 0 {
		return nil, fmt.Errorf("keystore: x509: renew: %s (%s) is not an S/MIME certificate of an address: %w", CertFingerprint(old), old.Subject, core.ErrUsage)
	}
	opts.Email = emails[0]
	if isSelfSigned(old) {
		opts.SelfSigned = true
	} else {
		ca, err := s.issuingCA(old)
		if err != nil {
			return nil, fmt.Errorf("%w (a certificate of a public CA is renewed with keys request)", err)
		}
		opts.Issuer = CertFingerprint(ca)
	}
	if opts.Algo == "" {
		if algo := keyAlgorithmName(old.PublicKey); algo == "ecdsa-p256" || algo == "rsa3072" || algo == "ed25519" {
			opts.Algo = algo
		}
	}
	return old, nil
}

func leafTemplate(email, name string, pub crypto.PublicKey, opts X509Options) (*x509.Certificate, error) {
	if strings.TrimSpace(name) == "" {
		name = email
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: generate: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: generate: %w", err)
	}
	validity := opts.Validity
	if validity <= 0 {
		validity = defaultLeafValidity
	}
	now := opts.now()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		BasicConstraintsValid: true,
		KeyUsage:              leafKeyUsage(pub),
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		EmailAddresses:        []string{email},
		SubjectKeyId:          ski,
	}, nil
}

func leafKeyUsage(pub crypto.PublicKey) x509.KeyUsage {
	switch pub.(type) {
	case *rsa.PublicKey:
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	case *ecdsa.PublicKey:
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
	}
	return x509.KeyUsageDigitalSignature
}

// issueAndStore signs tmpl with the issuer's key and stores the result with
// key, under the writer lock.
func (s *Store) issueAndStore(tmpl *x509.Certificate, key crypto.Signer, issuer *x509.Certificate, issuerKey crypto.Signer, protect []byte) (*CertInfo, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: generate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: generate: %w", err)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := s.storeX509(&x509Input{certs: []*x509.Certificate{cert}, keys: []crypto.PrivateKey{key}}, protect, Provenance{Source: SourceGenerate}); err != nil {
		return nil, err
	}
	info := s.certInfo(cert, time.Now())
	return &info, nil
}

// Request makes a key pair and a PKCS#10 certificate request (PEM) for
// opts.Email (subject CN=opts.Name, rfc822Name SAN, and the key and
// extended key usages GenerateX509 would give). The private key is stored
// now; the certificate the CA issues pairs with it on import.
func (s *Store) Request(opts X509Options) ([]byte, error) {
	addr, err := mail.ParseAddress(opts.Email)
	if err != nil || addr.Name != "" {
		return nil, fmt.Errorf("keystore: x509: request: %q is not an email address: %w", opts.Email, core.ErrUsage)
	}
	protect, err := opts.protect()
	if err != nil {
		return nil, err
	}
	key, err := newX509Key(opts.Algo)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if strings.TrimSpace(name) == "" {
		name = addr.Address
	}
	ku, err := keyUsageExtension(leafKeyUsage(key.Public()))
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: request: %w", err)
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidEmailProtection})
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: request: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: name},
		EmailAddresses: []string{addr.Address},
		ExtraExtensions: []pkix.Extension{
			ku,
			{Id: oidExtKeyUsage, Value: eku},
		},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: request: %w", err)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := s.storeKey(key, nil, protect); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

var (
	oidKeyUsage        = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidEmailProtection = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}
)

// keyUsageExtension encodes a critical keyUsage extension (RFC 5280
// 4.2.1.3: bit 0 is the most significant bit, trailing zero bits dropped).
func keyUsageExtension(ku x509.KeyUsage) (pkix.Extension, error) {
	var b [2]byte
	bits := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
			bits = i + 1
		}
	}
	val, err := asn1.Marshal(asn1.BitString{Bytes: b[:(bits+7)/8], BitLength: bits})
	return pkix.Extension{Id: oidKeyUsage, Critical: true, Value: val}, err
}

// placeholderCert is a self-signed certificate for a key that has none yet
// (stored by Request): PKCS#12 files carry a certificate next to the key.
// It is never stored as a certificate, never trusted, and only its key is
// ever read back.
func placeholderCert(key crypto.Signer) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mailseal key awaiting its certificate"},
		NotBefore:    now,
		NotAfter:     now.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

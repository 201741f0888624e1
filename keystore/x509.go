package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/dn"
	"github.com/mailseal/mailseal/internal/pkcs12"
	"github.com/mailseal/mailseal/internal/upperhex"
	"github.com/mailseal/mailseal/internal/x509path"
	"github.com/mailseal/mailseal/smime"
)

// The X.509 side of the store (see the package doc for the layout).
func (s *Store) x509Dir() string     { return filepath.Join(s.dir, "x509") }
func (s *Store) x509CertDir() string { return filepath.Join(s.x509Dir(), "certs") }
func (s *Store) x509KeyDir() string  { return filepath.Join(s.x509Dir(), "keys") }
func (s *Store) trustDir() string    { return filepath.Join(s.x509Dir(), "trust") }
func (s *Store) crlDir() string      { return filepath.Join(s.x509Dir(), "crls") }

func (s *Store) x509CertPath(fpr string) string { return filepath.Join(s.x509CertDir(), fpr+".pem") }
func (s *Store) x509KeyPath(id string) string   { return filepath.Join(s.x509KeyDir(), id+".p12") }
func (s *Store) trustPath(fpr string) string    { return filepath.Join(s.trustDir(), fpr+".pem") }
func (s *Store) crlPath(id string) string       { return filepath.Join(s.crlDir(), id+".crl") }

// atRestIterations is the PBKDF2 (and MAC) iteration count of the PKCS#12
// files that keep private keys in the store and of exported ones: more
// than the encoder's default of 2048, which protects little.
const atRestIterations = 200_000

// keyFileEncoder writes PKCS#12 files: AES-256-CBC, PBKDF2-HMAC-SHA-256,
// HMAC-SHA-256 MAC, as OpenSSL 3 does by default.
var keyFileEncoder = gopkcs12.Modern2023.WithIterations(atRestIterations)

// CertInfo describes a stored certificate for listing. The fields it
// shares with KeyInfo have the same names and meaning in JSON:
// fingerprint, algorithm, emails, created, expires, expired, secret,
// protected.
type CertInfo struct {
	Fingerprint string   `json:"fingerprint"` // SHA-256 of the DER, upper-case hex
	Algorithm   string   `json:"algorithm"`   // of the subject's public key: rsa3072, ecdsa-p256, ed25519, ...
	Subject     string   `json:"subject"`
	Issuer      string   `json:"issuer"`
	Emails      []string `json:"emails"`
	Serial      string   `json:"serial"` // upper-case hex
	// Created and Expires are the certificate's notBefore and notAfter.
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	Expired    bool      `json:"expired"`
	CA         bool      `json:"ca"`
	SelfSigned bool      `json:"self_signed"`
	Trusted    bool      `json:"trusted"`
	HasSecret  bool      `json:"secret"`    // a private key is stored
	Protected  bool      `json:"protected"` // the private key is encrypted with a passphrase
	// Revoked: a CA of this keystore revoked it (RevokeX509).
	Revoked bool `json:"revoked"`
	// Provenance is how and when the certificate arrived.
	Provenance Provenance `json:"provenance"`
}

// CertFingerprint is the name of a certificate in the store: the SHA-256
// of its DER encoding, upper-case hex.
func CertFingerprint(c *x509.Certificate) string { return smime.Fingerprint(c) }

// keyID names a private key file: the SHA-256 of the public key's
// SubjectPublicKeyInfo, upper-case hex. All certificates for one key share
// the file, and a key stored by Request pairs with its certificate when that
// arrives. "" when Go cannot encode the key.
func keyID(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return upperhex.Encode(sum[:])
}

// CertEmails returns the addresses of a certificate: its rfc822Name SANs
// and the subject's emailAddress attributes, without duplicates.
func CertEmails(c *x509.Certificate) []string {
	out := []string{}
	seen := map[string]bool{} // core.AddressKey: equal where core.SameAddress is
	add := func(a string) {
		a = strings.TrimSpace(a)
		if a == "" || seen[core.AddressKey(a)] {
			return
		}
		seen[core.AddressKey(a)] = true
		out = append(out, a)
	}
	for _, a := range c.EmailAddresses {
		add(a)
	}
	for _, atv := range c.Subject.Names {
		if atv.Type.Equal(oidEmailAddress) {
			if v, ok := atv.Value.(string); ok {
				add(v)
			}
		}
	}
	return out
}

var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// readCertDir reads the certificates of dir (a missing directory has
// none). A Store keeps those it parsed, with the tags of their files
// (fileTag, through links): one S/MIME message looks at the stored
// certificates several times (the recipient's, the signer's, the
// intermediates for the paths), and a certificate whose file has not
// changed since it settled is not read and parsed again.
func (s *Store) readCertDir(dir string) ([]*x509.Certificate, error) {
	s.certDirReads.Add(1)
	files, err := listCertFiles(dir, s.statWorkers())
	if err != nil {
		return nil, err
	}
	s.forgetParsed(dir, files)
	return s.parseCertFiles(dir, files)
}

// parsedCert is a certificate readCertDir parsed, and the tag of its file.
type parsedCert struct {
	tag  string
	cert *x509.Certificate
}

func readCertFile(path string) (*x509.Certificate, error) {
	data, err := readStored(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("keystore: x509: %s: not a PEM certificate: %w", path, core.ErrInput)
	}
	c, err := x509path.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %s: %w: %w", path, err, core.ErrInput)
	}
	return c, nil
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// AllX509Certs returns every stored certificate: own, contacts,
// intermediates and trust anchors.
func (s *Store) AllX509Certs() ([]*x509.Certificate, error) {
	return s.readCertDir(s.x509CertDir())
}

// TrustAnchors returns the certificates the user trusts (keys trust).
func (s *Store) TrustAnchors() ([]*x509.Certificate, error) {
	return s.readCertDir(s.trustDir())
}

// Intermediates returns the stored certificates that may complete a path:
// those that may sign a certificate or a CRL (mayIssue) and are not trust
// anchors, as Session.Trust has them.
func (s *Store) Intermediates() ([]*x509.Certificate, error) {
	anchors, err := s.TrustAnchors()
	if err != nil {
		return nil, err
	}
	st, err := s.storedCertificates()
	if err != nil {
		return nil, err
	}
	return intermediates(st, anchors)
}

// intermediates are the stored certificates of st that may issue and are
// not among anchors.
func intermediates(st *storedCerts, anchors []*x509.Certificate) ([]*x509.Certificate, error) {
	issuers, err := st.issuers()
	if err != nil {
		return nil, err
	}
	return notAnchors(issuers, anchors), nil
}

// notAnchors are the certificates of certs that are not among anchors
// (compared by content: one stat of the trust directory's file per
// stored certificate cost more than the rest of a small message with a
// few thousand stored).
func notAnchors(certs, anchors []*x509.Certificate) []*x509.Certificate {
	trusted := make(map[string]bool, len(anchors))
	for _, a := range anchors {
		trusted[string(a.Raw)] = true
	}
	var out []*x509.Certificate
	for _, c := range certs {
		if !trusted[string(c.Raw)] {
			out = append(out, c)
		}
	}
	return out
}

// CRLs returns the stored certificate revocation lists.
func (s *Store) CRLs() ([]*x509.RevocationList, error) {
	files, err := os.ReadDir(s.crlDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w", err)
	}
	var out []*x509.RevocationList
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".crl") {
			continue
		}
		data, err := readStored(filepath.Join(s.crlDir(), f.Name()))
		if err != nil {
			return nil, fmt.Errorf("keystore: x509: %w", err)
		}
		crl, err := x509.ParseRevocationList(data)
		if err != nil {
			return nil, fmt.Errorf("keystore: x509: %s: %w: %w", f.Name(), err, core.ErrInput)
		}
		out = append(out, crl)
	}
	return out, nil
}

func (s *Store) isTrusted(fpr string) bool {
	_, err := os.Stat(s.trustPath(fpr))
	return err == nil
}

// x509KeyIDs lists the IDs (keyID) of the stored private keys: the
// names of the files of x509/keys.
func (s *Store) x509KeyIDs() ([]string, error) {
	files, err := os.ReadDir(s.x509KeyDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var ids []string
	for _, f := range files {
		if !f.IsDir() && strings.HasSuffix(f.Name(), ".p12") {
			ids = append(ids, strings.TrimSuffix(f.Name(), ".p12"))
		}
	}
	return ids, nil
}

// hasKey reports whether a private key for the certificate is stored.
func (s *Store) hasKey(c *x509.Certificate) bool {
	id := keyID(c.PublicKey)
	if id == "" {
		return false
	}
	_, err := os.Stat(s.x509KeyPath(id))
	return err == nil
}

// normalizeCertFingerprint turns "AB:CD ..." into upper-case hex; ok is
// false unless it is 64 hex digits.
func normalizeCertFingerprint(q string) (string, bool) {
	f := strings.ToUpper(strings.NewReplacer(" ", "", ":", "", "\t", "").Replace(strings.TrimSpace(q)))
	if len(f) != 64 {
		return "", false
	}
	if _, err := hex.DecodeString(f); err != nil {
		return "", false
	}
	return f, true
}

// FindX509 returns the stored certificates matching a QUERY: an email
// address (rfc822Name SAN or subject emailAddress; domain
// case-insensitive), a SHA-256 fingerprint (64 hex, spaces and colons
// allowed), or a case-insensitive substring of the subject or of one of
// its addresses. None: an error wrapping ErrNoKey.
func (s *Store) FindX509(query string) ([]*x509.Certificate, error) {
	return s.findX509(query, s.storedCertificates)
}

func (s *Store) findX509(query string, stored certSource) ([]*x509.Certificate, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return nil, fmt.Errorf("keystore: x509: empty query: %w", core.ErrUsage)
	}
	if fpr, ok := normalizeCertFingerprint(q); ok {
		c, err := readCertFile(s.x509CertPath(fpr))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("keystore: x509: no certificate %s: %w", fpr, core.ErrNoKey)
		}
		if err != nil {
			return nil, err
		}
		return []*x509.Certificate{c}, nil
	}
	st, err := stored()
	if err != nil {
		return nil, err
	}
	isEmail := strings.Contains(q, "@") && !strings.ContainsAny(q, " <>,=")
	var all []*x509.Certificate
	if isEmail {
		all, err = st.forAddress(q) // those naming q, and perhaps others
	} else {
		all, err = st.all()
	}
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, c := range all {
		if isEmail {
			for _, e := range CertEmails(c) {
				if core.SameAddress(e, q) {
					out = append(out, c)
					break
				}
			}
		} else if containsFold(dn.String(c.Subject), q) || slices.ContainsFunc(CertEmails(c), func(e string) bool { return containsFold(e, q) }) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("keystore: x509: no certificate matches %q: %w", q, core.ErrNoKey)
	}
	sortCerts(out)
	return out, nil
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// sortCerts orders certificates newest first, then by fingerprint.
func sortCerts(cs []*x509.Certificate) {
	sort.SliceStable(cs, func(i, j int) bool {
		if !cs[i].NotBefore.Equal(cs[j].NotBefore) {
			return cs[i].NotBefore.After(cs[j].NotBefore)
		}
		return CertFingerprint(cs[i]) < CertFingerprint(cs[j])
	})
}

// FindOneX509 is FindX509 for a query that must name exactly one
// certificate; more than one: an error listing them (ErrUsage).
func (s *Store) FindOneX509(query string) (*x509.Certificate, error) {
	return s.findOneX509(query, s.storedCertificates)
}

func (s *Store) findOneX509(query string, stored certSource) (*x509.Certificate, error) {
	found, err := s.findX509(query, stored)
	if err != nil {
		return nil, err
	}
	if len(found) > 1 {
		var names []string
		for _, c := range found {
			names = append(names, CertFingerprint(c)+" "+dn.String(c.Subject))
		}
		return nil, fmt.Errorf("keystore: x509: %q matches %d certificates: %s; give a fingerprint: %w",
			query, len(found), strings.Join(names, "; "), core.ErrUsage)
	}
	return found[0], nil
}

// X509ForEmail returns the stored certificates for an address (newest
// first) that are a person's (see personalCert) and that no CA of this
// keystore revoked (RevokeX509); none is not an error.
func (s *Store) X509ForEmail(email string) ([]*x509.Certificate, error) {
	return s.x509ForEmail(email, s.storedCertificates)
}

func (s *Store) x509ForEmail(email string, stored certSource) ([]*x509.Certificate, error) {
	found, err := s.findX509(email, stored)
	if errors.Is(err, core.ErrNoKey) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, c := range found {
		if personalCert(c) && !s.revokedX509(CertFingerprint(c)) {
			out = append(out, c)
		}
	}
	return out, nil
}

// personalCert reports whether c can be a person's own certificate: an
// end-entity certificate, or a self-signed one that names an address even
// though it says it is a CA (what `openssl req -x509` makes by default, and
// what many people use as their S/MIME certificate). A CA certificate that
// issues others, like the one GenerateCA makes, names no address and is not.
func personalCert(c *x509.Certificate) bool {
	if !c.BasicConstraintsValid || !c.IsCA {
		return true
	}
	return len(CertEmails(c)) > 0 && isSelfSigned(c)
}

// X509SecretsForEmail is X509ForEmail limited to certificates whose
// private key is stored: the identities that can sign or decrypt as email.
func (s *Store) X509SecretsForEmail(email string) ([]*x509.Certificate, error) {
	return s.x509SecretsForEmail(email, s.storedCertificates)
}

func (s *Store) x509SecretsForEmail(email string, stored certSource) ([]*x509.Certificate, error) {
	found, err := s.x509ForEmail(email, stored)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, c := range found {
		if s.hasKey(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// X509Identity returns the certificate with the given fingerprint, its
// private key (unlocked with pass if it is protected) and its chain: the
// issuers found among the stored non-anchor certificates, nearest first.
// No key: ErrNoKey; wrong or missing passphrase: ErrLocked.
func (s *Store) X509Identity(fingerprint string, pass PassphraseFunc) (*x509.Certificate, crypto.PrivateKey, []*x509.Certificate, error) {
	return s.x509Identity(fingerprint, pass, s.storedCertificates)
}

func (s *Store) x509Identity(fingerprint string, pass PassphraseFunc, stored certSource) (*x509.Certificate, crypto.PrivateKey, []*x509.Certificate, error) {
	fpr, ok := normalizeCertFingerprint(fingerprint)
	if !ok {
		return nil, nil, nil, fmt.Errorf("keystore: x509: %q is not a SHA-256 fingerprint: %w", fingerprint, core.ErrUsage)
	}
	c, err := s.FindOneX509(fpr)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := s.privateKey(c, pass)
	if err != nil {
		return nil, nil, nil, err
	}
	chain, err := chainOf(c, stored)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, key, chain, nil
}

// privateKey reads and unlocks the stored private key of c.
func (s *Store) privateKey(c *x509.Certificate, pass PassphraseFunc) (crypto.PrivateKey, error) {
	fpr := CertFingerprint(c)
	id := keyID(c.PublicKey)
	data, err := readStored(s.x509KeyPath(id))
	if id == "" || errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keystore: x509: no private key for %s: %w", fpr, core.ErrNoKey)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w", err)
	}
	f, err := openPKCS12(data, pass, "the private key of "+dn.String(c.Subject)+" ("+fpr+")")
	switch {
	case errors.Is(err, errPasswordNeeded):
		return nil, fmt.Errorf("keystore: x509: the private key of %s needs a passphrase: %w", fpr, core.ErrLocked)
	case errors.Is(err, pkcs12.ErrPassword):
		return nil, fmt.Errorf("keystore: x509: wrong passphrase for the private key of %s: %w", fpr, core.ErrLocked)
	case err != nil:
		return nil, fmt.Errorf("keystore: x509: private key of %s: %w", fpr, err)
	}
	if len(f.Keys) != 1 {
		return nil, fmt.Errorf("keystore: x509: the key file of %s holds %d keys: %w", fpr, len(f.Keys), core.ErrInput)
	}
	key := f.Keys[0].Key
	if !publicKeyMatches(key, c.PublicKey) {
		return nil, fmt.Errorf("keystore: x509: the stored private key does not belong to %s: %w", fpr, core.ErrInput)
	}
	return key, nil
}

// keyProtected reports whether the key file opens only with a passphrase.
func keyProtected(data []byte) bool {
	_, err := pkcs12.Decode(data, "")
	return errors.Is(err, pkcs12.ErrPassword)
}

// publicKeyMatches reports whether key is the private half of pub.
func publicKeyMatches(key crypto.PrivateKey, pub crypto.PublicKey) bool {
	k, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok || pub == nil {
		return false
	}
	eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(pub)
}

// chain follows issuers of c through the stored certificates: a candidate
// is the issuer when its subject is c's issuer and its key verifies c's
// signature. It stops after a self-signed certificate (the root is
// included, trusted or not: receivers never take trust from a message) or
// when no issuer is stored.
func (s *Store) chain(c *x509.Certificate) ([]*x509.Certificate, error) {
	return chainOf(c, s.storedCertificates)
}

// chainOf is chain with the certificates from stored: only those that may
// issue (mayIssue; CheckSignatureFrom refuses the others).
func chainOf(c *x509.Certificate, stored certSource) ([]*x509.Certificate, error) {
	st, err := stored()
	if err != nil {
		return nil, err
	}
	pool, err := st.issuers()
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	seen := map[string]bool{CertFingerprint(c): true}
	for cur := c; !isSelfSigned(cur) && len(out) < 16; {
		var next *x509.Certificate
		for _, cand := range pool {
			if seen[CertFingerprint(cand)] || !bytes.Equal(cand.RawSubject, cur.RawIssuer) {
				continue
			}
			if cur.CheckSignatureFrom(cand) == nil {
				next = cand
				break
			}
		}
		if next == nil {
			break
		}
		seen[CertFingerprint(next)] = true
		out = append(out, next)
		cur = next
	}
	return out, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// ListX509 describes the certificates matching query ("" for all), sorted
// by subject.
func (s *Store) ListX509(query string) ([]CertInfo, error) {
	var certs []*x509.Certificate
	var err error
	if query == "" {
		certs, err = s.AllX509Certs()
	} else {
		certs, err = s.FindX509(query)
	}
	if err != nil {
		return nil, err
	}
	recs, err := s.readProvenance()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]CertInfo, 0, len(certs))
	for _, c := range certs {
		ci := s.certInfo(c, now)
		ci.Provenance = recs.get(true, ci.Fingerprint)
		out = append(out, ci)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out, nil
}

func (s *Store) certInfo(c *x509.Certificate, now time.Time) CertInfo {
	fpr := CertFingerprint(c)
	info := CertInfo{
		Fingerprint: fpr,
		Algorithm:   keyAlgorithmName(c.PublicKey),
		Subject:     dn.String(c.Subject),
		Issuer:      dn.String(c.Issuer),
		Emails:      CertEmails(c),
		Created:     c.NotBefore,
		Expires:     c.NotAfter,
		Expired:     now.After(c.NotAfter),
		CA:          c.BasicConstraintsValid && c.IsCA,
		SelfSigned:  isSelfSigned(c),
		Trusted:     s.isTrusted(fpr),
		Revoked:     s.revokedX509(fpr),
	}
	if c.SerialNumber != nil {
		info.Serial = strings.ToUpper(c.SerialNumber.Text(16))
	}
	if id := keyID(c.PublicKey); id != "" {
		if data, err := readStored(s.x509KeyPath(id)); err == nil {
			info.HasSecret = true
			info.Protected = keyProtected(data)
		}
	}
	return info
}

func keyAlgorithmName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ecdsa-" + strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	case ed25519.PublicKey:
		return "ed25519"
	case *ecdh.PublicKey:
		if k.Curve() == ecdh.X25519() {
			return "x25519"
		}
		return "ecdh"
	case nil:
		return "unknown"
	}
	return fmt.Sprintf("%T", pub)
}

// Trust makes the matching certificate a trust anchor.
func (s *Store) Trust(query string) (*CertInfo, error) {
	c, err := s.FindOneX509(query)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := writeAtomic(s.trustPath(CertFingerprint(c)), certPEM(c), 0o644); err != nil {
		return nil, fmt.Errorf("keystore: x509: trust: %w", err)
	}
	info := s.certInfo(c, time.Now())
	return &info, nil
}

// Untrust removes the matching certificate from the trust anchors (it
// stays in the store). Untrusting a certificate that is not trusted is
// not an error.
func (s *Store) Untrust(query string) (*CertInfo, error) {
	c, err := s.FindOneX509(query)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := os.Remove(s.trustPath(CertFingerprint(c))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keystore: x509: untrust: %w", err)
	}
	info := s.certInfo(c, time.Now())
	return &info, nil
}

// ExportX509 writes the matching certificate. Format "pem" (the default):
// the certificate and its chain as PEM; secret is refused there, private
// keys leave the store only encrypted. Format "p12" needs secret: the key,
// certificate and chain in a PKCS#12 file (AES-256-CBC, PBKDF2-SHA-256)
// encrypted with the passphrase pass returns (which also unlocks the key).
func (s *Store) ExportX509(w io.Writer, query, format string, secret bool, pass PassphraseFunc) error {
	c, err := s.FindOneX509(query)
	if err != nil {
		return err
	}
	chain, err := s.chain(c)
	if err != nil {
		return err
	}
	switch format {
	case "", "pem":
		if secret {
			return fmt.Errorf("keystore: x509: a private key is exported only as PKCS#12 (--format p12): %w", core.ErrUsage)
		}
		return s.ExportX509Certs(w, []string{CertFingerprint(c)}, false)
	case "p12":
		if !secret {
			return fmt.Errorf("keystore: x509: PKCS#12 export is for the private key (--secret); certificates alone: --format pem: %w", core.ErrUsage)
		}
		key, err := s.privateKey(c, pass)
		if err != nil {
			return err
		}
		if pass == nil {
			return core.WithKind(errors.New("keystore: x509: exporting a private key needs a passphrase to protect the PKCS#12 file"), core.ErrLocked)
		}
		p, err := pass("the exported PKCS#12 file")
		if err != nil {
			return err
		}
		pfx, err := keyFileEncoder.Encode(key, c, chain, string(p))
		if err != nil {
			return fmt.Errorf("keystore: x509: export: %w", err)
		}
		_, err = w.Write(pfx)
		return err
	}
	return fmt.Errorf("keystore: x509: unknown export format %q (pem or p12): %w", format, core.ErrUsage)
}

// ExportX509Certs writes the certificates the queries name (each exactly
// one), each followed by its chain, as PEM; with all, every stored
// certificate instead. A certificate is written once however often it is
// named or chained. No certificate at all: ErrNoKey.
func (s *Store) ExportX509Certs(w io.Writer, queries []string, all bool) error {
	var certs []*x509.Certificate
	if all {
		stored, err := s.AllX509Certs()
		if err != nil {
			return err
		}
		if len(stored) == 0 {
			return fmt.Errorf("keystore: x509: there are no certificates to export: %w", core.ErrNoKey)
		}
		sortCerts(stored)
		certs = stored
	}
	for _, q := range queries {
		c, err := s.FindOneX509(q)
		if err != nil {
			return err
		}
		chain, err := s.chain(c)
		if err != nil {
			return err
		}
		certs = append(append(certs, c), chain...)
	}
	var buf bytes.Buffer
	seen := map[string]bool{}
	for _, c := range certs {
		if fpr := CertFingerprint(c); !seen[fpr] {
			seen[fpr] = true
			buf.Write(certPEM(c))
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// DeleteX509 deletes the matching certificate (and its trust anchor copy).
// A certificate whose private key is stored is deleted only with secret
// set; the key goes with it unless another stored certificate uses it.
func (s *Store) DeleteX509(query string, secret bool) error {
	c, err := s.FindOneX509(query)
	if err != nil {
		return err
	}
	fpr := CertFingerprint(c)
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// The certificate was found before the lock was taken: a concurrent
	// delete may have removed it since.
	gone := fmt.Errorf("keystore: x509: no certificate %s (deleted meanwhile): %w", fpr, core.ErrNoKey)
	if _, err := os.Stat(s.x509CertPath(fpr)); errors.Is(err, fs.ErrNotExist) {
		return gone
	}
	if s.hasKey(c) {
		if !secret {
			return fmt.Errorf("keystore: x509: %s has a private (secret) key; deleting it needs --yes: %w", fpr, core.ErrUsage)
		}
		shared := false
		st, err := s.storedCertificates()
		if err != nil {
			return err
		}
		same, err := st.withKeys(map[string]bool{keyID(c.PublicKey): true})
		if err != nil {
			return err
		}
		for _, other := range same {
			if CertFingerprint(other) != fpr && keyID(other.PublicKey) == keyID(c.PublicKey) {
				shared = true
			}
		}
		if !shared {
			if err := removeFile(s.x509KeyPath(keyID(c.PublicKey)), gone); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(s.trustPath(fpr)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keystore: x509: %w", err)
	}
	if err := removeFile(s.x509CertPath(fpr), gone); err != nil {
		return err
	}
	return s.forgetProvenance(true, fpr)
}

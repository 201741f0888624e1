package keystore

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/dn"
)

// The keystore's own CAs (GenerateCA, or any stored CA certificate with its
// private key) keep what they revoked in x509/ca/<CA fingerprint>.json;
// IssueCRL turns it into a CRL.
func (s *Store) caStateDir() string            { return filepath.Join(s.x509Dir(), "ca") }
func (s *Store) caStatePath(fpr string) string { return filepath.Join(s.caStateDir(), fpr+".json") }

// maxCAState bounds the size of a CA's revocation record read back.
const maxCAState = 64 << 20

// caState is what a CA of the keystore has revoked and the number of its
// last CRL.
type caState struct {
	CRLNumber int64        `json:"crl_number"`
	Revoked   []revocation `json:"revoked"`
}

// revocation is one certificate a CA revoked.
type revocation struct {
	Fingerprint string           `json:"fingerprint"`
	Subject     string           `json:"subject"`
	Serial      string           `json:"serial"` // upper-case hex
	Time        time.Time        `json:"time"`
	Reason      RevocationReason `json:"reason"`
	CA          bool             `json:"ca"` // the revoked certificate is a CA's
}

func (s *Store) readCAState(caFpr string) (*caState, error) {
	st := &caState{}
	data, err := atomicfile.ReadFile(s.caStatePath(caFpr), maxCAState)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if errors.Is(err, atomicfile.ErrTooLarge) {
		return nil, fmt.Errorf("keystore: x509: %w: %w", err, core.ErrInput)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("keystore: x509: %s: %w: %w", s.caStatePath(caFpr), err, core.ErrInput)
	}
	return st, nil
}

func (s *Store) writeCAState(caFpr string, st *caState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("keystore: x509: %w", err)
	}
	if err := writeAtomic(s.caStatePath(caFpr), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("keystore: x509: %w", err)
	}
	return nil
}

// crlReason is the CRL reasonCode of a reason (0: none is written).
func (r RevocationReason) crlReason(ca bool) int {
	switch r {
	case ReasonCompromised:
		if ca {
			return 2 // cACompromise
		}
		return 1 // keyCompromise
	case ReasonSuperseded:
		return 4
	case ReasonRetired:
		return 5 // cessationOfOperation
	}
	return 0
}

// Revocation says what RevokeX509 did.
type Revocation struct {
	Certificate CertInfo         `json:"certificate"`
	Issuer      CertInfo         `json:"issuer"` // the CA that revoked it
	Reason      RevocationReason `json:"reason"`
	Time        time.Time        `json:"time"`
	// New is false when the certificate was revoked before (the first
	// revocation stays).
	New bool `json:"new"`
}

// issuingCA returns the stored CA certificate that issued c and whose
// private key is stored: only such a CA can revoke c.
func (s *Store) issuingCA(c *x509.Certificate) (*x509.Certificate, error) {
	if isSelfSigned(c) {
		return nil, fmt.Errorf("keystore: x509: %s (%s) is self-signed: no CRL can revoke it; delete it (keys delete) and tell those who have it: %w",
			CertFingerprint(c), c.Subject, core.ErrUsage)
	}
	chain, err := s.chain(c)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 || !s.hasKey(chain[0]) {
		return nil, fmt.Errorf("keystore: x509: %s (%s) was not issued by a CA whose private key is in this keystore; only its issuer (%s) can revoke it: %w",
			CertFingerprint(c), c.Subject, c.Issuer, core.ErrNoKey)
	}
	return chain[0], nil
}

// RevokeX509 records the certificate query names as revoked by the CA of
// this keystore that issued it (a self-signed certificate, or one whose
// issuer's private key is not stored, cannot be revoked here). The next
// CRL that IssueCRL makes for the CA lists it, with opts.Reason as its
// reasonCode; opts.Message and opts.Passphrase are not used (the CRL is
// signed by IssueCRL).
func (s *Store) RevokeX509(query string, opts RevokeOptions) (*Revocation, error) {
	if opts.UseStored {
		return nil, fmt.Errorf("keystore: x509: a stored revocation certificate is an OpenPGP thing; a certificate is revoked by its CA's CRL: %w", core.ErrUsage)
	}
	c, err := s.FindOneX509(query)
	if err != nil {
		return nil, err
	}
	ca, err := s.issuingCA(c)
	if err != nil {
		return nil, err
	}
	caFpr, fpr := CertFingerprint(ca), CertFingerprint(c)
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := s.readCAState(caFpr)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res := &Revocation{Certificate: s.certInfo(c, now), Issuer: s.certInfo(ca, now)}
	for _, r := range st.Revoked {
		if r.Fingerprint == fpr {
			res.Reason, res.Time = r.Reason, r.Time
			return res, nil
		}
	}
	r := revocation{Fingerprint: fpr, Subject: dn.String(c.Subject), Serial: strings.ToUpper(c.SerialNumber.Text(16)),
		Time: opts.now().UTC(), Reason: opts.Reason, CA: c.BasicConstraintsValid && c.IsCA}
	st.Revoked = append(st.Revoked, r)
	if err := s.writeCAState(caFpr, st); err != nil {
		return nil, err
	}
	res.Certificate.Revoked = true
	res.Reason, res.Time, res.New = r.Reason, r.Time, true
	return res, nil
}

// revokedX509 reports whether one of the keystore's CAs revoked the
// certificate fpr.
func (s *Store) revokedX509(fpr string) bool {
	files, _ := os.ReadDir(s.caStateDir())
	for _, f := range files {
		name, ok := strings.CutSuffix(f.Name(), ".json")
		if !ok {
			continue
		}
		st, err := s.readCAState(name)
		if err != nil {
			continue
		}
		for _, r := range st.Revoked {
			if r.Fingerprint == fpr {
				return true
			}
		}
	}
	return false
}

// CRLOptions say how IssueCRL makes a CRL.
type CRLOptions struct {
	CA string // QUERY naming a stored CA certificate with its private key
	// NextUpdate is how long the CRL is current (default 30 days, never
	// past the CA's own end); after it, validators call it out of date.
	NextUpdate time.Duration
	// Passphrase unlocks the CA's private key.
	Passphrase PassphraseFunc
	// Now is the issuing time (zero: now); for tests.
	Now time.Time
}

// DefaultCRLValidity is how long a CRL of IssueCRL is current by default.
const DefaultCRLValidity = 30 * 24 * time.Hour

// IssueCRL signs a CRL (version 2, with the CA's authority key identifier
// and a CRL number one above the CA's last) listing every certificate
// RevokeX509 recorded for the CA, with its reasonCode. The keystore stores
// it in place of the CA's earlier CRLs and validates with it, and returns
// it (DER) to be published where the CA's correspondents fetch it.
func (s *Store) IssueCRL(opts CRLOptions) ([]byte, *x509.RevocationList, error) {
	ca, err := s.FindOneX509(opts.CA)
	if err != nil {
		return nil, nil, err
	}
	if !ca.BasicConstraintsValid || !ca.IsCA {
		return nil, nil, fmt.Errorf("keystore: x509: crl: %s (%s) is not a CA certificate: %w", CertFingerprint(ca), ca.Subject, core.ErrUsage)
	}
	if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, nil, fmt.Errorf("keystore: x509: crl: the key usage of %s (%s) does not allow signing CRLs: %w", CertFingerprint(ca), ca.Subject, core.ErrUsage)
	}
	if len(ca.SubjectKeyId) == 0 {
		return nil, nil, fmt.Errorf("keystore: x509: crl: %s (%s) has no subject key identifier, which its CRL must name (RFC 5280 5.2.1): %w",
			CertFingerprint(ca), ca.Subject, core.ErrUsage)
	}
	k, err := s.privateKey(ca, opts.Passphrase)
	if err != nil {
		return nil, nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("keystore: x509: crl: the CA's key cannot sign: %w", core.ErrNoKey)
	}
	validity := opts.NextUpdate
	if validity <= 0 {
		validity = DefaultCRLValidity
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	next := now.Add(validity)
	if next.After(ca.NotAfter) {
		next = ca.NotAfter
	}
	if !next.After(now) {
		return nil, nil, fmt.Errorf("keystore: x509: crl: the CA %s (%s) expired on %s: %w", CertFingerprint(ca), ca.Subject,
			ca.NotAfter.UTC().Format(time.DateOnly), core.ErrUsage)
	}
	caFpr := CertFingerprint(ca)
	unlock, err := s.lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	st, err := s.readCAState(caFpr)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(st.CRLNumber + 1), ThisUpdate: now, NextUpdate: next}
	for _, r := range st.Revoked {
		serial, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, nil, fmt.Errorf("keystore: x509: %s: serial %q of %s: %w", s.caStatePath(caFpr), r.Serial, r.Fingerprint, core.ErrInput)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: serial, RevocationTime: r.Time, ReasonCode: r.Reason.crlReason(r.CA)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: x509: crl: %w", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: x509: crl: %w", err)
	}
	st.CRLNumber++
	if err := s.writeCAState(caFpr, st); err != nil {
		return nil, nil, err
	}
	checks := maxCRLChecks
	if _, err := s.storeCRL(parsedCRL{der: der, crl: crl}, []*x509.Certificate{ca}, &checks); err != nil {
		return nil, nil, err
	}
	if err := s.dropOlderCRLs(ca, der); err != nil {
		return nil, nil, err
	}
	return der, crl, nil
}

// dropOlderCRLs removes the stored CRLs signed by ca other than keep: they
// say nothing keep does not (the validator reads every current CRL, so an
// earlier one cannot hide later revocations, but one on hold would stay
// revoked until it expired). The caller holds the lock.
func (s *Store) dropOlderCRLs(ca *x509.Certificate, keep []byte) error {
	files, err := os.ReadDir(s.crlDir())
	if err != nil {
		return fmt.Errorf("keystore: x509: %w", err)
	}
	for _, f := range files {
		if f.IsDir() || !strings.HasSuffix(f.Name(), ".crl") {
			continue
		}
		path := filepath.Join(s.crlDir(), f.Name())
		data, err := readStored(path)
		if err != nil || bytes.Equal(data, keep) {
			continue
		}
		crl, err := x509.ParseRevocationList(data)
		if err != nil || !bytes.Equal(crl.RawIssuer, ca.RawSubject) || crl.CheckSignatureFrom(ca) != nil {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keystore: x509: %w", err)
		}
	}
	return nil
}

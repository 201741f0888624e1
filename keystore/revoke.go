package keystore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
)

// RevocationReason says why a key or certificate is revoked. The empty
// reason is "no reason given".
type RevocationReason string

// The reasons RevokeOptions.Reason takes, and what they mean in OpenPGP
// (RFC 9580 section 5.2.3.31) and in a CRL (RFC 5280 section 5.3.1).
const (
	// ReasonUnspecified: OpenPGP "no reason" (a hard revocation: every
	// signature of the key is invalid, also those made before); CRL: no
	// reasonCode.
	ReasonUnspecified RevocationReason = ""
	// ReasonCompromised: the secret key may be known to others. OpenPGP
	// "key compromised" (hard); CRL keyCompromise (cACompromise for a CA).
	ReasonCompromised RevocationReason = "compromised"
	// ReasonSuperseded: a new key replaces this one. OpenPGP "key
	// superseded" (soft: implementations that follow RFC 9580 keep
	// signatures made before the revocation valid; mailseal's verifier
	// reports every signature of a revoked key untrusted); CRL superseded.
	ReasonSuperseded RevocationReason = "superseded"
	// ReasonRetired: the key is no longer used. OpenPGP "key retired"
	// (soft, as superseded); CRL cessationOfOperation.
	ReasonRetired RevocationReason = "retired"
)

// ParseRevocationReason reads compromised, superseded, retired, or ""
// (or "unspecified") for no reason.
func ParseRevocationReason(s string) (RevocationReason, error) {
	switch r := RevocationReason(strings.ToLower(strings.TrimSpace(s))); r {
	case ReasonUnspecified, ReasonCompromised, ReasonSuperseded, ReasonRetired:
		return r, nil
	case "unspecified":
		return ReasonUnspecified, nil
	}
	return "", fmt.Errorf("keystore: unknown revocation reason %q (compromised, superseded or retired): %w", s, core.ErrUsage)
}

func (r RevocationReason) pgp() packet.ReasonForRevocation {
	switch r {
	case ReasonCompromised:
		return packet.KeyCompromised
	case ReasonSuperseded:
		return packet.KeySuperseded
	case ReasonRetired:
		return packet.KeyRetired
	}
	return packet.NoReason
}

// RevokeOptions say how to revoke a key or certificate.
type RevokeOptions struct {
	Reason  RevocationReason
	Message string // OpenPGP: the reason's text; X.509 has no place for it
	// Passphrase unlocks the key that signs the revocation: the OpenPGP
	// secret key, or the issuing CA's private key.
	Passphrase PassphraseFunc
	// UseStored applies the revocation certificate made when the OpenPGP
	// key was generated (see RevocationCertificate) instead of signing a
	// new one: no passphrase is needed, and its reason is "no reason".
	UseStored bool
	// Now is the revocation time (zero: now); for tests.
	Now time.Time
}

func (o *RevokeOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().Truncate(time.Second)
	}
	return o.Now
}

// The stored revocation certificates: pgp.revocs/<FINGERPRINT>.rev, binary,
// mode 0600. They are kept apart from the certificates, so nothing applies
// them but RevokePGP with UseStored or an explicit import of one exported
// with RevocationCertificate.
func (s *Store) revocDir() string { return filepath.Join(s.dir, "pgp.revocs") }
func (s *Store) revocPath(fpr string) string {
	return filepath.Join(s.revocDir(), upper(fpr)+".rev")
}

// newRevocation makes a key revocation signature with the unlocked secret
// key e (which is changed: the revocation is added to e.Revocations) and
// returns the signature packet.
func newRevocation(e *openpgp.Entity, reason RevocationReason, message string, now time.Time) (rawPacket, error) {
	cfg := &packet.Config{Time: func() time.Time { return now }}
	if err := e.Revoke(reason.pgp(), message, cfg); err != nil {
		return rawPacket{}, fmt.Errorf("keystore: revoke: %w", err)
	}
	var b bytes.Buffer
	if err := e.Revocations[len(e.Revocations)-1].Packet.Serialize(&b); err != nil {
		return rawPacket{}, fmt.Errorf("keystore: revoke: %w", err)
	}
	pkts, err := splitPackets(b.Bytes())
	if err != nil || len(pkts) != 1 {
		return rawPacket{}, fmt.Errorf("keystore: revoke: the revocation signature does not encode as one packet: %v", err)
	}
	return pkts[0], nil
}

// revocationCertificate makes a revocation certificate (reason "no
// reason") with the unlocked key e, which it leaves unchanged.
func revocationCertificate(e *openpgp.Entity, now time.Time) (rawPacket, error) {
	saved := e.Revocations
	e.Revocations = append([]*packet.VerifiableSignature(nil), saved...)
	defer func() { e.Revocations = saved }()
	return newRevocation(e, ReasonUnspecified, "", now)
}

// storeRevocationCertificate keeps the revocation certificate p of fpr, to
// revoke the key after its passphrase is lost. An existing one is kept.
func (s *Store) storeRevocationCertificate(fpr string, p rawPacket) error {
	path := s.revocPath(fpr)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := writeAtomic(path, p.raw, 0o600); err != nil {
		return fmt.Errorf("keystore: storing the revocation certificate: %w", err)
	}
	return nil
}

// readRevocationCertificate returns the stored revocation certificate of
// fpr, checked against the stored certificate c.
func (s *Store) readRevocationCertificate(c *cert) (rawPacket, error) {
	fpr := c.fingerprint()
	data, err := readStored(s.revocPath(fpr))
	if errors.Is(err, fs.ErrNotExist) {
		return rawPacket{}, fmt.Errorf("keystore: no stored revocation certificate for %s (keys generate makes one, "+
			"and keys export --revocation with the secret key and its passphrase; without one, revoking needs them): %w", upper(fpr), core.ErrNoKey)
	}
	if err != nil {
		return rawPacket{}, fmt.Errorf("keystore: %w", err)
	}
	pkts, err := splitPackets(data)
	if err != nil || len(pkts) != 1 {
		return rawPacket{}, fmt.Errorf("keystore: %s: not one signature packet: %w", s.revocPath(fpr), core.ErrInput)
	}
	if sig, ok := verifyDirect(c.key, pkts[0]); !ok || sig.SigType != packet.SigTypeKeyRevocation {
		return rawPacket{}, fmt.Errorf("keystore: %s: not a revocation of %s: %w", s.revocPath(fpr), upper(fpr), core.ErrInput)
	}
	return pkts[0], nil
}

// RevocationCertificate writes the stored revocation certificate of the
// OpenPGP key query names, armored. Without one (a key imported from
// elsewhere), it makes one with the secret key, unlocked with pass, and
// stores it. Importing it (ImportPGP) revokes the key, in this keystore or
// in any other OpenPGP implementation, without the secret key: keep it
// where others cannot take it.
func (s *Store) RevocationCertificate(w io.Writer, query string, pass PassphraseFunc) error {
	e, err := s.FindOnePGP(query)
	if err != nil {
		return err
	}
	fpr := hex.EncodeToString(e.PrimaryKey.Fingerprint)
	c, err := s.readCert(fpr)
	if err != nil {
		return err
	}
	p, err := s.readRevocationCertificate(c)
	if errors.Is(err, core.ErrNoKey) && pass != nil {
		sec, serr := s.unlockedSecret(fpr, pass)
		if serr != nil {
			return serr
		}
		if p, err = revocationCertificate(sec, time.Now()); err == nil {
			err = s.storeRevocationCertificate(fpr, p)
		}
	}
	if err != nil {
		return err
	}
	aw := armor.NewWriter(w, openpgp.PublicKeyType)
	if _, err := aw.Write(p.raw); err != nil {
		return err
	}
	return aw.Close()
}

// unlockedSecret returns the secret key of fpr unlocked with pass; a
// primary key that is a stub cannot sign revocations (ErrNoKey).
func (s *Store) unlockedSecret(fpr string, pass PassphraseFunc) (*openpgp.Entity, error) {
	sec, err := s.PGPSecret(fpr)
	if err != nil {
		return nil, fmt.Errorf("%w (with the passphrase lost, apply the stored revocation certificate)", err)
	}
	if sec.PrivateKey == nil || sec.PrivateKey.Dummy() {
		return nil, fmt.Errorf("keystore: revoke: the secret primary key of %s is not stored here (a stub); "+
			"revoke it where it is, or with its revocation certificate: %w", upper(fpr), core.ErrNoKey)
	}
	if err := Unlock(sec, pass); err != nil {
		return nil, err
	}
	return sec, nil
}

// RevokePGP revokes the OpenPGP key query names: with its secret key
// (unlocked with opts.Passphrase) it signs a key revocation with
// opts.Reason and opts.Message; with opts.UseStored it applies the stored
// revocation certificate instead. The revocation is merged into the stored
// certificate, so exports carry it and the key is no longer chosen to
// encrypt to or sign with, and signatures it makes are not good. added is
// false when the stored certificate held the revocation already (applying
// the stored revocation certificate a second time).
func (s *Store) RevokePGP(query string, opts RevokeOptions) (info *KeyInfo, added bool, err error) {
	e, err := s.FindOnePGP(query)
	if err != nil {
		return nil, false, err
	}
	fpr := hex.EncodeToString(e.PrimaryKey.Fingerprint)
	var p rawPacket
	if opts.UseStored {
		if opts.Reason != ReasonUnspecified || opts.Message != "" {
			return nil, false, fmt.Errorf("keystore: revoke: the stored revocation certificate says \"no reason\"; "+
				"a reason or message needs the secret key (without the stored certificate): %w", core.ErrUsage)
		}
	} else {
		sec, err := s.unlockedSecret(fpr, opts.Passphrase)
		if err != nil {
			return nil, false, err
		}
		if p, err = newRevocation(sec, opts.Reason, opts.Message, opts.now()); err != nil {
			return nil, false, err
		}
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	c, err := s.readCert(fpr)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("keystore: no OpenPGP key %s (deleted meanwhile): %w", upper(fpr), core.ErrNoKey)
	}
	if err != nil {
		return nil, false, err
	}
	if opts.UseStored {
		if p, err = s.readRevocationCertificate(c); err != nil {
			return nil, false, err
		}
	}
	res, err := s.addRevocation(c, p)
	if err != nil {
		return nil, false, fmt.Errorf("keystore: revoke %s: %w", upper(fpr), err)
	}
	revoked, err := s.entity(fpr)
	if err != nil {
		return nil, false, err
	}
	ki := s.info(revoked, time.Now())
	return &ki, !slices.Equal(res.Changes, []string{revocationKnown}), nil
}

package keystore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// GenerateOptions describe a new OpenPGP key.
type GenerateOptions struct {
	UID     string // "Name <address>"
	Profile string // "default" (v4, read by gpg 2.2 and mail clients) or "rfc9580" (v6, AEAD)
	Algo    string // "ed25519" (default), "rsa3072", "rsa4096"
	Expires time.Duration
	// Passphrase protects the secret key; it may be nil only with NoPassphrase.
	Passphrase   []byte
	NoPassphrase bool
	// Now is the creation time (zero: now); for tests.
	Now time.Time
}

// GeneratePGP makes a key pair, stores it with a revocation certificate
// (see RevocationCertificate), and describes it. The default
// profile is a v4 Ed25519 primary key (certify+sign) with an X25519
// encryption subkey, preferring AES-256 and SHA-512; rfc9580 makes a v6 key
// that prefers AEAD (SEIPDv2).
func (s *Store) GeneratePGP(opts GenerateOptions) (*KeyInfo, error) {
	if opts.Passphrase == nil && !opts.NoPassphrase {
		return nil, core.WithKind(errors.New("keystore: generate: a passphrase to protect the new key is needed (or NoPassphrase)"), core.ErrLocked)
	}
	if addr, err := core.UserIDAddress(opts.UID); err != nil {
		return nil, fmt.Errorf("keystore: generate: %v (write it as \"Name <address>\"): %w", err, core.ErrUsage)
	} else if addr == "" {
		return nil, fmt.Errorf("keystore: generate: the user ID %q has no address; write it as \"Name <address>\": %w", opts.UID, core.ErrUsage)
	}
	e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{opts.UID}, Profile: opts.Profile, Algo: opts.Algo,
		Expires: opts.Expires, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	var pub, sec bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		return nil, fmt.Errorf("keystore: generate: %w", err)
	}
	now := opts.Now
	if now.IsZero() {
		now = e.PrimaryKey.CreationTime
	}
	rev, err := revocationCertificate(e, now)
	if err != nil {
		return nil, err
	}
	if !opts.NoPassphrase {
		if err := pgp.ProtectKey(e, opts.Passphrase); err != nil {
			return nil, fmt.Errorf("keystore: generate: %w", err)
		}
	}
	if err := e.SerializePrivateWithoutSigning(&sec, nil); err != nil {
		return nil, fmt.Errorf("keystore: generate: %w", err)
	}
	if _, err := s.importPGP(append(pub.Bytes(), sec.Bytes()...), nil, Provenance{Source: SourceGenerate}); err != nil {
		return nil, err
	}
	if err := s.storeRevocationCertificate(hex.EncodeToString(e.PrimaryKey.Fingerprint), rev); err != nil {
		return nil, err
	}
	info := s.info(e, time.Now())
	info.setProvenance(Provenance{Source: SourceGenerate})
	return &info, nil
}

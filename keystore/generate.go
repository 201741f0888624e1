package keystore

import (
	"bytes"
	"crypto"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
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

// GeneratePGP makes a key pair, stores it, and describes it. The default
// profile is a v4 Ed25519 primary key (certify+sign) with an X25519
// encryption subkey, preferring AES-256 and SHA-512; rfc9580 makes a v6 key
// that prefers AEAD (SEIPDv2).
func (s *Store) GeneratePGP(opts GenerateOptions) (*KeyInfo, error) {
	if opts.Passphrase == nil && !opts.NoPassphrase {
		return nil, fmt.Errorf("keystore: generate: a passphrase is needed: %w", mailseal.ErrLocked)
	}
	addr, err := mail.ParseAddress(opts.UID)
	if err != nil {
		return nil, fmt.Errorf("keystore: generate: the user ID %q is not \"Name <address>\": %w", opts.UID, mailseal.ErrUsage)
	}
	cfg := &packet.Config{
		DefaultHash:            crypto.SHA512,
		DefaultCipher:          packet.CipherAES256,
		DefaultCompressionAlgo: packet.CompressionNone,
		Time:                   func() time.Time { return opts.Now },
	}
	if opts.Now.IsZero() {
		cfg.Time = nil
	}
	if opts.Expires > 0 {
		cfg.KeyLifetimeSecs = uint32(opts.Expires / time.Second)
	}
	switch opts.Profile {
	case "", "default":
	case "rfc9580":
		cfg.V6Keys = true
		cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
	default:
		return nil, fmt.Errorf("keystore: generate: unknown profile %q (default or rfc9580): %w", opts.Profile, mailseal.ErrUsage)
	}
	switch strings.ToLower(opts.Algo) {
	case "", "ed25519":
		if cfg.V6Keys {
			cfg.Algorithm = packet.PubKeyAlgoEd25519
		} else {
			cfg.Algorithm = packet.PubKeyAlgoEdDSA
			cfg.Curve = packet.Curve25519
		}
	case "rsa3072":
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 3072
	case "rsa4096":
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 4096
	default:
		return nil, fmt.Errorf("keystore: generate: unknown algorithm %q (ed25519, rsa3072 or rsa4096): %w", opts.Algo, mailseal.ErrUsage)
	}
	name := addr.Name
	e, err := openpgp.NewEntity(name, "", addr.Address, cfg)
	if err != nil {
		return nil, fmt.Errorf("keystore: generate: %w", err)
	}
	var pub, sec bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		return nil, fmt.Errorf("keystore: generate: %w", err)
	}
	if !opts.NoPassphrase {
		if err := e.EncryptPrivateKeys(opts.Passphrase, protectionConfig(e.PrimaryKey.Version)); err != nil {
			return nil, fmt.Errorf("keystore: generate: %w", err)
		}
	}
	if err := e.SerializePrivateWithoutSigning(&sec, nil); err != nil {
		return nil, fmt.Errorf("keystore: generate: %w", err)
	}
	if _, err := s.ImportPGP(bytes.NewReader(append(pub.Bytes(), sec.Bytes()...)), nil); err != nil {
		return nil, err
	}
	info := s.info(e, time.Now())
	return &info, nil
}

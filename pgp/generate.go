package pgp

import (
	"crypto"
	"fmt"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// KeyOptions describe a new OpenPGP key.
type KeyOptions struct {
	// UserIDs are "Name <address>" (or a bare address, or a name without
	// an address); the first is the primary user ID. At least one is
	// needed. One that names an address must bind it
	// (core.UserIDAddress), or NewKey fails with a usage error.
	UserIDs []string
	Profile string // "default" (v4, read by gpg 2.2 and mail clients) or "rfc9580" (v6, AEAD)
	Algo    string // "ed25519" (default), "rsa3072", "rsa4096"
	Expires time.Duration
	// SigningOnly leaves out the encryption subkey.
	SigningOnly bool
	Now         time.Time // creation time; zero: now
}

// NewKey makes an unprotected key pair. The default profile is a v4 Ed25519
// primary key (certify+sign) with an X25519 encryption subkey, preferring
// AES-256 and SHA-512; rfc9580 makes a v6 key that prefers AEAD (SEIPDv2)
// with AES-256 in GCM, then OCB.
func NewKey(opts KeyOptions) (*openpgp.Entity, error) {
	if len(opts.UserIDs) == 0 {
		return nil, fmt.Errorf("pgp: generate: no user ID: %w", core.ErrUsage)
	}
	cfg := &packet.Config{
		DefaultHash:            crypto.SHA512,
		DefaultCipher:          packet.CipherAES256,
		DefaultCompressionAlgo: packet.CompressionNone,
	}
	if !opts.Now.IsZero() {
		cfg.Time = func() time.Time { return opts.Now }
	}
	if opts.Expires > 0 {
		cfg.KeyLifetimeSecs = uint32(opts.Expires / time.Second)
	}
	switch opts.Profile {
	case "", "default":
	case "rfc9580":
		cfg.V6Keys = true
		// Preferences list GCM before OCB (which RFC 9580 makes mandatory
		// and is listed too): both are sound, and GCM has hardware support
		// on current CPUs (about ten times OCB's speed in go-crypto).
		cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeGCM}
	default:
		return nil, fmt.Errorf("pgp: generate: unknown profile %q (default or rfc9580): %w", opts.Profile, core.ErrUsage)
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
		return nil, fmt.Errorf("pgp: generate: unknown algorithm %q (ed25519, rsa3072 or rsa4096): %w", opts.Algo, core.ErrUsage)
	}
	name, comment, email, err := splitUserID(opts.UserIDs[0])
	if err != nil {
		return nil, err
	}
	e, err := openpgp.NewEntity(name, comment, email, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgp: generate: %v: %w", err, core.ErrUsage)
	}
	for _, uid := range opts.UserIDs[1:] {
		n, c, m, err := splitUserID(uid)
		if err != nil {
			return nil, err
		}
		if err := e.AddUserId(n, c, m, cfg); err != nil {
			return nil, fmt.Errorf("pgp: generate: user ID %q: %v: %w", uid, err, core.ErrUsage)
		}
	}
	if opts.SigningOnly {
		e.Subkeys = nil
	}
	return e, nil
}

// UserIDPacket is the user ID packet NewKey writes for uid (see
// KeyOptions.UserIDs): one that names an address must bind it
// (core.UserIDAddress), or it is a usage error.
func UserIDPacket(uid string) (*packet.UserId, error) {
	name, comment, email, err := splitUserID(uid)
	if err != nil {
		return nil, err
	}
	return packet.NewUserId(name, comment, email), nil
}

// splitUserID splits a user ID into the name, comment and address that
// go-crypto builds it back from ("name (comment) <address>"). A user ID
// that names an address but binds none (core.UserIDAddress), or that
// go-crypto cannot write so that it binds the same address, is a usage
// error: mailseal makes no key whose address is in doubt.
func splitUserID(uid string) (name, comment, email string, err error) {
	addr, err := core.UserIDAddress(uid)
	if err != nil {
		return "", "", "", fmt.Errorf("pgp: generate: %v (write it as \"Name <address>\"): %w", err, core.ErrUsage)
	}
	s := strings.TrimSpace(uid)
	if addr != "" && strings.HasSuffix(s, "<"+addr+">") {
		email = addr
		s = strings.TrimSpace(strings.TrimSuffix(s, "<"+addr+">"))
	}
	if i := strings.LastIndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		comment = s[i+1 : len(s)-1]
		s = strings.TrimSpace(s[:i])
	}
	name = s
	built := packet.NewUserId(name, comment, email)
	if built == nil {
		return "", "", "", fmt.Errorf("pgp: generate: the user ID %q cannot be written (angle brackets or parentheses in a name or comment); write it as \"Name (comment) <address>\": %w", uid, core.ErrUsage)
	}
	if again, _ := core.UserIDAddress(built.Id); again != addr {
		return "", "", "", fmt.Errorf("pgp: generate: the user ID %q would be written as %q; write it as \"Name (comment) <address>\": %w", uid, built.Id, core.ErrUsage)
	}
	return name, comment, email, nil
}

// ProtectionConfig is how secret keys are encrypted with a passphrase:
// iterated and salted S2K with SHA-256 and AES-256 for v4 keys, Argon2 and
// AEAD (OCB) for v6 keys.
func ProtectionConfig(version int) *packet.Config {
	cfg := &packet.Config{DefaultCipher: packet.CipherAES256}
	if version == 6 {
		cfg.S2KConfig = &s2k.Config{S2KMode: s2k.Argon2S2K, Argon2Config: &s2k.Argon2Config{}}
		cfg.AEADConfig = &packet.AEADConfig{DefaultMode: packet.AEADModeOCB}
	} else {
		cfg.S2KConfig = &s2k.Config{S2KMode: s2k.IteratedSaltedS2K, Hash: crypto.SHA256, S2KCount: 65011712}
	}
	return cfg
}

// ProtectKey encrypts every secret key of e with passphrase.
func ProtectKey(e *openpgp.Entity, passphrase []byte) error {
	if err := e.EncryptPrivateKeys(passphrase, ProtectionConfig(e.PrimaryKey.Version)); err != nil {
		return fmt.Errorf("pgp: protect key: %w", err)
	}
	return nil
}

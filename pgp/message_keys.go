package pgp

import (
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// Recipient is an OpenPGP certificate to encrypt a message to. It is a
// mailseal.Recipient: the message-level API encrypts with PGP/MIME for it.
// Check it first with Engine.CheckRecipient (the keystore does).
type Recipient struct{ Entity *openpgp.Entity }

// Protocol is core.ProtocolOpenPGP.
func (Recipient) Protocol() string { return core.ProtocolOpenPGP }

// Fingerprint is the primary key's fingerprint, upper-case hex.
func (r Recipient) Fingerprint() string {
	if r.Entity == nil {
		return ""
	}
	return Fingerprint(r.Entity.PrimaryKey)
}

// Signer is an unlocked OpenPGP secret key to sign messages with. It is a
// mailseal.Signer. An unlocked key is not safe for concurrent use (go-crypto
// records in it which self-signatures it has checked): give each goroutine
// a Signer of its own.
type Signer struct{ Entity *openpgp.Entity }

// Protocol is core.ProtocolOpenPGP.
func (Signer) Protocol() string { return core.ProtocolOpenPGP }

// Fingerprint is the primary key's fingerprint, upper-case hex.
func (s Signer) Fingerprint() string {
	if s.Entity == nil {
		return ""
	}
	return Fingerprint(s.Entity.PrimaryKey)
}

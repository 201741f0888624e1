package smime

import (
	"crypto/x509"

	"github.com/mailseal/mailseal/core"
)

// Recipient is an X.509 certificate to encrypt a message to. It is a
// mailseal.Recipient: the message-level API encrypts with S/MIME for it.
// Check it first with Engine.CheckRecipient (the keystore does); Warnings
// are what that check had to say about a certificate it accepted.
type Recipient struct {
	Cert     *x509.Certificate
	Warnings []string
}

// Protocol is core.ProtocolSMIME.
func (Recipient) Protocol() string { return core.ProtocolSMIME }

// Fingerprint is the certificate's SHA-256 fingerprint.
func (r Recipient) Fingerprint() string {
	if r.Cert == nil {
		return ""
	}
	return Fingerprint(r.Cert)
}

// Signer is a certificate with its private key and chain, and how to sign
// with it. It is a mailseal.Signer.
type Signer struct {
	Identity
	Options SignOptions
}

// Protocol is core.ProtocolSMIME.
func (Signer) Protocol() string { return core.ProtocolSMIME }

// Fingerprint is the certificate's SHA-256 fingerprint.
func (s Signer) Fingerprint() string {
	if s.Cert == nil {
		return ""
	}
	return Fingerprint(s.Cert)
}

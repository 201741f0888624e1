package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// DKIM key algorithms for GenerateDKIMKey.
const (
	AlgoEd25519 = "ed25519"
	AlgoRSA2048 = "rsa2048"
)

// GenerateDKIMKey makes a DKIM signing key: Ed25519 (RFC 8463) or RSA
// of 2048 bits.
func GenerateDKIMKey(algo string) (crypto.Signer, error) {
	switch algo {
	case AlgoEd25519, "":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case AlgoRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("DKIM key algorithm %q: want %s or %s: %w", algo, AlgoEd25519, AlgoRSA2048, core.ErrUsage)
}

// DKIMRecord is the DNS TXT record that publishes pub for DKIM
// ("v=DKIM1; k=ed25519; p=..."), at SELECTOR._domainkey.DOMAIN.
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
	return "", fmt.Errorf("DKIM: unsupported key type %T: %w", pub, core.ErrUsage)
}

// DefaultSignedHeaders are the fields SignDKIM signs (RFC 6376 section
// 5.4.1's list), each once more than it occurs, so that one added later
// breaks the signature.
var DefaultSignedHeaders = []string{"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"In-Reply-To", "References", "Message-ID", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Sender", "List-Id", "List-Unsubscribe"}

// SignOptions steer SignDKIM.
type SignOptions struct {
	Domain   string // d=
	Selector string // s=
	Key      crypto.Signer
	// HeaderCanonicalization and BodyCanonicalization are "relaxed"
	// (the default) or "simple".
	HeaderCanonicalization, BodyCanonicalization string
	// Headers are the fields to sign (nil: DefaultSignedHeaders).
	Headers []string
}

// SignDKIM writes m with a DKIM-Signature field in front (RFC 6376; RSA
// SHA-256 or Ed25519 SHA-256, RFC 8463). The message is read twice, once
// for the hashes and once to copy it, and never held in memory.
func SignDKIM(w io.Writer, m *mime.Message, o SignOptions) error {
	sig, err := DKIMSignature(m, o)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, sig); err != nil {
		return err
	}
	_, err = io.Copy(w, asParsed(m.Root)) // as signed: the header as mailseal reads it, a blank line, the body
	return err
}

// DKIMSignature is the DKIM-Signature field (name, value, final CRLF)
// that signs m.
func DKIMSignature(m *mime.Message, o SignOptions) (string, error) {
	if m == nil || m.Root == nil {
		return "", fmt.Errorf("no message: %w", core.ErrInput)
	}
	if o.Domain == "" || o.Selector == "" || o.Key == nil {
		return "", fmt.Errorf("DKIM signing needs a domain, a selector and a key: %w", core.ErrUsage)
	}
	if len(m.Root.Header.Values("From")) == 0 {
		return "", fmt.Errorf("DKIM: the message has no From field, which a DKIM signature must sign: %w", core.ErrInput)
	}
	hc, err := canonicalizationOption(o.HeaderCanonicalization)
	if err != nil {
		return "", err
	}
	bc, err := canonicalizationOption(o.BodyCanonicalization)
	if err != nil {
		return "", err
	}
	keys := o.Headers
	if keys == nil {
		keys = oversign(m.Root.Header, DefaultSignedHeaders)
	}
	s, err := dkim.NewSigner(&dkim.SignOptions{Domain: o.Domain, Selector: o.Selector, Signer: o.Key,
		HeaderCanonicalization: hc, BodyCanonicalization: bc, HeaderKeys: keys})
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, core.ErrUsage)
	}
	if _, err := io.Copy(s, asParsed(m.Root)); err != nil {
		s.Close()
		return "", err
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	return s.Signature(), nil
}

// oversign lists each name as often as the header has it, plus once.
func oversign(h mime.Header, names []string) []string {
	var keys []string
	for _, n := range names {
		for range h.Values(n) {
			keys = append(keys, n)
		}
		keys = append(keys, n)
	}
	return keys
}

func canonicalizationOption(c string) (dkim.Canonicalization, error) {
	switch strings.ToLower(c) {
	case "", "relaxed":
		return dkim.CanonicalizationRelaxed, nil
	case "simple":
		return dkim.CanonicalizationSimple, nil
	}
	return "", fmt.Errorf("DKIM canonicalization %q: want relaxed or simple: %w", c, core.ErrUsage)
}

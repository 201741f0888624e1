package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/flow"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

// S/MIME flags of the message commands.
var (
	smimeFlag      = &cli.BoolFlag{Name: "smime", Usage: "use S/MIME (RFC 8551)"}
	smimeSignFlags = []cli.Flag{
		&cli.BoolFlag{Name: "opaque", Usage: "S/MIME: encapsulate the content (application/pkcs7-mime signed-data) instead of multipart/signed"},
		&cli.StringFlag{Name: "hash", Usage: "S/MIME: signature hash `sha256|sha384|sha512` (default sha256; sha512 for Ed25519)"},
		&cli.BoolFlag{Name: "pss", Usage: "S/MIME: sign with RSASSA-PSS (RSA keys)"},
		&cli.BoolFlag{Name: "skid", Usage: "S/MIME: identify the signer by subjectKeyIdentifier instead of issuer and serial number"},
	}
	smimeEncryptFlags = []cli.Flag{
		&cli.StringFlag{Name: "cipher", Usage: "S/MIME: `aes256-gcm` (default), aes128-gcm, or for legacy recipients aes256-cbc, aes128-cbc"},
		&cli.BoolFlag{Name: "rsa-oaep", Usage: "S/MIME: RSAES-OAEP key transport to RSA recipients instead of PKCS #1 v1.5"},
	}
	verifyFlags = []cli.Flag{
		&cli.StringFlag{Name: "at", Usage: "judge signatures and certificates at `TIME` (RFC 3339 or YYYY-MM-DD) instead of now"},
		&cli.BoolFlag{Name: "no-system-roots", Usage: "S/MIME: trust only the anchors in the keystore (keys trust), not the system's"},
		&cli.BoolFlag{Name: "require-crls", Usage: "S/MIME: fail certificates no CRL in the keystore or message covers (default: warn)"},
	}
)

// parseTime reads --at.
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErr("--at %q: want RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", v)
}

// smimeEngine builds the engine with the keystore's trust.
func (s *session) smimeEngine() (*smime.Engine, error) {
	roots, err := s.store.TrustAnchors()
	if err != nil {
		return nil, err
	}
	var system func() []*x509.Certificate
	if !s.c.Bool("no-system-roots") {
		// Parsed only for a certificate the keystore's anchors do not
		// validate: the bundle holds well over a hundred certificates.
		system = sync.OnceValue(systemRoots)
	}
	inter, err := s.store.Intermediates()
	if err != nil {
		return nil, err
	}
	crls, err := s.store.CRLs()
	if err != nil {
		return nil, err
	}
	return &smime.Engine{Policy: s.policy, Trust: smime.Trust{
		Roots: roots, SystemRoots: system, Intermediates: inter, CRLs: crls, RequireCRLs: s.c.Bool("require-crls"),
	}}, nil
}

// systemRoots reads the system's CA bundle (the files Go's crypto/x509
// reads on Unix; SSL_CERT_FILE overrides). Missing files give none.
func systemRoots() []*x509.Certificate {
	files := []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/cert.pem",
	}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		files = []string{f}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var out []*x509.Certificate
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			if c, err := x509.ParseCertificate(b.Bytes); err == nil {
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}

func (s *session) smimeFlow() (*flow.SMIME, error) {
	return &flow.SMIME{LoadEngine: s.smimeEngine, Identities: s.smimeDecryptionIdentities}, nil
}

// smimeDecryptionIdentities unlocks every stored S/MIME private key.
func (s *session) smimeDecryptionIdentities() ([]smime.Identity, error) {
	infos, err := s.store.ListX509("")
	if err != nil {
		return nil, err
	}
	var ids []smime.Identity
	for _, in := range infos {
		if !in.HasSecret || in.CA {
			continue
		}
		id, err := s.smimeIdentity(in.Fingerprint)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *session) smimeIdentity(fpr string) (smime.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.x509IDs[fpr]; ok {
		return id, nil
	}
	cert, key, chain, err := s.store.X509Identity(fpr, s.pass.get)
	if err != nil {
		return smime.Identity{}, err
	}
	id := smime.Identity{Cert: cert, Key: key, Chain: chain}
	if s.x509IDs == nil {
		s.x509IDs = map[string]smime.Identity{}
	}
	s.x509IDs[fpr] = id
	return id, nil
}

// smimeSigner returns the identity to sign with: --signer, or the one
// certificate with a private key for the From address that can sign now.
func (s *session) smimeSigner(e *smime.Engine, m *mime.Message, query string) ([]smime.Identity, error) {
	if query != "" {
		cert, err := s.store.FindOneX509(query)
		if err != nil {
			return nil, err
		}
		id, err := s.smimeIdentity(smime.Fingerprint(cert))
		if err != nil {
			return nil, err
		}
		return []smime.Identity{id}, nil
	}
	from, err := senderAddress(m)
	if err != nil {
		return nil, err
	}
	certs, err := s.store.X509SecretsForEmail(from)
	if err != nil {
		return nil, err
	}
	now := s.policy.Time()
	var usable []*x509.Certificate
	for _, c := range certs {
		if !now.Before(c.NotBefore) && !now.After(c.NotAfter) {
			usable = append(usable, c)
		}
	}
	switch len(usable) {
	case 0:
		return nil, fmt.Errorf("no S/MIME certificate with a private key that is valid now for the sender %s (generate one, import your PKCS#12 file, or give --signer): %w", from, mailseal.ErrNoKey)
	case 1:
	default:
		var fprs []string
		for _, c := range usable {
			fprs = append(fprs, smime.Fingerprint(c))
		}
		return nil, usageErr("several S/MIME certificates for %s: %s; choose one with --signer", from, strings.Join(fprs, ", "))
	}
	id, err := s.smimeIdentity(smime.Fingerprint(usable[0]))
	if err != nil {
		return nil, err
	}
	if err := e.CheckSigner(id); err != nil {
		return nil, err
	}
	return []smime.Identity{id}, nil
}

// smimeRecipients finds a valid certificate for every recipient address
// (the newest that validates for encryption) and fails, naming each one
// without, before anything is written.
func (s *session) smimeRecipients(e *smime.Engine, m *mime.Message, extra []string, self bool) ([]*x509.Certificate, []string, error) {
	addrs, err := recipientAddresses(m, extra, self)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	var to []*x509.Certificate
	var missing, warnings []string
	reasons := map[string]string{}
	for _, addr := range addrs {
		c, w, reason, err := s.smimeRecipientCert(e, addr)
		if err != nil {
			return nil, nil, err
		}
		if c == nil {
			missing = append(missing, addr)
			reasons[addr] = reason
			continue
		}
		if fpr := smime.Fingerprint(c); !seen[fpr] {
			seen[fpr] = true
			to = append(to, c)
			warnings = append(warnings, w...)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		var why []string
		for _, a := range missing {
			if r := reasons[a]; r != "" {
				why = append(why, a+": "+r)
			}
		}
		msg := fmt.Sprintf("no valid S/MIME certificate for %s (import their certificate with mailseal keys import, and trust its CA with mailseal keys trust)", strings.Join(missing, ", "))
		if len(why) > 0 {
			msg += "; " + strings.Join(why, "; ")
		}
		return nil, nil, fmt.Errorf("%s: %w", msg, mailseal.ErrNoKey)
	}
	return to, warnings, nil
}

// smimeRecipientCert returns the newest stored certificate for addr that
// validates for encryption, with its warnings; nil and the reason the
// last candidate failed when there is none.
func (s *session) smimeRecipientCert(e *smime.Engine, addr string) (*x509.Certificate, []string, string, error) {
	certs, err := s.store.X509ForEmail(addr)
	if err != nil {
		return nil, nil, "", err
	}
	reason := ""
	for _, c := range certs {
		w, err := e.CheckRecipient(c, addr)
		if err != nil {
			reason = oneLine(err.Error())
			continue
		}
		return c, w, "", nil
	}
	return nil, nil, reason, nil
}

// smimeSignOptions reads --opaque, --hash, --pss, --skid.
func (s *session) smimeSignOptions() (smime.SignOptions, error) {
	opts := smime.SignOptions{Opaque: s.c.Bool("opaque"), PSS: s.c.Bool("pss"), SubjectKeyID: s.c.Bool("skid")}
	switch strings.ToLower(s.c.String("hash")) {
	case "":
	case "sha256", "sha-256":
		opts.Hash = crypto.SHA256
	case "sha384", "sha-384":
		opts.Hash = crypto.SHA384
	case "sha512", "sha-512":
		opts.Hash = crypto.SHA512
	default:
		return opts, usageErr("--hash %q: want sha256, sha384 or sha512", s.c.String("hash"))
	}
	return opts, nil
}

func (s *session) smimeEncryptOptions() (smime.EncryptOptions, error) {
	c, err := smime.ParseCipher(s.c.String("cipher"))
	if err != nil {
		return smime.EncryptOptions{}, err
	}
	return smime.EncryptOptions{Cipher: c, RSAOAEP: s.c.Bool("rsa-oaep")}, nil
}

// smimeSign is `sign --smime`.
func (s *session) smimeSign(m *mime.Message) error {
	e, err := s.smimeEngine()
	if err != nil {
		return err
	}
	opts, err := s.smimeSignOptions()
	if err != nil {
		return err
	}
	ids, err := s.smimeSigner(e, m, s.c.String("signer"))
	if err != nil {
		return err
	}
	sm := &flow.SMIME{Engine: e}
	return s.writeOutput(func(w io.Writer) error { return sm.Sign(w, m, ids, opts) })
}

// smimeEncrypt is `encrypt --smime`.
func (s *session) smimeEncrypt(m *mime.Message, output func(func(io.Writer) error) error) error {
	e, err := s.smimeEngine()
	if err != nil {
		return err
	}
	encOpts, err := s.smimeEncryptOptions()
	if err != nil {
		return err
	}
	signOpts, err := s.smimeSignOptions()
	if err != nil {
		return err
	}
	to, warnings, err := s.smimeRecipients(e, m, s.c.StringSlice("to"), !s.c.Bool("no-self"))
	if err != nil {
		return err
	}
	var ids []smime.Identity
	if s.c.Bool("sign") {
		if ids, err = s.smimeSigner(e, m, s.c.String("signer")); err != nil {
			return err
		}
	}
	for _, w := range dedupe(warnings) {
		fmt.Fprintf(s.c.App.ErrWriter, "warning: %s\n", w)
	}
	sm := &flow.SMIME{Engine: e}
	return output(func(w io.Writer) error { return sm.Encrypt(w, m, to, encOpts, ids, signOpts) })
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range list {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/dn"
	"github.com/mailseal/mailseal/internal/x509path"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// SessionOptions say how a Session judges and unlocks keys.
type SessionOptions struct {
	// Policy judges keys and certificates (validity at Policy.Time(),
	// algorithms); the zero Policy means mailseal.DefaultPolicy().
	Policy mailseal.Policy
	// Passphrase unlocks secret keys; nil leaves them locked (ErrLocked).
	Passphrase PassphraseFunc
	// SystemRoots adds the system's CA bundle to the keystore's own trust
	// anchors (keys trust) when an S/MIME certificate is validated.
	SystemRoots bool
	// RequireCRLs fails certificates that no CRL in the keystore (or the
	// message) covers, instead of warning.
	RequireCRLs bool
	// SMIMESign is how the S/MIME signers the session returns sign.
	SMIMESign smime.SignOptions
	// Locate, when set, makes RecipientKeys look up the OpenPGP key of an
	// address without a valid one (Store.Locate, the first method that
	// finds one), store it with its provenance, and answer with it;
	// Session.Located lists what was asked and found.
	Locate *SessionLocate
}

// A Session selects keys from the store for one run of work: recipients
// for addresses, the signer for a From address, the keys that verify and
// decrypt. It implements mailseal.KeyFinder, so mailseal.ChooseRecipients,
// ChooseSigner and PlanSend choose protocols with it. It asks for each
// secret key's passphrase once and keeps what it unlocked.
//
// It keeps what its look-ups found and validated until the keystore
// changes (see cache.go), so a batch looks up and validates each key once.
//
// A Session is safe for concurrent use, but the signers it returns are
// not (see pgp.Signer): goroutines that sign at once each need a Session
// of their own.
type Session struct {
	store *Store
	opts  SessionOptions
	cache keyCache

	locating sessionLocating

	mu         sync.Mutex
	pgpSigners map[string]*openpgp.Entity
	x509IDs    map[string]smime.Identity
}

// errZeroSession is what a Session not made by Store.Session answers.
var errZeroSession = fmt.Errorf("keystore: a zero Session has no keystore: make it with keystore.Open and Store.Session: %w", mailseal.ErrUsage)

// Session starts a session on the store.
func (s *Store) Session(opts SessionOptions) *Session {
	if opts.Policy == (mailseal.Policy{}) {
		opts.Policy = mailseal.DefaultPolicy()
	}
	return &Session{store: s, opts: opts}
}

// Trust is what S/MIME certificates are validated against: the anchors
// the user trusts (keys trust), the stored CRLs, as intermediates the
// stored certificates that may sign a certificate or a CRL (mayIssue: no
// other can be on a path, so a keystore of many people's certificates is
// not all parsed for it), the others as Known (read only for a message
// that names its signer's certificate without carrying it), and with
// SessionOptions.SystemRoots the system's CA bundle (read only when the
// keystore's anchors do not validate a certificate).
//
// Where a stored certificate that may not issue bears the name of a
// certificate's issuer, the path's error is that no path was found rather
// than that certificate's key usage (so a DANE-EE record may then apply
// to a recipient); the verdict is the same.
func (se *Session) Trust() (smime.Trust, error) {
	return cached(se, "trust", func() (smime.Trust, bool, error) {
		t, err := se.readTrust()
		return t, err == nil, err
	})
}

func (se *Session) readTrust() (smime.Trust, error) {
	roots, err := cached(se, "anchors", func() ([]*x509.Certificate, bool, error) {
		roots, err := se.store.TrustAnchors()
		return roots, err == nil, err
	})
	if err != nil {
		return smime.Trust{}, err
	}
	st, err := se.x509Certs()
	if err != nil {
		return smime.Trust{}, err
	}
	inter, err := intermediates(st, roots)
	if err != nil {
		return smime.Trust{}, err
	}
	crls, err := se.store.CRLs()
	if err != nil {
		return smime.Trust{}, err
	}
	t := smime.Trust{Roots: roots, Intermediates: inter, CRLs: crls, RequireCRLs: se.opts.RequireCRLs}
	// Of the same listing as the intermediates, read once: a Trust is
	// kept for as long as the keystore is unchanged, and a listing read
	// after a change must not be kept as the new keystore's. A failed
	// read is tried again at the next call.
	var knownMu sync.Mutex
	var known []*x509.Certificate
	read := false
	t.Known = func() ([]*x509.Certificate, error) {
		knownMu.Lock()
		defer knownMu.Unlock()
		if read {
			return known, nil
		}
		all, err := st.all()
		if err != nil {
			return nil, err
		}
		known, read = all, true
		return known, nil
	}
	if se.opts.SystemRoots {
		// The bundle holds well over a hundred certificates.
		t.SystemRoots = sync.OnceValue(systemRoots)
	}
	return t, nil
}

// Keys are the keys mailseal.Open verifies and decrypts with: every stored
// certificate, and every secret key, unlocked when a message needs it.
// What they find is kept while the keystore is unchanged; each Keys has
// its own secret keys (unlocked in place).
func (se *Session) Keys() mailseal.Keys {
	if se == nil || se.store == nil {
		// No keys: every signer unknown, nothing decrypts; Trust and the
		// identities say why.
		return mailseal.Keys{
			SMIMETrust:      func() (smime.Trust, error) { return smime.Trust{}, errZeroSession },
			SMIMEIdentities: func() ([]smime.Identity, error) { return nil, errZeroSession },
		}
	}
	kr := se.store.PGPKeyring(se.opts.Passphrase)
	certs := &keyIDFinder{se: se}
	kr.Certs, kr.Secrets = certs, &keyIDFinder{se: se, secret: true, certs: certs}
	return mailseal.Keys{
		OpenPGP:         kr,
		SMIMETrust:      se.Trust,
		SMIMEIdentities: se.decryptionIdentities,
	}
}

// decryptionIdentities unlocks every stored S/MIME private key of a
// person's certificate (not that of a CA that issues others). Only the
// certificates whose keys are stored are parsed (the index's KEYID).
func (se *Session) decryptionIdentities() ([]smime.Identity, error) {
	return cached(se, "identities", func() ([]smime.Identity, bool, error) {
		ids, err := se.readDecryptionIdentities()
		return ids, err == nil, err
	})
}

func (se *Session) readDecryptionIdentities() ([]smime.Identity, error) {
	st, err := se.x509Certs()
	if err != nil {
		return nil, err
	}
	keys, err := se.store.x509KeyIDs()
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w", err)
	}
	withKey := make(map[string]bool, len(keys))
	for _, id := range keys {
		withKey[id] = true
	}
	certs, err := st.withKeys(withKey)
	if err != nil {
		return nil, err
	}
	var ids []smime.Identity
	for _, c := range certs {
		if !personalCert(c) {
			continue
		}
		id, err := se.identity(CertFingerprint(c))
		if errors.Is(err, mailseal.ErrNoKey) {
			continue // deleted since the certificates were listed
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// RecipientKeys returns the keys of protocol to encrypt to addr: for
// OpenPGP every stored certificate with a valid user ID bound to addr and
// a valid encryption key; for S/MIME the newest stored certificate for
// addr that validates for encryption. With none, refused says why the last
// candidate failed (a revoked or expired key, an invalid certificate).
func (se *Session) RecipientKeys(protocol, addr string) ([]mailseal.Recipient, string, error) {
	r, err := cached(se, "recipients\x00"+protocol+"\x00"+addr, func() (recipientsResult, bool, error) {
		keys, refused, err := se.recipientKeys(protocol, addr)
		return recipientsResult{keys, refused}, err == nil, err
	})
	if err == nil && len(r.keys) == 0 && se.opts.Locate != nil {
		return se.locateRecipient(protocol, addr, r.refused)
	}
	return r.keys, r.refused, err
}

// x509Certs is Store.storedCertificates kept like the session's other
// look-ups: x509/certs listed (each file's tag checked, a system call per
// file) once for the recipient, the signer, its chain and the trust of a
// message, and again when the keystore's stamp changes. Like them it sees
// a certificate rewritten in place only when the stamp next changes or
// the entry expires (cacheTTL).
func (se *Session) x509Certs() (*storedCerts, error) {
	return cached(se, "x509 certs", func() (*storedCerts, bool, error) {
		st, err := se.store.storedCertificates()
		return st, err == nil, err
	})
}

// pgpForAddress is Store.PGPForAddress with the key index kept like the
// session's other look-ups: read once for the recipients and the signer
// of a message (each read checks every certificate file's tag, a system
// call per file), and again when the keystore's stamp changes. Like them
// it sees a certificate rewritten in place (no directory's time changed)
// only when the stamp next changes or the entry expires (cacheTTL).
func (se *Session) pgpForAddress(addr string) ([]*openpgp.Entity, error) {
	byAddr, err := cached(se, "key index", func() (map[string][]string, bool, error) {
		// One the index could not yet save (a change within the last
		// seconds) is read again at the next look-up.
		_, byAddr, settled := se.store.keyIndex()
		return byAddr, settled, nil
	})
	if err != nil {
		return nil, err
	}
	return se.store.pgpForAddress(byAddr, addr)
}

func (se *Session) recipientKeys(protocol, addr string) ([]mailseal.Recipient, string, error) {
	switch protocol {
	case mailseal.ProtocolOpenPGP:
		certs, err := se.pgpForAddress(addr)
		if err != nil && !errors.Is(err, mailseal.ErrNoKey) {
			return nil, "", err
		}
		engine := pgp.New(se.opts.Policy)
		var out []mailseal.Recipient
		refused := ""
		for _, cert := range certs {
			if err := engine.CheckRecipient(cert); err != nil {
				// "pgp: cannot encrypt to FPR: key FPR is revoked (...)"
				refused = strings.TrimSuffix(strings.TrimPrefix(err.Error(), "pgp: "), ": "+mailseal.ErrNoKey.Error())
				continue
			}
			out = append(out, pgp.Recipient{Entity: cert})
		}
		if len(out) > 0 {
			refused = ""
		}
		return out, refused, nil
	case mailseal.ProtocolSMIME:
		trust, err := se.Trust()
		if err != nil {
			return nil, "", err
		}
		e := smime.New(se.opts.Policy)
		certs, err := se.store.x509ForEmail(addr, se.x509Certs)
		if err != nil {
			return nil, "", err
		}
		refused := ""
		for _, c := range certs {
			w, err := e.CheckRecipient(c, addr, trust)
			if err != nil {
				w2, ok, daneErr := se.daneEE(e, trust, c, addr, err)
				if ok {
					return []mailseal.Recipient{smime.Recipient{Cert: c, Warnings: w2}}, "", nil
				}
				if daneErr != nil {
					err = daneErr
				}
				refused = strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
				continue
			}
			return []mailseal.Recipient{smime.Recipient{Cert: c, Warnings: w}}, "", nil
		}
		return nil, refused, nil
	}
	return nil, "", unknownProtocol(protocol)
}

// daneEE judges c, for which CheckRecipient failed with pathErr, as the
// DANE-EE certificate of addr. Only when no path to a trust anchor was
// found at all (smime.ErrNoPath: not when a CA's path was found and c
// failed it, as a revoked certificate does), c is an end-entity
// certificate (x509path.EndEntity: neither cA nor keyCertSign), and it
// came in an SMIMEA record of usage 3 for addr that a validating resolver
// vouched for (Provenance.DANEEE), is it
// its own trust anchor for this one check, which still holds it to
// everything else (valid now, a key usage for encryption, emailProtection,
// bound to addr, the policy's key sizes), and only for DANEEEMaxAge after
// DNSSEC last confirmed the record. The warning says so. When the
// record applies and c still fails, the error says why (it, not "no path",
// is the reason to show).
func (se *Session) daneEE(e *smime.Engine, trust smime.Trust, c *x509.Certificate, addr string, pathErr error) ([]string, bool, error) {
	if !errors.Is(pathErr, smime.ErrNoPath) || !x509path.EndEntity(c) {
		return nil, false, nil
	}
	p, err := se.store.X509Provenance(CertFingerprint(c))
	if err != nil || !p.DANEEE(addr) {
		return nil, false, nil
	}
	if fresh, confirmed := p.DANEEEFresh(se.opts.Policy.Time()); !fresh {
		again := fmt.Sprintf("look it up again (keys locate --import --methods smimea --resolver 127.0.0.1 --resolver-validates %s, or encrypt/send --locate with the same resolver flags)", addr)
		if confirmed.After(se.opts.Policy.Time()) {
			return nil, false, fmt.Errorf("certificate %s of %s: its SMIMEA record (DANE-EE) was confirmed at %s, which is in the future (a clock was wrong): %s",
				CertFingerprint(c), addr, confirmed.Format(time.RFC3339), again)
		}
		return nil, false, fmt.Errorf("certificate %s of %s: its SMIMEA record (DANE-EE) was last confirmed by DNSSEC at %s, more than %d days ago: %s",
			CertFingerprint(c), addr, confirmed.Format(time.RFC3339), int(DANEEEMaxAge.Hours()/24), again)
	}
	trust.Roots = append(trust.Roots[:len(trust.Roots):len(trust.Roots)], c)
	w, err := e.CheckRecipient(c, addr, trust)
	if err != nil {
		return nil, false, err
	}
	return append(w, fmt.Sprintf("certificate %s of %s is trusted by its DNSSEC-validated SMIMEA record (DANE-EE, %s), not by a CA",
		CertFingerprint(c), addr, p.URL)), true, nil
}

func unknownProtocol(p string) error {
	return fmt.Errorf("unknown protocol %q (openpgp or smime): %w", p, mailseal.ErrUsage)
}

// HasSigner reports whether from has a stored secret key of protocol
// (OpenPGP) or certificate with a private key (S/MIME).
func (se *Session) HasSigner(protocol, from string) (bool, error) {
	return cached(se, "has-signer\x00"+protocol+"\x00"+from, func() (bool, bool, error) {
		ok, err := se.hasSigner(protocol, from)
		return ok, err == nil, err
	})
}

func (se *Session) hasSigner(protocol, from string) (bool, error) {
	switch protocol {
	case mailseal.ProtocolOpenPGP:
		keys, err := se.store.withSecrets(se.pgpForAddress(from))
		return err == nil && len(keys) > 0, nil
	case mailseal.ProtocolSMIME:
		certs, err := se.store.x509SecretsForEmail(from, se.x509Certs)
		return err == nil && len(certs) > 0, nil
	}
	return false, unknownProtocol(protocol)
}

// Signer returns the unlocked key of protocol that signs as from: the one
// secret OpenPGP key bound to from, or the one certificate for from with a
// private key that is valid now (and can sign), not revoked, and not
// renewed by a newer one of the same subject and issuer. None wraps
// ErrNoKey; several are a usage error naming their fingerprints.
func (se *Session) Signer(protocol, from string) (mailseal.Signer, error) {
	return cached(se, "signer\x00"+protocol+"\x00"+from, func() (mailseal.Signer, bool, error) {
		s, err := se.signer(protocol, from)
		return s, err == nil, err
	})
}

func (se *Session) signer(protocol, from string) (mailseal.Signer, error) {
	switch protocol {
	case mailseal.ProtocolOpenPGP:
		keys, err := se.store.withSecrets(se.pgpForAddress(from))
		if err != nil {
			return nil, err
		}
		switch len(keys) {
		case 0:
			return nil, fmt.Errorf("no secret key for the sender %s (generate or import one, or give --signer): %w", from, mailseal.ErrNoKey)
		case 1:
			return se.pgpSigner(pgp.Fingerprint(keys[0].PrimaryKey))
		}
		var fprs []string
		for _, k := range keys {
			fprs = append(fprs, pgp.Fingerprint(k.PrimaryKey))
		}
		return nil, fmt.Errorf("several secret keys for %s: %s; choose one with --signer: %w", from, strings.Join(fprs, ", "), mailseal.ErrUsage)
	case mailseal.ProtocolSMIME:
		certs, err := se.store.x509SecretsForEmail(from, se.x509Certs)
		if err != nil {
			return nil, err
		}
		now := se.opts.Policy.Time()
		var usable []*x509.Certificate
		for _, c := range certs {
			if !now.Before(c.NotBefore) && !now.After(c.NotAfter) && !renewed(c, usable) {
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
			return nil, fmt.Errorf("several S/MIME certificates for %s: %s; choose one with --signer: %w", from, strings.Join(fprs, ", "), mailseal.ErrUsage)
		}
		id, err := se.identity(smime.Fingerprint(usable[0]))
		if err != nil {
			return nil, err
		}
		if err := smime.New(se.opts.Policy).CheckSigner(id); err != nil {
			return nil, err
		}
		return smime.Signer{Identity: id, Options: se.opts.SMIMESign}, nil
	}
	return nil, unknownProtocol(protocol)
}

// renewed reports whether one of newer (certificates newer than c) renews
// c: the same subject from the same issuer (see X509Options.Renew).
func renewed(c *x509.Certificate, newer []*x509.Certificate) bool {
	for _, n := range newer {
		if bytes.Equal(n.RawSubject, c.RawSubject) && bytes.Equal(n.RawIssuer, c.RawIssuer) {
			return true
		}
	}
	return false
}

// SignerMatching returns the unlocked key that matches query (a
// fingerprint, key ID, address or name, as keys list takes): of protocol,
// or with protocol "" of whichever kind matches (a usage error when both
// do).
func (se *Session) SignerMatching(query, protocol string) (mailseal.Signer, error) {
	return cached(se, "signer-matching\x00"+protocol+"\x00"+query, func() (mailseal.Signer, bool, error) {
		s, err := se.signerMatching(query, protocol)
		return s, err == nil, err
	})
}

func (se *Session) signerMatching(query, protocol string) (mailseal.Signer, error) {
	if protocol == "" {
		var err error
		if protocol, err = se.store.QueryProtocol(query); err != nil {
			return nil, err
		}
	}
	switch protocol {
	case mailseal.ProtocolOpenPGP:
		cert, err := se.store.FindOnePGP(query)
		if err != nil {
			return nil, err
		}
		return se.pgpSigner(pgp.Fingerprint(cert.PrimaryKey))
	case mailseal.ProtocolSMIME:
		cert, err := se.store.findOneX509(query, se.x509Certs)
		if err != nil {
			return nil, err
		}
		id, err := se.identity(smime.Fingerprint(cert))
		if err != nil {
			return nil, err
		}
		return smime.Signer{Identity: id, Options: se.opts.SMIMESign}, nil
	}
	return nil, unknownProtocol(protocol)
}

// QueryProtocol says which kind of key query names: ProtocolOpenPGP or
// ProtocolSMIME; a usage error when it matches both, ErrNoKey when none.
func (s *Store) QueryProtocol(query string) (string, error) {
	pgpKeys, err := s.FindPGP(query)
	if err != nil && !errors.Is(err, mailseal.ErrNoKey) {
		return "", err
	}
	certs, err := s.FindX509(query)
	if err != nil && !errors.Is(err, mailseal.ErrNoKey) {
		return "", err
	}
	switch {
	case len(pgpKeys) > 0 && len(certs) > 0:
		var names []string
		for _, e := range pgpKeys {
			names = append(names, "OpenPGP "+pgp.Fingerprint(e.PrimaryKey)+" "+primaryUID(e))
		}
		for _, c := range certs {
			names = append(names, "X.509 "+CertFingerprint(c)+" "+dn.String(c.Subject))
		}
		return "", fmt.Errorf("%q matches OpenPGP keys and X.509 certificates: %s; add --pgp or --smime: %w",
			query, strings.Join(names, "; "), mailseal.ErrUsage)
	case len(certs) > 0:
		return mailseal.ProtocolSMIME, nil
	case len(pgpKeys) > 0:
		return mailseal.ProtocolOpenPGP, nil
	}
	return "", fmt.Errorf("no key or certificate matches %q: %w", query, mailseal.ErrNoKey)
}

// pgpSigner unlocks the secret key fpr, once per session.
func (se *Session) pgpSigner(fpr string) (mailseal.Signer, error) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if key, ok := se.pgpSigners[fpr]; ok {
		return pgp.Signer{Entity: key}, nil
	}
	key, err := se.store.PGPSecret(fpr)
	if err != nil {
		return nil, err
	}
	if err := Unlock(key, se.opts.Passphrase); err != nil {
		return nil, err
	}
	if se.pgpSigners == nil {
		se.pgpSigners = map[string]*openpgp.Entity{}
	}
	se.pgpSigners[fpr] = key
	return pgp.Signer{Entity: key}, nil
}

// identity unlocks the S/MIME private key of certificate fpr, once per
// session.
func (se *Session) identity(fpr string) (smime.Identity, error) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if id, ok := se.x509IDs[fpr]; ok {
		return id, nil
	}
	cert, key, chain, err := se.store.x509Identity(fpr, se.opts.Passphrase, se.x509Certs)
	if err != nil {
		return smime.Identity{}, err
	}
	id := smime.Identity{Cert: cert, Key: key, Chain: chain}
	if se.x509IDs == nil {
		se.x509IDs = map[string]smime.Identity{}
	}
	se.x509IDs[fpr] = id
	return id, nil
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

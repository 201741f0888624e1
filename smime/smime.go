// Package smime is mailseal's S/MIME 4.0 engine (RFC 8551): it signs,
// verifies, encrypts and decrypts message bodies as CMS (RFC 5652), and
// judges every signer and recipient by RFC 5280 path validation to the
// user's trust anchors with the RFC 8550 rules (key usage,
// emailProtection, the addresses a certificate is bound to). It works on
// bodies (io.Reader in, io.Writer out): the root package mailseal finds
// the S/MIME parts of a message, builds the MIME structure around what this
// package produces and applies the message-level rules. Use this package
// directly for CMS data that is not mail, or to bring certificates to
// mailseal from elsewhere (Recipient, Signer).
//
// # Use
//
// New(policy) gives an Engine (New(core.Policy{}), like a zero Engine,
// applies core.DefaultPolicy()), as pgp.New does. An Engine is a policy
// only: the keys and the Trust (anchors, intermediates, CRLs) are given
// per call, so one Engine serves any number of keystores, and a zero
// Trust trusts no one. Per call:
//
//   - Sign(w, identities, opts) returns a writer for the content; Close
//     writes the detached signature (or, with Opaque, the signed-data);
//     VerifyDetached(content, sig, trust) and VerifyOpaque(r, trust)
//     check them;
//   - Encrypt(w, certificates, opts) returns a writer for the content
//     (AES-256-GCM AuthEnvelopedData by default); Decrypt(r, identities)
//     returns the content once its integrity is verified;
//   - CheckRecipient(certificate, addr, trust) says whether a certificate
//     can be encrypted to now, CheckSigner(identity) whether an identity
//     can sign now (that needs no trust: the recipient judges it).
//
// Results are per-signature core.Signature values with the chain, and
// warnings (revocation status unknown); a signature that does not verify
// is a result, not an error. Errors wrap core's kinds for core.ExitCode.
//
// # Safety
//
//   - certificates carried in a message are only ever candidates for
//     intermediates; trust comes from the Trust given to the call, its
//     Roots (and SystemRoots);
//   - decrypted content is withheld until the GCM tag is checked; CBC
//     content (EnvelopedData, no integrity) is reported as Integrity "none"
//     so that the caller can refuse it (mailseal.Open does, unless a good
//     signature covers it);
//   - every decryption failure is the same integrity error (no oracle);
//   - weak hashes and keys are refused (core.SignerRefused);
//   - signing, encryption and decryption stream.
package smime

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/cms"
	"github.com/mailseal/mailseal/internal/dn"
	"github.com/mailseal/mailseal/internal/sigalg"
	"github.com/mailseal/mailseal/internal/upperhex"
	"github.com/mailseal/mailseal/internal/x509path"
	"github.com/mailseal/mailseal/mime"
)

// Engine is the S/MIME engine for one policy. It holds no mutable state
// and is safe for concurrent use; what signers and recipients are judged
// against is the Trust given to each call. A zero Engine is usable: it
// applies core.DefaultPolicy(), as New(core.Policy{}) does.
type Engine struct {
	policy core.Policy
	// conformance turns off the S/MIME end-entity checks (key usage,
	// emailProtection) for the NIST PKITS messages, whose certificates
	// predate them. Set only by this package's tests.
	conformance bool
}

// New returns an engine applying p. Zero fields of p mean their defaults
// (core.Policy.WithDefaults), so New(core.Policy{}) applies
// core.DefaultPolicy().
func New(p core.Policy) *Engine {
	return &Engine{policy: p.WithDefaults()}
}

// Policy returns the policy the engine applies (with defaults filled in,
// also for a zero Engine). Every use of the policy goes through it.
func (e *Engine) Policy() core.Policy { return e.policy.WithDefaults() }

// Trust is what signers and recipients are judged against, given to each
// call that judges a certificate (VerifyDetached, VerifyOpaque,
// CheckRecipient). The zero Trust trusts no one: every signer is
// untrusted (or unknown) and no recipient valid until Roots or
// SystemRoots give an anchor.
type Trust struct {
	// Roots are the trust anchors (the keystore's trusted certificates).
	Roots []*x509.Certificate
	// SystemRoots, if set, gives more trust anchors (the system's CA
	// bundle, costly to parse), asked for only when a certificate has no
	// valid path to Roots alone; it is then judged against both.
	SystemRoots func() []*x509.Certificate
	// Intermediates are other known certificates that may complete a path
	// (the keystore's), and signers' certificates a message may name
	// without carrying them. Certificates in a message are added per
	// message.
	Intermediates []*x509.Certificate
	// Known, if set, gives more certificates a message may name as its
	// signer's without carrying it (every certificate a keystore holds,
	// costly to read), asked for only when a signer's certificate is
	// neither in the message nor among Intermediates and Roots. They
	// complete no path.
	Known func() ([]*x509.Certificate, error)
	// CRLs are the known revocation lists; those in a message are added.
	CRLs []*x509.RevocationList
	// RequireCRLs fails a certificate no valid CRL covers. Off, such a
	// certificate is accepted with a warning (as mail clients do without
	// CRLs); a certificate a valid CRL lists as revoked fails either way.
	RequireCRLs bool
}

// Identity is a certificate with its private key, and the intermediates to
// send with signatures.
type Identity struct {
	Cert  *x509.Certificate
	Key   crypto.PrivateKey
	Chain []*x509.Certificate
}

// Fingerprint names a certificate everywhere in mailseal: the SHA-256 of its
// DER encoding, upper-case hex.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return upperhex.Encode(sum[:])
}

// pathOptions are the x509path options for this engine, trust and purpose.
func (e *Engine) pathOptions(trust Trust, purpose x509path.Purpose, extraCerts []*x509.Certificate, extraCRLs []*x509.RevocationList) x509path.Options {
	return x509path.Options{
		Roots:            trust.Roots,
		Intermediates:    append(append([]*x509.Certificate(nil), trust.Intermediates...), extraCerts...),
		CRLs:             append(append([]*x509.RevocationList(nil), trust.CRLs...), extraCRLs...),
		Time:             e.Policy().Time(),
		AllowSHA1:        e.Policy().AllowSHA1,
		AcceptSHA1Before: e.Policy().AcceptSHA1Before,
		MinRSABits:       e.Policy().MinRSABits,
		Purpose:          purpose,
		CRLsOptional:     !trust.RequireCRLs,
		SkipSMIMEChecks:  e.conformance,
	}
}

// verifyPath validates c against the trust's Roots and, only if that
// fails, against Roots and SystemRoots.
func verifyPath(trust Trust, c *x509.Certificate, opts x509path.Options) (*x509path.Result, error) {
	res, err := x509path.VerifyResult(c, opts)
	if err == nil || trust.SystemRoots == nil {
		return res, err
	}
	more := trust.SystemRoots()
	if len(more) == 0 {
		return res, err
	}
	opts.Roots = append(append([]*x509.Certificate(nil), opts.Roots...), more...)
	return x509path.VerifyResult(c, opts)
}

// ErrNoPath matches the error of CheckRecipient (and of a signer's path)
// when no path from the certificate to a trust anchor was found at all:
// not when a path was found and the certificate failed it (revoked, a key
// the policy refuses, a broken signature). A caller with another reason to
// trust the certificate (DANE-EE) may go on only in that case.
var ErrNoPath = x509path.ErrNoPath

// CheckRecipient reports whether c is a valid certificate to encrypt to for
// addr (empty: any address): it chains to a trust anchor, is valid now,
// allows key encipherment or agreement for its key type, has
// emailProtection if it has an EKU (as must every CA certificate of its
// path), and is bound to addr. The anchors are trust's; a zero Trust
// accepts no recipient. Warnings say what was accepted without proof
// (revocation status unknown).
func (e *Engine) CheckRecipient(c *x509.Certificate, addr string, trust Trust) ([]string, error) {
	opts := e.pathOptions(trust, x509path.Encryption, nil, nil)
	opts.Email = addr
	res, err := verifyPath(trust, c, opts)
	if err != nil {
		return nil, fmt.Errorf("smime: recipient certificate %s: %w", Fingerprint(c), err)
	}
	return res.Warnings, nil
}

// CheckSigner reports whether id can sign now: a private key that signs
// and matches the certificate, a certificate inside its validity period
// whose key usage allows signing. It does not need a trust anchor: the
// recipient judges that.
func (e *Engine) CheckSigner(id Identity) error {
	if id.Cert == nil {
		return fmt.Errorf("smime: sign: no certificate: %w", core.ErrNoKey)
	}
	signer, ok := id.Key.(crypto.Signer)
	if !ok {
		return fmt.Errorf("smime: sign: the key of %s cannot sign: %w", Fingerprint(id.Cert), core.ErrNoKey)
	}
	if !publicKeyEqual(signer.Public(), id.Cert.PublicKey) {
		return fmt.Errorf("smime: sign: the private key does not belong to certificate %s: %w", Fingerprint(id.Cert), core.ErrNoKey)
	}
	now := e.Policy().Time()
	if now.Before(id.Cert.NotBefore) || now.After(id.Cert.NotAfter) {
		return fmt.Errorf("smime: sign: certificate %s is not valid now (valid %s to %s): %w", Fingerprint(id.Cert),
			id.Cert.NotBefore.UTC().Format("2006-01-02"), id.Cert.NotAfter.UTC().Format("2006-01-02"), core.ErrNoKey)
	}
	if id.Cert.KeyUsage != 0 && id.Cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return fmt.Errorf("smime: sign: certificate %s does not allow signing (key usage): %w", Fingerprint(id.Cert), core.ErrNoKey)
	}
	if pub, ok := id.Cert.PublicKey.(*rsa.PublicKey); ok && pub.N.BitLen() < e.Policy().MinRSABits {
		return fmt.Errorf("smime: sign: the RSA key of %s has %d bits, fewer than %d: %w", Fingerprint(id.Cert), pub.N.BitLen(), e.Policy().MinRSABits, core.ErrNoKey)
	}
	return nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if ea, ok := a.(equaler); ok {
		return ea.Equal(b)
	}
	return false
}

// SignOptions choose how Sign signs.
type SignOptions struct {
	Hash         crypto.Hash // SHA-256 (default), SHA-384 or SHA-512
	PSS          bool        // RSASSA-PSS for RSA keys
	SubjectKeyID bool        // identify the signer by subjectKeyIdentifier
	Opaque       bool        // encapsulate the content (signed-data) instead of a detached signature
}

// hash is the digest algorithm for signing with ids: o.Hash, or by default
// SHA-512 when an Ed25519 key signs (RFC 8419) and SHA-256 otherwise.
func (o SignOptions) hash(ids []Identity) crypto.Hash {
	if o.Hash != 0 {
		return o.Hash
	}
	for _, id := range ids {
		if _, ok := id.Key.(ed25519.PrivateKey); ok {
			return crypto.SHA512
		}
	}
	return crypto.SHA256
}

// Micalg is the micalg parameter of multipart/signed when ids sign.
func (o SignOptions) Micalg(ids []Identity) string { return cms.Micalg(o.hash(ids)) }

// MicalgHashes are the hashes the micalg parameter of a multipart/signed
// names (SHA-256 when it names none known): what a signature over the
// signed part will most likely need.
func MicalgHashes(micalg string) []crypto.Hash { return cms.MicalgHashes(micalg) }

// Sign returns a writer for the content to sign. With Opaque, the
// signed-data ContentInfo streams to w as the content is written; else the
// detached signature (DER) is written to w on Close.
func (e *Engine) Sign(w io.Writer, ids []Identity, opts SignOptions) (io.WriteCloser, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("smime: sign: no signer: %w", core.ErrNoKey)
	}
	h := opts.hash(ids)
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return nil, fmt.Errorf("smime: sign: hash %v is not offered (SHA-256, SHA-384, SHA-512): %w", opts.Hash, core.ErrUsage)
	}
	signers := make([]cms.Signer, 0, len(ids))
	for _, id := range ids {
		if err := e.CheckSigner(id); err != nil {
			return nil, err
		}
		if _, ok := id.Key.(ed25519.PrivateKey); ok && opts.PSS {
			return nil, fmt.Errorf("smime: sign: RSA-PSS was asked for an Ed25519 key: %w", core.ErrUsage)
		}
		signers = append(signers, cms.Signer{Cert: id.Cert, Key: id.Key.(crypto.Signer), Chain: id.Chain})
	}
	sw, err := cms.Sign(w, signers, cms.SignOptions{Hash: h, PSS: opts.PSS, SubjectKeyID: opts.SubjectKeyID,
		SigningTime: e.Policy().Time(), Detached: !opts.Opaque})
	if err != nil {
		return nil, fmt.Errorf("smime: sign: %w", err)
	}
	return sw, nil
}

// VerifyDetached checks a detached signature (the DER or BER body of an
// application/pkcs7-signature part) over content, the exact signed bytes;
// signers are judged against trust (a zero Trust: none is good). It
// returns one Signer per SignerInfo (none: the message is unsigned) and
// warnings; a bad signature is a Signer with status bad, not an error.
// If content has a method Digest(crypto.Hash) ([]byte, bool) that gives
// the digests the signers need (as a part hashed during the MIME parse
// does, see mime.HashSignedPart), content is not read. Its argument order
// and results are those of pgp.Engine.VerifyDetached, whose keys are the
// certificates that may have signed.
func (e *Engine) VerifyDetached(content, sig io.Reader, trust Trust) ([]core.Signature, []string, error) {
	d, err := e.ParseDetached(sig)
	if err != nil {
		return nil, nil, err
	}
	return d.Verify(content, trust)
}

// DetachedSignature is a detached signature that was read, to be checked
// over its content: VerifyDetached in two steps, so that every error in
// the signature shows before the content is looked at (e.g. before
// decrypted output is written beside the check).
type DetachedSignature struct {
	e *Engine
	d *cms.Detached
}

// ParseDetached reads a detached signature (DER or BER).
func (e *Engine) ParseDetached(sig io.Reader) (*DetachedSignature, error) {
	d, err := cms.ParseDetached(sig)
	if err != nil {
		return nil, fmt.Errorf("smime: verify: %w", err)
	}
	return &DetachedSignature{e, d}, nil
}

// Verify checks the signature over content and judges its signers against
// trust, as VerifyDetached does; the only errors left are those of
// reading content.
func (d *DetachedSignature) Verify(content io.Reader, trust Trust) ([]core.Signature, []string, error) {
	s, err := d.d.Verify(content, d.e.verifyOptions(trust))
	if err != nil {
		return nil, nil, fmt.Errorf("smime: verify: %w", err)
	}
	defer s.Close()
	signers, warnings := d.e.judge(s, trust)
	return signers, warnings, nil
}

// Verified is an opaque signed-data message after verification.
type Verified struct {
	Signers  []core.Signature
	Warnings []string
	// Content is the encapsulated content, read only after every signature
	// was checked. Close discards it.
	Content io.Reader
	signed  *cms.Signed
}

// Close releases the spooled content.
func (v *Verified) Close() error { return v.signed.Close() }

// VerifyOpaque reads an application/pkcs7-mime signed-data body and
// judges its signers against trust, as VerifyDetached does.
func (e *Engine) VerifyOpaque(r io.Reader, trust Trust) (*Verified, error) {
	s, err := cms.VerifyOpaque(r, e.verifyOptions(trust))
	if err != nil {
		return nil, fmt.Errorf("smime: verify: %w", err)
	}
	signers, warnings := e.judge(s, trust)
	return &Verified{Signers: signers, Warnings: warnings, Content: s.Content, signed: s}, nil
}

// verifyOptions are the CMS options: the trust's certificates may be the
// signers'.
func (e *Engine) verifyOptions(trust Trust) cms.VerifyOptions {
	known := append(append([]*x509.Certificate(nil), trust.Intermediates...), trust.Roots...)
	return cms.VerifyOptions{AllowSHA1: e.Policy().AllowSHA1, AcceptSHA1Before: e.Policy().AcceptSHA1Before, Certificates: known, MoreCertificates: trust.Known, MemLimit: e.Policy().MaxMemorySpool}
}

// judge turns the CMS results into signers: a signature that verifies is
// good only if its certificate validates for signing to trust's anchors at
// the policy time (certificates from the message serve as intermediates
// only).
func (e *Engine) judge(s *cms.Signed, trust Trust) ([]core.Signature, []string) {
	var warnings []string
	out := make([]core.Signature, 0, len(s.Signers))
	for _, r := range s.Signers {
		sg := core.Signature{Created: r.SigningTime, Emails: []string{}}
		if r.Hash != 0 {
			sg.Hash = core.HashName(r.Hash)
		}
		switch {
		case r.Cert == nil:
			sg.Status = core.SignerUnknown
			sg.Error = "the signer's certificate is neither in the message nor in the keystore"
			if r.Err != nil {
				sg.Error = oneLine(r.Err)
			}
			out = append(out, sg)
			continue
		}
		sg.Fingerprint = Fingerprint(r.Cert)
		if cn := strings.TrimSpace(r.Cert.Subject.CommonName); cn != "" && !strings.Contains(cn, "@") {
			sg.Names = []string{cn}
		}
		if emails := x509path.Emails(r.Cert); emails != nil {
			sg.Emails = emails
		}
		inherited := errors.Is(r.Err, cms.ErrKeyParametersInherited)
		if r.Err != nil && !inherited {
			sg.Status = core.SignerBad
			if errors.Is(r.Err, sigalg.ErrRefused) {
				sg.Status = core.SignerRefused
			}
			sg.Error = oneLine(r.Err)
			out = append(out, sg)
			continue
		}
		res, err := verifyPath(trust, r.Cert, e.pathOptions(trust, x509path.Signing, s.Certificates, s.CRLs))
		if err == nil && inherited {
			// The key is complete only with the parameters from the path.
			if verr := r.VerifyWithKey(res.LeafKey); verr != nil {
				sg.Status = core.SignerBad
				sg.Error = oneLine(verr)
				out = append(out, sg)
				continue
			}
		}
		if !inherited || err == nil { // the signature verified: its time counts
			if terr := e.checkSigningTime(r.SigningTime, r.Cert); terr != nil {
				sg.Status = core.SignerBad
				sg.Error = oneLine(terr)
				out = append(out, sg)
				continue
			}
		}
		if err == nil && r.SigningTime.After(r.Cert.NotAfter) {
			// Possible only within the clock skew: later, the path fails.
			err = fmt.Errorf("the signature claims to be made at %s, after its certificate expired (%s)",
				r.SigningTime.UTC().Format(time.RFC3339), r.Cert.NotAfter.UTC().Format(time.RFC3339))
		}
		if err != nil {
			sg.Status = core.SignerUntrusted
			if errors.Is(err, sigalg.ErrRefused) {
				sg.Status = core.SignerRefused // a weak hash or key in the chain
			}
			sg.Error = oneLine(err)
			sg.Chain = []string{dn.String(r.Cert.Subject)}
			out = append(out, sg)
			continue
		}
		for _, c := range res.Chain {
			sg.Chain = append(sg.Chain, dn.String(c.Subject))
		}
		for _, w := range res.Warnings {
			warnings = append(warnings, "signer "+sg.Fingerprint+": "+w)
		}
		sg.Status = core.SignerGood
		sg.Valid = true
		out = append(out, sg)
	}
	if s.CarriedContent {
		warnings = append(warnings, "the detached signature carries content of its own as well: its signatures were checked over the signed part, not over that content")
	}
	return out, warnings
}

// checkSigningTime returns why a signature's signingTime (zero: the
// attribute is absent) makes it bad: later than the verification time
// (core.CheckCreated, as for OpenPGP), or before its certificate was
// valid, as an OpenPGP signature older than its key is. A signingTime
// after the certificate expired makes the signer untrusted instead (judge),
// as an OpenPGP signature made after its key expired does.
func (e *Engine) checkSigningTime(t time.Time, cert *x509.Certificate) error {
	if t.IsZero() {
		return nil
	}
	if err := core.CheckCreated(t, e.Policy().Time()); err != nil {
		return err
	}
	if t.Before(cert.NotBefore.Add(-core.MaxClockSkew)) {
		return fmt.Errorf("the signature claims to be made at %s, before its certificate was valid (from %s)",
			t.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// Cipher is a content-encryption algorithm. The zero Cipher is
// AES-256-GCM, the default.
type Cipher int

const (
	// AES256GCM is AES-256 in GCM mode, in AuthEnvelopedData (RFC 5083):
	// the content is protected against alteration.
	AES256GCM Cipher = iota
	// AES128GCM is AES-128 in GCM mode, in AuthEnvelopedData.
	AES128GCM
	// AES256CBC is AES-256-CBC in EnvelopedData: no integrity protection
	// (EFAIL), for recipients that cannot read AuthEnvelopedData.
	AES256CBC
	// AES128CBC is AES-128-CBC in EnvelopedData, as AES256CBC.
	AES128CBC
)

// cipherNames are the names ParseCipher takes and String gives.
var cipherNames = []struct {
	name string
	c    Cipher
	cms  cms.Cipher
}{
	{"aes256-gcm", AES256GCM, cms.AES256GCM},
	{"aes128-gcm", AES128GCM, cms.AES128GCM},
	{"aes256-cbc", AES256CBC, cms.AES256CBC},
	{"aes128-cbc", AES128CBC, cms.AES128CBC},
}

// String is the cipher's name as ParseCipher takes it ("aes256-gcm").
func (c Cipher) String() string {
	for _, n := range cipherNames {
		if n.c == c {
			return n.name
		}
	}
	return fmt.Sprintf("cipher #%d", int(c))
}

// Authenticated reports whether the cipher protects the content's
// integrity (GCM): the message is then AuthEnvelopedData.
func (c Cipher) Authenticated() bool { return c == AES256GCM || c == AES128GCM }

// codec is the cipher for internal/cms.
func (c Cipher) codec() (cms.Cipher, error) {
	for _, n := range cipherNames {
		if n.c == c {
			return n.cms, nil
		}
	}
	return 0, fmt.Errorf("smime: unknown cipher %d: %w", int(c), core.ErrUsage)
}

// ParseCipher turns a cipher name (aes256-gcm, aes128-gcm, aes256-cbc,
// aes128-cbc; any case) into a Cipher; "" is AES-256-GCM.
func ParseCipher(name string) (Cipher, error) {
	if name == "" {
		return AES256GCM, nil
	}
	for _, n := range cipherNames {
		if strings.EqualFold(n.name, name) {
			return n.c, nil
		}
	}
	return 0, fmt.Errorf("smime: unknown cipher %q (aes256-gcm, aes128-gcm, aes256-cbc, aes128-cbc): %w", name, core.ErrUsage)
}

// EncryptOptions choose the content cipher and the RSA key transport. The
// zero value is AES-256-GCM with RSA PKCS #1 v1.5 key transport, which
// every S/MIME 4.0 client reads.
type EncryptOptions struct {
	Cipher Cipher
	// RSAOAEP uses RSAES-OAEP with SHA-256 (hash and MGF1) instead of
	// PKCS #1 v1.5 for RSA recipients.
	RSAOAEP bool
}

// Encrypt returns a writer for the content to encrypt to the recipients'
// certificates (checked with CheckRecipient by the caller); the
// EnvelopedData or AuthEnvelopedData streams to w.
func (e *Engine) Encrypt(w io.Writer, to []*x509.Certificate, opts EncryptOptions) (io.WriteCloser, error) {
	if len(to) == 0 {
		return nil, fmt.Errorf("smime: encrypt: no recipients: %w", core.ErrUsage)
	}
	c, err := opts.Cipher.codec()
	if err != nil {
		return nil, err
	}
	ew, err := cms.Encrypt(w, to, cms.EncryptOptions{Cipher: c, RSAOAEP: opts.RSAOAEP})
	if err != nil {
		return nil, fmt.Errorf("smime: encrypt: %w", err)
	}
	return ew, nil
}

// Decrypted is a decrypted body, released after its integrity check.
type Decrypted struct {
	Body          io.Reader
	Integrity     string // gcm or none
	Cipher        string
	DecryptedWith string // fingerprint of the recipient certificate
	d             *cms.Decrypted
}

// Close discards the plaintext.
func (d *Decrypted) Close() error { return d.d.Close() }

// Decrypt decrypts an EnvelopedData or AuthEnvelopedData body with one of
// the identities. Every decryption failure is the same integrity error.
func (e *Engine) Decrypt(r io.Reader, ids []Identity) (*Decrypted, error) {
	return e.DecryptHashing(r, ids, nil)
}

// DecryptHashing is Decrypt that also gives the content, as it is
// decrypted, to tap (unless nil), which hashes the signed part of a
// multipart/signed in it for the parse that follows
// (mime.SignedPartTap): the signature's hash then runs beside the
// decryption instead of after it. The caller closes tap.
func (e *Engine) DecryptHashing(r io.Reader, ids []Identity, tap *mime.SignedPartTap) (*Decrypted, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("smime: decrypt: no S/MIME private key in the keystore (import your PKCS#12 file with mailseal keys import): %w", core.ErrNoKey)
	}
	cids := make([]cms.Identity, len(ids))
	for i, id := range ids {
		cids[i] = cms.Identity{Cert: id.Cert, Key: id.Key}
	}
	var w io.Writer
	if tap != nil {
		w = tap
	}
	d, err := cms.DecryptTapped(r, cids, e.Policy().MaxMemorySpool, w)
	if err != nil {
		return nil, err
	}
	return &Decrypted{Body: d.Body, Integrity: d.Integrity, Cipher: d.Cipher, DecryptedWith: Fingerprint(d.Recipient), d: d}, nil
}

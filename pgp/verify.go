package pgp

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
	"github.com/mailseal/mailseal/internal/upperhex"
)

// tagSignature is the OpenPGP packet tag of a signature packet.
const tagSignature = 2

// maxSignatureSize bounds a detached signature block (armored or binary).
const maxSignatureSize = 1 << 20

// findSigner returns the entity holding the key that issued a signature
// (matched by issuer fingerprint when the signature carries one, else by key
// ID) and that key; nil if no finder has it.
func findSigner(keyID uint64, fpr []byte, finders ...CertFinder) (*openpgp.Entity, *packet.PublicKey) {
	if len(fpr) > 0 {
		keyID = keyIDOf(fpr)
	}
	for _, f := range finders {
		if f == nil || keyID == 0 {
			continue
		}
		for _, ent := range f.EntitiesById(keyID) {
			if ent == nil || ent.PrimaryKey == nil {
				continue
			}
			keys := []*packet.PublicKey{ent.PrimaryKey}
			for i := range ent.Subkeys {
				if ent.Subkeys[i].PublicKey != nil {
					keys = append(keys, ent.Subkeys[i].PublicKey)
				}
			}
			for _, k := range keys {
				if len(fpr) > 0 {
					if bytes.Equal(k.Fingerprint, fpr) {
						return ent, k
					}
				} else if k.KeyId == keyID {
					return ent, k
				}
			}
		}
	}
	return nil, nil
}

// CertFinder finds the certificates holding a key (primary key or subkey)
// with a given key ID. An openpgp.EntityList is one (it searches the
// list); a keystore can answer from an index without reading every
// certificate.
type CertFinder interface {
	EntitiesById(id uint64) []*openpgp.Entity
}

// keyIDOf is the key ID of a fingerprint: its last 8 bytes for a v4 key
// (20 bytes), its first 8 for a v5 or v6 key (32 bytes).
func keyIDOf(fpr []byte) uint64 {
	switch len(fpr) {
	case 20:
		return binary.BigEndian.Uint64(fpr[12:])
	case 32:
		return binary.BigEndian.Uint64(fpr[:8])
	}
	return 0
}

// newSigHash returns the hash state for verifying a signature of the given
// type, hash and (v6) salt, wrapped for text canonicalisation when needed:
// the first value is what the data is written to, the second what
// VerifySignature takes.
func newSigHash(h crypto.Hash, sigType packet.SignatureType, salt []byte) (hash.Hash, hash.Hash, error) {
	if !h.Available() {
		return nil, nil, fmt.Errorf("hash algorithm %s is not supported", core.HashName(h))
	}
	direct := h.New()
	if salt != nil {
		direct.Write(salt)
	}
	switch sigType {
	case packet.SigTypeBinary:
		return direct, direct, nil
	case packet.SigTypeText:
		return openpgp.NewCanonicalTextHash(direct), direct, nil
	}
	return nil, nil, fmt.Errorf("signature of type 0x%02x is not a document signature", uint8(sigType))
}

// CertSources is implemented by a CertFinder that knows how each
// certificate arrived (keystore.CertIndex): source names it, and a
// certificate that is not trusted makes its good signatures untrusted (a
// key found on the network and not yet accepted by the user).
type CertSources interface {
	CertSource(fingerprint string) (source string, trusted bool)
}

// withSource adds the signer key's source to s, if certs knows it.
func withSource(s core.Signature, certs CertFinder) core.Signature {
	cs, ok := certs.(CertSources)
	if !ok || s.Fingerprint == "" {
		return s
	}
	src, trusted := cs.CertSource(s.Fingerprint)
	s.Source = src
	if !trusted && s.Status == core.SignerGood {
		s.Status = core.SignerUntrusted
		s.Valid = false
		s.Error = fmt.Sprintf("the signer's key came from the network (%s) and is not accepted yet: check it, then mailseal keys accept %s", src, s.Fingerprint)
	}
	return s
}

// setIssuer names the signing key of a signature whose key is not known,
// as well as the signature names it: the full fingerprint of the Issuer
// Fingerprint subpacket (which gpg and RFC 9580 signers write) as
// SigningKey, else the 16-digit key ID, all an old signature gives, as
// KeyID. It returns the name for messages.
func setIssuer(s *core.Signature, keyID *uint64, fingerprint []byte) string {
	switch {
	case len(fingerprint) > 0:
		s.SigningKey = upperhex.Encode(fingerprint)
		return s.SigningKey
	case keyID != nil && *keyID != 0:
		s.KeyID = fmt.Sprintf("%016X", *keyID)
		return "with key ID " + s.KeyID
	}
	return "(the signature names none)"
}

func issuerKeyID(sig *packet.Signature) uint64 {
	if sig.IssuerKeyId != nil {
		return *sig.IssuerKeyId
	}
	return 0
}

// evaluate turns one signature into a core.Signature, following the
// signer status rules of docs/ARCHITECTURE.md. h is the hash over the signed
// data (already salted and canonicalised as the signature requires; nil if
// it could not be computed, with hashErr saying why). ent and pub are the
// issuer's certificate and key, nil if unknown.
func (e *Engine) evaluate(sig *packet.Signature, h hash.Hash, hashErr error, ent *openpgp.Entity, pub *packet.PublicKey) core.Signature {
	now := e.now()
	s := core.Signature{
		Emails:  []string{},
		Created: sig.CreationTime,
		Hash:    core.HashName(sig.Hash),
	}
	switch sig.SigType {
	case packet.SigTypeBinary:
		s.Mode = "binary"
	case packet.SigTypeText:
		s.Mode = "text"
	}
	if ent == nil || pub == nil {
		s.Status = core.SignerUnknown
		named := setIssuer(&s, sig.IssuerKeyId, sig.IssuerFingerprint)
		s.Error = fmt.Sprintf("no certificate for the signing key %s (import the signer's public key to check this signature)", named)
		return s
	}
	s.Fingerprint = Fingerprint(ent.PrimaryKey)
	s.SigningKey = Fingerprint(pub)
	uids := ValidUserIDs(ent, now, e.Config())
	s.Emails, s.UnboundUserIDs = Addresses(uids)
	s.Names = Names(uids)
	bad := func(format string, args ...any) core.Signature {
		s.Status = core.SignerBad
		s.Error = fmt.Sprintf(format, args...)
		return s
	}
	untrusted := func(format string, args ...any) core.Signature {
		s.Status = core.SignerUntrusted
		s.Error = fmt.Sprintf(format, args...)
		return s
	}
	if sig.SigType != packet.SigTypeBinary && sig.SigType != packet.SigTypeText {
		return bad("signature of type 0x%02x is not a signature over a document", uint8(sig.SigType))
	}
	if h == nil {
		if hashErr == nil {
			hashErr = errors.New("no hash")
		}
		return bad("cannot check the signature: %v", hashErr)
	}
	if err := pub.VerifySignature(h, sig); err != nil {
		return bad("the signature does not verify: the signed data was changed or the signature is damaged (%v)", err)
	}
	// The signature is genuine; the policy may still refuse it. The key
	// first: a SHA-1 date (AcceptSHA1Before) does not make a DSA-1024 key
	// acceptable.
	if reason := e.weakSigningKey(pub); reason != "" {
		s.Status = core.SignerRefused
		s.Error = "refused by policy: " + reason
		return s
	}
	if !e.hashAccepted(sig.Hash, sig.CreationTime) {
		s.Status = core.SignerRefused
		s.Error = fmt.Sprintf("refused by policy: the signature uses %s, a weak hash (it claims to be made at %s); ask the sender to sign with SHA-256 or stronger",
			core.HashName(sig.Hash), sig.CreationTime.UTC().Format(time.RFC3339))
		if sig.Hash == crypto.SHA1 {
			s.Error += ", or accept SHA-1 signatures made before a date (mailseal --accept-sha1-before DATE) for old mail"
		}
		return s
	}
	if err := core.CheckCreated(sig.CreationTime, now); err != nil {
		return bad("%v", err)
	}
	if sig.CreationTime.Before(pub.CreationTime) {
		return bad("the signature claims to be older than its key")
	}
	for _, n := range sig.Notations {
		if n.IsCritical {
			return bad("the signature has an unknown critical notation %q", n.Name)
		}
	}
	// SigExpired also calls a signature made after now expired; a time
	// ahead within the clock skew was accepted above.
	if sig.SigExpired(later(now, sig.CreationTime)) {
		return bad("the signature has expired")
	}
	if ent.Revoked(now) {
		return untrusted("the signer's key %s is revoked", s.Fingerprint)
	}
	if err := e.primaryValid(ent, sig.CreationTime); err != nil {
		return untrusted("at signing time (%s): %v", sig.CreationTime.UTC().Format(time.RFC3339), err)
	}
	if pub != ent.PrimaryKey {
		for i := range ent.Subkeys {
			sub := &ent.Subkeys[i]
			if sub.PublicKey != pub {
				continue
			}
			if sub.Revoked(nil, now) {
				return untrusted("the signing subkey %s is revoked", s.SigningKey)
			}
			if _, err := sub.Verify(sig.CreationTime, e.Config()); err != nil {
				if errors.Is(err, pgperrors.ErrKeyRevoked) || errors.Is(err, pgperrors.ErrKeyExpired) {
					return untrusted("the signing subkey %s was not valid at signing time: %v", s.SigningKey, err)
				}
				return bad("the signing subkey %s is not validly bound to its certificate: %v", s.SigningKey, err)
			}
		}
	}
	if _, ok := ent.SigningKeyById(sig.CreationTime, pub.KeyId, e.verifyConfig()); !ok {
		return bad("key %s is not a valid signing key (key flags or algorithm)", s.SigningKey)
	}
	s.Status = core.SignerGood
	s.Valid = true
	return s
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// readSignatures reads the signature packets of a detached signature,
// armored ("PGP SIGNATURE") or binary. Unsupported signature packets are
// returned as errors in unsupported, so they are reported, not dropped.
func readSignatures(r io.Reader) (sigs []*packet.Signature, unsupported []error, err error) {
	sigs, unsupported, _, err = readSignaturesChecked(r)
	return sigs, unsupported, err
}

// readSignaturesChecked is readSignatures that also says whether the
// signature's armor had a checksum that does not match it (damaged after
// it was made).
func readSignaturesChecked(r io.Reader) (sigs []*packet.Signature, unsupported []error, checksumMismatch bool, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSignatureSize+1))
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading the signature: %v: %w", err, core.ErrInput)
	}
	if len(data) > maxSignatureSize {
		return nil, nil, false, fmt.Errorf("the signature is larger than %d bytes: %w", maxSignatureSize, core.ErrInput)
	}
	body := io.Reader(bytes.NewReader(data))
	var armored *armor.Reader
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0]&0x80 == 0 {
		ar, err := armor.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, nil, false, fmt.Errorf("the signature is neither binary OpenPGP nor ASCII armor (%v): %w", err, core.ErrInput)
		}
		if ar.Type != armorSignature {
			return nil, nil, false, fmt.Errorf("expected a %q armor block, got %q: %w", armorSignature, ar.Type, core.ErrInput)
		}
		body, armored = ar, ar
	}
	// Packets are read opaquely first: go-crypto's reader skips the
	// version 3 signatures it cannot parse, which parseSignatureV3 reads.
	packets := packet.NewOpaqueReader(body)
	for {
		op, err := packets.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, false, fmt.Errorf("the signature is damaged (%v): %w", err, core.ErrInput)
		}
		if op.Tag != tagSignature {
			continue
		}
		if len(op.Contents) > 0 && (op.Contents[0] == 2 || op.Contents[0] == 3) {
			sig, err := parseSignatureV3(op.Contents)
			if err != nil {
				return nil, nil, false, fmt.Errorf("the signature is damaged (%v): %w", err, core.ErrInput)
			}
			sigs = append(sigs, sig)
			continue
		}
		p, err := op.Parse()
		if err != nil {
			var ue pgperrors.UnsupportedError
			if errors.As(err, &ue) {
				unsupported = append(unsupported, err)
				continue
			}
			return nil, nil, false, fmt.Errorf("the signature is damaged (%v): %w", err, core.ErrInput)
		}
		if sig, ok := p.(*packet.Signature); ok {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 && len(unsupported) == 0 {
		return nil, nil, false, fmt.Errorf("no signature packet found: %w", core.ErrInput)
	}
	return sigs, unsupported, armored != nil && armored.ChecksumMismatch(), nil
}

// expiredSince is a warning for a good signature whose key, valid when it
// signed, is no longer valid now (it expired since): the signature
// stands, as gpg's does with a note. Empty otherwise.
func (e *Engine) expiredSince(s core.Signature, ent *openpgp.Entity) string {
	if s.Status != core.SignerGood || ent == nil {
		return ""
	}
	if err := e.primaryValid(ent, e.now()); err != nil {
		return fmt.Sprintf("signer %s: %v, after this signature was made", s.Fingerprint, err)
	}
	return ""
}

// VerifyDetached checks a detached signature (armored or binary) sig over
// content, the exact signed bytes, streaming them once through every
// signature's hash; certs are the certificates that may have made it. It
// returns one core.Signature per signature packet (an unsupported packet
// version gives a SignerBad entry) and warnings: what does not change a
// verdict but a reader should know (a good signature's key has expired
// since it signed). The error is for unreadable input only; a
// signature that does not verify is a SignerBad entry, not an error. Its
// arguments and results are those of smime.Engine.VerifyDetached: both
// engines are a policy, and what signers are judged by is given per call,
// the certificates that may have signed here, the trust anchors there
// (smime.Trust).
func (e *Engine) VerifyDetached(content, sig io.Reader, certs CertFinder) ([]core.Signature, []string, error) {
	sigs, unsupported, damaged, err := readSignaturesChecked(sig)
	if err != nil {
		return nil, nil, fmt.Errorf("pgp: verify: %w", err)
	}
	signers, warnings, err := e.verifySigs(content, sigs, unsupported, certs)
	if err == nil && damaged {
		// The checksum has no key (a forger can leave a stale one): a bad
		// signature stays bad, with the hint.
		for i := range signers {
			if signers[i].Status == core.SignerBad {
				signers[i].Error += " (the signature's armor checksum does not match either: it may have been damaged in transit; ask for the message again)"
			}
		}
	}
	return signers, warnings, err
}

// maxSignatures bounds the signature packets of one signature (detached
// or inline), as internal/cms bounds a SignedData's signers: a message
// has a few. maxSigHashes bounds the hashes the signed data goes
// through: the signatures that hash it alike (the same algorithm and
// signature type, and for version 6 the same salt; every version 4
// signature of one algorithm) share one, and a signature that would need
// another beyond them is not checked. Before, each signature had its own:
// 4,000 copies of one signature packet made the data be hashed 4,000
// times (an attacker's read: a 4 MiB message took ten seconds).
const (
	maxSignatures = 64
	maxSigHashes  = 8
)

// sigHash is the hash that signatures with the same sigHashKey share.
type sigHash struct {
	in, final hash.Hash
	users     int // signatures left to hand final to
	err       error
}

type sigHashKey struct {
	h    crypto.Hash
	t    packet.SignatureType
	salt string
}

// take returns the final hash for one of h's signatures: a copy while
// others are left to take it, the hash itself for the last.
func (h *sigHash) take() (hash.Hash, error) {
	h.users--
	if h.users == 0 {
		return h.final, nil
	}
	c, ok := h.final.(hash.Cloner)
	if !ok {
		return nil, errors.New("the hash cannot be copied")
	}
	cp, err := c.Clone()
	if err != nil {
		return nil, err
	}
	return cp, nil
}

func (e *Engine) verifySigs(signed io.Reader, sigs []*packet.Signature, unsupported []error, certs CertFinder) ([]core.Signature, []string, error) {
	if n := len(sigs) + len(unsupported); n > maxSignatures {
		return nil, nil, fmt.Errorf("pgp: verify: the signature has %d signature packets, more than %d: %w", n, maxSignatures, core.ErrInput)
	}
	type item struct {
		sig *packet.Signature
		ent *openpgp.Entity
		pub *packet.PublicKey
		h   *sigHash
		err error
	}
	items := make([]item, len(sigs))
	hashes := map[sigHashKey]*sigHash{}
	var writers []io.Writer
	for i, sig := range sigs {
		it := item{sig: sig}
		it.ent, it.pub = findSigner(issuerKeyID(sig), sig.IssuerFingerprint, certs)
		if it.ent != nil {
			var salt []byte
			if sig.Version == 6 {
				salt = sig.Salt()
				if salt == nil {
					it.err = errors.New("v6 signature without salt")
				}
			}
			key := sigHashKey{sig.Hash, sig.SigType, string(salt)}
			switch h, shared := hashes[key]; {
			case it.err != nil:
			case shared:
				it.h = h
			case len(hashes) == maxSigHashes:
				it.err = fmt.Errorf("not checked: the signatures hash the signed data in more than %d ways", maxSigHashes)
			default:
				h = &sigHash{}
				h.in, h.final, h.err = newSigHash(sig.Hash, sig.SigType, salt)
				hashes[key] = h
				if h.in != nil {
					writers = append(writers, h.in)
				}
				it.h = h
			}
			if it.h != nil {
				it.h.users++
			}
		}
		items[i] = it
	}
	if _, err := io.Copy(io.MultiWriter(writers...), signed); err != nil {
		return nil, nil, fmt.Errorf("pgp: verify: reading the signed data: %v: %w", err, core.ErrInput)
	}
	finals := make([]hash.Hash, len(items))
	for i, it := range items {
		if it.h == nil {
			continue
		}
		if items[i].err = it.h.err; it.h.err == nil {
			finals[i], items[i].err = it.h.take()
		}
	}
	signers := make([]core.Signature, 0, len(items)+len(unsupported))
	var warnings []string
	for i, it := range items {
		sg := withSource(e.evaluate(it.sig, finals[i], it.err, it.ent, it.pub), certs)
		signers = append(signers, sg)
		if w := e.expiredSince(sg, it.ent); w != "" {
			warnings = append(warnings, w)
		}
	}
	for _, err := range unsupported {
		signers = append(signers, core.Signature{Emails: []string{}, Status: core.SignerBad,
			Error: fmt.Sprintf("unsupported signature: %v", err)})
	}
	return signers, warnings, nil
}

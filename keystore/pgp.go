package keystore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
	"github.com/mailseal/mailseal/pgp"
)

// maxImport bounds the key data read by one import.
const maxImport = 256 << 20

// ImportResult says what one import did to one key.
type ImportResult struct {
	Fingerprint string   `json:"fingerprint"`
	UserIDs     []string `json:"user_ids"`
	New         bool     `json:"new"`
	Secret      bool     `json:"secret"`
	Changes     []string `json:"changes"`
}

// ImportPGP imports armored or binary OpenPGP keys (public or secret, any
// number). Each key is merged into the stored certificate: user IDs,
// subkeys, signatures and revocations are added only when validly bound to
// the primary key (third-party certifications and user attributes are not
// kept), and stored key material is never replaced. Unprotected secret keys
// are encrypted with protect unless it is nil; protected ones are stored as
// they are. Standalone key revocation certificates are applied to the key
// they verify against. New keys are recorded as imported by the user
// (Provenance).
func (s *Store) ImportPGP(r io.Reader, protect []byte) ([]ImportResult, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxImport+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: import: %w: %w", err, core.ErrInput)
	}
	return s.importPGP(data, protect, Provenance{Source: SourceImport})
}

// importPGP imports data and records prov for the keys new to the store.
func (s *Store) importPGP(data, protect []byte, prov Provenance) ([]ImportResult, error) {
	if len(data) > maxImport {
		return nil, fmt.Errorf("keystore: import: more than %d MiB of key data: %w", maxImport>>20, core.ErrInput)
	}
	streams, err := binaryStreams(data)
	if err != nil {
		return nil, fmt.Errorf("keystore: import: %w: %w", err, core.ErrInput)
	}
	var certs []*cert
	var loose []rawPacket
	for _, st := range streams {
		pkts, err := splitPackets(st)
		if err != nil {
			return nil, fmt.Errorf("keystore: import: %w: %w", err, core.ErrInput)
		}
		c, l, err := groupCerts(pkts)
		if err != nil {
			return nil, fmt.Errorf("keystore: import: %w: %w", err, core.ErrInput)
		}
		certs, loose = append(certs, c...), append(loose, l...)
	}
	if len(certs) == 0 && len(loose) == 0 {
		return nil, fmt.Errorf("keystore: import: no keys found: %w", core.ErrInput)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var held map[string][]string
	if prov.FromNetwork() {
		held = s.holdNewUserIDs(certs)
	}
	// The keys stored before an error are recorded too: a key from the
	// network must never be left without its record (it would count as
	// imported by the user).
	results, err := s.importLocked(certs, loose, protect)
	for i := range results {
		for _, id := range held[strings.ToLower(results[i].Fingerprint)] {
			results[i].Changes = append(results[i].Changes, fmt.Sprintf("user ID %q not added: a key found on the network adds no user ID to a stored key (its record and acceptance are for the key as it was; import the key by hand to add it)", id))
		}
	}
	if rerr := s.recordNew(false, results, prov); err == nil {
		err = rerr
	}
	return results, err
}

// holdNewUserIDs takes out of certs, for each key already stored, the user
// IDs the stored key does not have, and returns them by fingerprint. What
// the keystore records of a key (where it came from, that the user
// accepted it, DANE with DNSSEC) is for the key as it was: a user ID its
// holder self-signs later and a network answer or an Autocrypt header
// brings must not inherit that trust (review finding: a key accepted for
// mallory@evil.example took a user ID alice@bank.example from Autocrypt,
// and mail forged as Alice verified good). Revocations, subkeys and new
// expiry dates still merge. The caller holds the lock.
func (s *Store) holdNewUserIDs(certs []*cert) map[string][]string {
	held := map[string][]string{}
	for _, c := range certs {
		if c.unsupported != nil {
			continue
		}
		old, err := s.readCert(c.fingerprint())
		if err != nil {
			continue // new to the keystore: its record says where it came from
		}
		known := map[string]bool{}
		for _, u := range old.uids {
			known[string(u.pkt.body)] = true
		}
		kept := c.uids[:0:0]
		for _, u := range c.uids {
			if known[string(u.pkt.body)] {
				kept = append(kept, u)
			} else if u.uid != nil {
				held[c.fingerprint()] = append(held[c.fingerprint()], u.uid.Id)
			}
		}
		c.uids = kept
	}
	return held
}

// importLocked merges certs and applies loose revocations; the caller
// holds the lock.
func (s *Store) importLocked(certs []*cert, loose []rawPacket, protect []byte) ([]ImportResult, error) {
	var results []ImportResult
	for _, c := range certs {
		if c.unsupported != nil {
			results = append(results, ImportResult{Changes: []string{"skipped: " + c.unsupported.Error()}})
			continue
		}
		res, err := s.importCert(c, protect)
		if err != nil {
			if res.New {
				results = append(results, res)
			}
			return results, fmt.Errorf("keystore: import %s: %w", upper(c.fingerprint()), err)
		}
		results = append(results, res)
	}
	if len(loose) > 0 {
		res, err := s.applyRevocations(loose)
		if err != nil {
			return results, err
		}
		results = append(results, res...)
	}
	return results, nil
}

// importCert merges one certificate; the caller holds the lock.
func (s *Store) importCert(c *cert, protect []byte) (ImportResult, error) {
	fpr := c.fingerprint()
	res := ImportResult{Fingerprint: upper(fpr)}
	old, err := s.readCert(fpr)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	merged, changes, err := merge(old, c)
	if err != nil {
		return res, fmt.Errorf("%w: %w", err, core.ErrInput)
	}
	res.New = old == nil
	res.Changes = changes
	if old == nil || len(changes) > 0 {
		if err := s.writeKeyFile(s.certPath(fpr), merged.serialize(), 0o644); err != nil {
			return res, err
		}
	}
	for _, u := range merged.uids {
		res.UserIDs = append(res.UserIDs, u.uid.Id)
	}
	if len(c.secret.raw) > 0 {
		res.Secret = true
		change, err := s.storeSecret(fpr, secretKeyFile(c, merged), protect)
		if err != nil {
			return res, err
		}
		res.Changes = append(res.Changes, change)
	}
	if len(res.Changes) == 0 {
		res.Changes = []string{"unchanged"}
	}
	return res, nil
}

// storeSecret keeps a transferable secret key, encrypted with protect if it
// is not protected yet. An existing secret key is never replaced.
//
// This is the one place an import parses secret key material: go-crypto
// validates each unprotected secret key it reads (for a 3072-bit ElGamal
// key, 2^18 multiplications modulo its prime), and a key that fails is
// refused here rather than found broken when first used.
func (s *Store) storeSecret(fpr string, raw []byte, protect []byte) (string, error) {
	path := s.secretPath(fpr)
	if _, err := os.Stat(path); err == nil {
		return "secret key already stored", nil
	}
	ent, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return "", fmt.Errorf("secret key: %w: %w", err, core.ErrInput)
	}
	out := raw
	if protect != nil && hasUnprotected(ent) {
		if err := ent.EncryptPrivateKeys(protect, pgp.ProtectionConfig(ent.PrimaryKey.Version)); err != nil {
			return "", fmt.Errorf("protecting the secret key: %w", err)
		}
		var b bytes.Buffer
		if err := ent.SerializePrivateWithoutSigning(&b, nil); err != nil {
			return "", fmt.Errorf("secret key: %w", err)
		}
		out = b.Bytes()
	}
	if err := s.writeKeyFile(path, out, 0o600); err != nil {
		return "", err
	}
	if hasUnprotected(ent) && protect == nil {
		return "secret key added (not passphrase-protected)", nil
	}
	return "secret key added", nil
}

func hasUnprotected(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Encrypted && !e.PrivateKey.Dummy() {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Encrypted && !sk.PrivateKey.Dummy() {
			return true
		}
	}
	return false
}

// HasUnprotectedSecrets reports whether key data holds a secret key that is
// not protected by a passphrase (so importing it needs one, or an explicit
// decision to store it unprotected).
func HasUnprotectedSecrets(data []byte) bool {
	return anySecretPacket(data, secretUnprotected)
}

// anySecretPacket reports whether key data holds a secret key packet for
// which match is true.
func anySecretPacket(data []byte, match func(rawPacket) bool) bool {
	streams, err := binaryStreams(data)
	if err != nil {
		return false
	}
	for _, st := range streams {
		pkts, err := splitPackets(st)
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if (p.tag == tagSecretKey || p.tag == tagSecretSubkey) && match(p) {
				return true
			}
		}
	}
	return false
}

// applyRevocations applies standalone revocation signatures to the stored
// keys they verify against.
//
// Each is checked against the certificates its issuer names (the key
// index finds them by key ID), and only one that names none against every
// stored certificate: checking each against every one (as it did) made an
// import of many revocations cost their number times the keystore's size.
func (s *Store) applyRevocations(sigs []rawPacket) ([]ImportResult, error) {
	var results []ImportResult
	var ids map[uint64][]string
	var all []string // every stored certificate, listed once, if needed
	for _, p := range sigs {
		sig := parseSig(p)
		if sig == nil || sig.SigType != packet.SigTypeKeyRevocation {
			return results, fmt.Errorf("keystore: import: a signature without its key that is not a key revocation: %w", core.ErrInput)
		}
		var candidates []string
		switch {
		case len(sig.IssuerFingerprint) > 0:
			candidates = []string{hex.EncodeToString(sig.IssuerFingerprint)}
		case sig.IssuerKeyId != nil:
			if ids == nil {
				ids = s.keyIDs()
			}
			candidates = ids[*sig.IssuerKeyId]
		default:
			if all == nil {
				all = s.certFingerprints()
			}
			candidates = all
		}
		applied := false
		for _, fpr := range candidates {
			c, err := s.readCert(fpr)
			if err != nil {
				continue
			}
			if _, ok := verifyDirect(c.key, p); !ok {
				continue
			}
			res, err := s.addRevocation(c, p)
			if err != nil {
				return results, err
			}
			results = append(results, res)
			applied = true
			break
		}
		if !applied {
			return results, fmt.Errorf("keystore: import: a revocation certificate for a key that is not in the keystore (import the key first): %w", core.ErrNoKey)
		}
	}
	return results, nil
}

// addRevocation merges the key revocation p, which verifies against c,
// into the stored certificate c; the caller holds the lock.
// revocationKnown is addRevocation's change when the revocation was
// already stored.
const revocationKnown = "unchanged (revocation already known)"

func (s *Store) addRevocation(c *cert, p rawPacket) (ImportResult, error) {
	fpr := c.fingerprint()
	merged, changes, err := merge(c, &cert{primary: c.primary, key: c.key, direct: []rawPacket{p}})
	if err != nil {
		return ImportResult{}, err
	}
	if len(changes) > 0 {
		if err := s.writeKeyFile(s.certPath(fpr), merged.serialize(), 0o644); err != nil {
			return ImportResult{}, err
		}
	} else {
		changes = []string{revocationKnown}
	}
	return ImportResult{Fingerprint: upper(fpr), Changes: changes}, nil
}

func (s *Store) readCert(fpr string) (*cert, error) {
	data, err := s.readKeyFile(s.certPath(fpr))
	if err != nil {
		return nil, err
	}
	c, err := parseStored(data)
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: %w", s.certPath(fpr), err)
	}
	return c, nil
}

// certFingerprints lists the stored certificates (lower-case hex).
func (s *Store) certFingerprints() []string {
	var out []string
	dirs, _ := os.ReadDir(s.certDir())
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 || !isHex(d.Name()) {
			continue
		}
		files, _ := os.ReadDir(filepath.Join(s.certDir(), d.Name()))
		for _, f := range files {
			name := d.Name() + f.Name()
			if !f.IsDir() && isFingerprint(name) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// isHex reports whether s is lower-case hex of whole bytes.
func isHex(s string) bool { return len(s)%2 == 0 && allIn(s, &lowerHex) }

// isKeyID reports whether s is written as keyID writes: 64 upper-case hex
// digits.
func isKeyID(s string) bool { return len(s) == 64 && allIn(s, &upperHex) }

// lowerHex and upperHex are 1 at the hex digits of each case (static
// data: nothing to build at start-up). The index readers check some 130
// random digits a line: a test for each byte would be mispredicted about
// as often as not (BenchmarkReadX509Index: 0.5 ms of 1.1 for 2,000 lines),
// a table look-up has no branch.
var (
	lowerHex = [256]byte{'0': 1, '1': 1, '2': 1, '3': 1, '4': 1, '5': 1, '6': 1, '7': 1, '8': 1, '9': 1, 'a': 1, 'b': 1, 'c': 1, 'd': 1, 'e': 1, 'f': 1}
	upperHex = [256]byte{'0': 1, '1': 1, '2': 1, '3': 1, '4': 1, '5': 1, '6': 1, '7': 1, '8': 1, '9': 1, 'A': 1, 'B': 1, 'C': 1, 'D': 1, 'E': 1, 'F': 1}
)

// allIn reports whether every byte of s is 1 in t.
func allIn(s string, t *[256]byte) bool {
	ok := byte(1)
	for i := 0; i < len(s); i++ {
		ok &= t[s[i]]
	}
	return ok == 1
}

// AllPGPCerts returns every stored certificate.
func (s *Store) AllPGPCerts() (openpgp.EntityList, error) {
	var out openpgp.EntityList
	for _, fpr := range s.certFingerprints() {
		e, err := s.entity(fpr)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the directory was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Store) entity(fpr string) (*openpgp.Entity, error) {
	data, err := s.readKeyFile(s.certPath(fpr))
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return s.parseCert(fpr, data)
}

// parseCert parses the stored (binary) certificate fpr.
func (s *Store) parseCert(fpr string, data []byte) (*openpgp.Entity, error) {
	e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: %w", s.certPath(fpr), err)
	}
	s.markVerified(e, s.certPath(fpr), data)
	return e, nil
}

// PGPSecret returns the stored secret key of a fingerprint, still locked.
func (s *Store) PGPSecret(fingerprint string) (*openpgp.Entity, error) {
	fpr := normalizeFingerprint(fingerprint)
	data, err := s.readKeyFile(s.secretPath(fpr))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keystore: no secret key for %s: %w", upper(fpr), core.ErrNoKey)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, fmt.Errorf("keystore: secret key %s: %w", upper(fpr), err)
	}
	// The secret key file's record, before the certificate's user ID
	// signatures replace the file's own below: it describes only this
	// file (TestSecretRecordNotOnCertificate).
	s.markVerified(e, s.secretPath(fpr), data)
	// Revocations and new signatures arrive in the public certificate:
	// use its view of validity.
	if pub, err := s.entity(fpr); err == nil {
		e.Revocations = pub.Revocations
		e.DirectSignatures = pub.DirectSignatures
		for name, id := range pub.Identities {
			if own, ok := e.Identities[name]; ok {
				own.Revocations = id.Revocations
				own.SelfCertifications = id.SelfCertifications
			}
		}
	}
	return e, nil
}

// SecretPGPForEmail returns the secret keys (locked) of the certificates
// PGPForAddress finds for email, except revoked ones: a key revoked and
// replaced by a new one does not make the sender's key ambiguous.
func (s *Store) SecretPGPForEmail(email string) ([]*openpgp.Entity, error) {
	return s.withSecrets(s.PGPForAddress(email))
}

// withSecrets is SecretPGPForEmail for the certificates certs found.
func (s *Store) withSecrets(certs []*openpgp.Entity, err error) ([]*openpgp.Entity, error) {
	if err != nil && !errors.Is(err, core.ErrNoKey) {
		return nil, err
	}
	var out []*openpgp.Entity
	now := time.Now()
	for _, c := range certs {
		if c.Revoked(now) {
			continue
		}
		if _, err := os.Stat(s.secretPath(hex.EncodeToString(c.PrimaryKey.Fingerprint))); err == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Unlock decrypts the secret keys of e in place with the passphrase pass
// gives. Wrong or missing passphrase: an error wrapping core.ErrLocked.
func Unlock(e *openpgp.Entity, pass PassphraseFunc) error {
	if !pgp.Locked(e) {
		return nil
	}
	name := pgp.Fingerprint(e.PrimaryKey)
	if pass == nil {
		return fmt.Errorf("keystore: the secret key %s is locked and there is no passphrase to unlock it (SessionOptions.Passphrase): %w", name, core.ErrLocked)
	}
	p, err := pass("the secret key " + name)
	if err != nil {
		return err
	}
	if err := pgp.Unlock(e, p); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// PassphraseFunc returns a passphrase; purpose says what it unlocks.
type PassphraseFunc func(purpose string) ([]byte, error)

func normalizeFingerprint(q string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(q), " ", ""))
}

// FindPGP returns the certificates matching a QUERY: an email address
// (see PGPForAddress), a full fingerprint (spaces allowed), or a
// case-insensitive substring of a user ID. None: an error wrapping ErrNoKey.
func (s *Store) FindPGP(query string) ([]*openpgp.Entity, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return nil, fmt.Errorf("keystore: empty query: %w", core.ErrUsage)
	}
	if fpr := normalizeFingerprint(q); (len(fpr) == 40 || len(fpr) == 64) && isHex(fpr) {
		e, err := s.entity(fpr)
		if err != nil {
			return nil, fmt.Errorf("keystore: no key %s: %w", upper(fpr), core.ErrNoKey)
		}
		return []*openpgp.Entity{e}, nil
	}
	if strings.Contains(q, "@") && !strings.ContainsAny(q, " <>") {
		return s.PGPForAddress(q)
	}
	lq := strings.ToLower(q)
	out, err := s.scanCerts(func(e *openpgp.Entity) bool {
		for uid := range e.Identities {
			if strings.Contains(strings.ToLower(uid), lq) {
				return true
			}
		}
		return false
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("keystore: no OpenPGP key matches %q: %w", q, core.ErrNoKey)
	}
	return out, err
}

// PGPForAddress returns the certificates with a user ID that is valid now
// (see pgp.ValidUserIDs) and binds addr (core.UserIDAddress; the domain
// compared case-insensitively, core.SameAddress). A user ID that names
// two addresses binds neither, so it is never found here. None: an error
// wrapping ErrNoKey; addr without "@": ErrUsage.
func (s *Store) PGPForAddress(addr string) ([]*openpgp.Entity, error) {
	_, byAddr, _ := s.keyIndex()
	return s.pgpForAddress(byAddr, addr)
}

// pgpForAddress is PGPForAddress with the key index's addresses byAddr
// (see keyIndex) already read.
func (s *Store) pgpForAddress(byAddr map[string][]string, addr string) ([]*openpgp.Entity, error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return nil, fmt.Errorf("keystore: %q is not an email address: %w", addr, core.ErrUsage)
	}
	// The key index names the certificates with a user ID that names the
	// address, signed or not; only those are read and checked. Reading
	// every certificate for each look-up would grow with the keyring.
	fprs := slices.Clone(byAddr[addressDigest(addr)])
	sort.Strings(fprs)
	out, err := s.readCerts(fprs, bindsNow(addr))
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("keystore: no OpenPGP key has a valid user ID for %s: %w", addr, core.ErrNoKey)
	}
	return out, err
}

// bindsNow matches the certificates with a user ID that is valid now and
// binds addr.
func bindsNow(addr string) func(*openpgp.Entity) bool {
	now, cfg := time.Now(), &packet.Config{}
	return func(e *openpgp.Entity) bool {
		for _, u := range pgp.ValidUserIDs(e, now, cfg) {
			if core.SameAddress(u.Address, addr) {
				return true
			}
		}
		return false
	}
}

// scanCerts returns the stored certificates that match.
func (s *Store) scanCerts(match func(*openpgp.Entity) bool) ([]*openpgp.Entity, error) {
	return s.readCerts(s.certFingerprints(), match)
}

// readCerts returns those of the certificates fprs that match.
func (s *Store) readCerts(fprs []string, match func(*openpgp.Entity) bool) ([]*openpgp.Entity, error) {
	var out []*openpgp.Entity
	for _, fpr := range fprs {
		data, err := readStored(s.certPath(fpr))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the directory was listed
		}
		if err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
		e, err := s.parseCert(fpr, data)
		if err != nil {
			return nil, err
		}
		if match(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// FindOnePGP is FindPGP for a query that must name exactly one key.
func (s *Store) FindOnePGP(query string) (*openpgp.Entity, error) {
	found, err := s.FindPGP(query)
	if err != nil {
		return nil, err
	}
	if len(found) > 1 {
		var names []string
		for _, e := range found {
			names = append(names, pgp.Fingerprint(e.PrimaryKey)+" "+primaryUID(e))
		}
		return nil, fmt.Errorf("keystore: %q matches %d keys: %s; give a fingerprint: %w",
			query, len(found), strings.Join(names, "; "), core.ErrUsage)
	}
	return found[0], nil
}

func primaryUID(e *openpgp.Entity) string {
	if _, id := e.PrimaryIdentity(time.Now(), &packet.Config{}); id != nil {
		return id.Name
	}
	for name := range e.Identities {
		return name
	}
	return ""
}

// ExportPGP writes the matching key, armored: the certificate, or with
// secret the secret key as stored (encrypted with its passphrase).
func (s *Store) ExportPGP(w io.Writer, query string, secret bool) error {
	return s.ExportPGPKeys(w, []string{query}, secret)
}

// ExportPGPKeys writes the keys the queries name (each exactly one key; a
// key named twice is written once) as one armored keyring, as gpg --export
// --armor does: the certificates concatenated in one "PGP PUBLIC KEY
// BLOCK", or with secret the secret keys as stored (encrypted with their
// passphrases) in one "PGP PRIVATE KEY BLOCK".
func (s *Store) ExportPGPKeys(w io.Writer, queries []string, secret bool) error {
	var fprs []string
	for _, q := range queries {
		e, err := s.FindOnePGP(q)
		if err != nil {
			return err
		}
		if fpr := hex.EncodeToString(e.PrimaryKey.Fingerprint); !slices.Contains(fprs, fpr) {
			fprs = append(fprs, fpr)
		}
	}
	return s.exportPGP(w, fprs, secret)
}

// ExportAllPGP writes every stored certificate (with secret, every stored
// secret key) as ExportPGPKeys does. An empty keystore: ErrNoKey.
func (s *Store) ExportAllPGP(w io.Writer, secret bool) error {
	var fprs []string
	for _, fpr := range s.certFingerprints() {
		if !secret {
			fprs = append(fprs, fpr)
		} else if _, err := os.Stat(s.secretPath(fpr)); err == nil {
			fprs = append(fprs, fpr)
		}
	}
	if len(fprs) == 0 {
		what := "OpenPGP keys"
		if secret {
			what = "OpenPGP secret keys"
		}
		return fmt.Errorf("keystore: there are no %s to export: %w", what, core.ErrNoKey)
	}
	return s.exportPGP(w, fprs, secret)
}

func (s *Store) exportPGP(w io.Writer, fprs []string, secret bool) error {
	var all bytes.Buffer
	for _, fpr := range fprs {
		path := s.certPath(fpr)
		if secret {
			path = s.secretPath(fpr)
		}
		data, err := readStored(path)
		if errors.Is(err, fs.ErrNotExist) && secret {
			return fmt.Errorf("keystore: no secret key for %s: %w", upper(fpr), core.ErrNoKey)
		}
		if err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
		all.Write(data)
	}
	blockType := openpgp.PublicKeyType
	if secret {
		blockType = openpgp.PrivateKeyType
	}
	aw := armor.NewWriter(w, blockType)
	if _, err := aw.Write(all.Bytes()); err != nil {
		return err
	}
	return aw.Close()
}

// DeletePGP deletes the matching key. A key with a secret part is deleted
// only with secret set (then both parts go).
func (s *Store) DeletePGP(query string, secret bool) error {
	e, err := s.FindOnePGP(query)
	if err != nil {
		return err
	}
	fpr := hex.EncodeToString(e.PrimaryKey.Fingerprint)
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	// The key was found before the lock was taken: a concurrent delete
	// may have removed it since.
	gone := fmt.Errorf("keystore: no OpenPGP key %s (deleted meanwhile): %w", upper(fpr), core.ErrNoKey)
	if _, err := os.Stat(s.certPath(fpr)); errors.Is(err, fs.ErrNotExist) {
		return gone
	}
	if _, err := os.Stat(s.secretPath(fpr)); err == nil {
		if !secret {
			return fmt.Errorf("keystore: %s has a secret key; deleting it needs --yes: %w", upper(fpr), core.ErrUsage)
		}
		if err := removeFile(s.secretPath(fpr), gone); err != nil {
			return err
		}
	}
	if err := removeFile(s.certPath(fpr), gone); err != nil {
		return err
	}
	s.forgetVerified(fpr)
	return s.forgetProvenance(false, fpr)
}

// removeFile removes a key file; a file already gone (removed by another
// program that does not take the lock) is the error gone.
func removeFile(path string, gone error) error {
	err := os.Remove(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return gone
	case err != nil:
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

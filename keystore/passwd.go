package keystore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/dn"
	"github.com/mailseal/mailseal/internal/pkcs12"
	"github.com/mailseal/mailseal/internal/upperhex"
	"github.com/mailseal/mailseal/pgp"
)

// PassphraseOptions say which stored secret keys ChangePassphrase
// re-protects and with what.
type PassphraseOptions struct {
	// Query names the keys (as FindPGP and FindX509 read it): every secret
	// key of a matching OpenPGP key or certificate. Empty with All.
	Query string
	// All takes every secret key in the store instead (also private keys
	// whose certificate has not arrived yet, see Request).
	All bool
	// Protocol limits the change to one kind (core.ProtocolOpenPGP or
	// core.ProtocolSMIME); "" takes both.
	Protocol string
	// Old unlocks the keys that are protected now; it is asked only when
	// one is.
	Old PassphraseFunc
	// New gives the passphrase the keys are stored under afterwards; it
	// is asked after the old one.
	New PassphraseFunc
}

// PassphraseChange says what ChangePassphrase did to one key file.
type PassphraseChange struct {
	Protocol string `json:"protocol"`
	// Fingerprint names the key: the OpenPGP primary key's fingerprint, or
	// a certificate's SHA-256 fingerprint (for a private key whose
	// certificate is not stored, the SHA-256 of its public key).
	Fingerprint string `json:"fingerprint"`
	Name        string `json:"name"` // a user ID or the subject
	Change      string `json:"change"`
}

// passwdTarget is one key file ChangePassphrase works on.
type passwdTarget struct {
	change PassphraseChange
	path   string
	// reprotect returns the file's new content, or nil when it is already
	// protected by the new passphrase.
	reprotect func(data []byte, old PassphraseFunc, newPass newPassphrase) ([]byte, error)
}

// ChangePassphrase re-encrypts stored secret keys — OpenPGP secret keys
// and X.509 private keys alike — under a new passphrase. Every key is
// unlocked before anything is written: a key that opens neither with the
// old passphrase nor (already changed) with the new one fails the whole
// call with ErrLocked, and nothing changes. Each key file is then replaced
// atomically, under the writer lock. No matching secret key: ErrNoKey.
func (s *Store) ChangePassphrase(opts PassphraseOptions) ([]PassphraseChange, error) {
	if opts.New == nil {
		return nil, fmt.Errorf("keystore: passwd: no new passphrase: %w", core.ErrUsage)
	}
	if opts.All == (strings.TrimSpace(opts.Query) != "") {
		return nil, fmt.Errorf("keystore: passwd: give a query or All, not both or neither: %w", core.ErrUsage)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var targets []passwdTarget
	if opts.Protocol != core.ProtocolSMIME {
		t, err := s.pgpPasswdTargets(opts)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t...)
	}
	if opts.Protocol != core.ProtocolOpenPGP {
		t, err := s.x509PasswdTargets(opts)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t...)
	}
	if len(targets) == 0 {
		what := "the keystore holds no secret key"
		if !opts.All {
			what = fmt.Sprintf("no secret key matches %q", opts.Query)
		}
		return nil, fmt.Errorf("keystore: passwd: %s: %w", what, core.ErrNoKey)
	}
	newPass := newPassphrase(sync.OnceValues(func() ([]byte, error) {
		p, err := opts.New("the new passphrase of the keys")
		if err == nil && len(p) == 0 {
			err = fmt.Errorf("keystore: passwd: the new passphrase is empty: %w", core.ErrUsage)
		}
		return p, err
	}))
	// old records the passphrases the keys were opened with: a key opened
	// only with one equal to the new passphrase is already under it (old
	// and new given the same), and its file is left as it is.
	var opened [][]byte
	old := opts.Old
	if old != nil {
		old = func(purpose string) ([]byte, error) {
			p, err := opts.Old(purpose)
			if err == nil {
				opened = append(opened, p)
			}
			return p, err
		}
	}
	contents := make([][]byte, len(targets))
	var locked []string
	for i, t := range targets {
		data, err := readStored(t.path)
		if err != nil {
			return nil, fmt.Errorf("keystore: passwd: %w", err)
		}
		first := len(opened)
		out, err := t.reprotect(data, old, newPass)
		if errors.Is(err, core.ErrLocked) {
			locked = append(locked, t.change.Fingerprint+" "+t.change.Name)
			continue
		}
		if _, newErr := newPass(); newErr != nil {
			return nil, newErr
		}
		if err != nil {
			return nil, fmt.Errorf("keystore: passwd: %s: %w", t.change.Fingerprint, err)
		}
		if n, _ := newPass(); len(opened) > first && !slices.ContainsFunc(opened[first:], func(p []byte) bool { return !bytes.Equal(p, n) }) {
			continue // opened with the new passphrase: already under it
		}
		contents[i] = out
	}
	if len(locked) > 0 {
		return nil, fmt.Errorf("keystore: passwd: the passphrase does not unlock %s; nothing was changed (change keys under different passphrases one query at a time): %w",
			strings.Join(locked, "; "), core.ErrLocked)
	}
	var done []PassphraseChange
	for i, t := range targets {
		if contents[i] == nil {
			t.change.Change = "already under the new passphrase"
		} else {
			if err := s.writeKeyFile(t.path, contents[i], 0o600); err != nil {
				return done, fmt.Errorf("keystore: passwd: %w", err)
			}
			t.change.Change = "passphrase changed"
		}
		done = append(done, t.change)
	}
	return done, nil
}

// pgpPasswdTargets lists the OpenPGP secret key files opts names.
func (s *Store) pgpPasswdTargets(opts PassphraseOptions) ([]passwdTarget, error) {
	var fprs []string
	if opts.All {
		files, err := os.ReadDir(s.secretDir())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("keystore: passwd: %w", err)
		}
		for _, f := range files {
			if n := strings.ToLower(f.Name()); !f.IsDir() && (len(n) == 40 || len(n) == 64) && isHex(n) {
				fprs = append(fprs, n)
			}
		}
	} else {
		found, err := s.FindPGP(opts.Query)
		if err != nil && !errors.Is(err, core.ErrNoKey) {
			return nil, err
		}
		for _, e := range found {
			fprs = append(fprs, hex.EncodeToString(e.PrimaryKey.Fingerprint))
		}
	}
	var out []passwdTarget
	for _, fpr := range fprs {
		path := s.secretPath(fpr)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		name := ""
		if e, err := s.entity(fpr); err == nil {
			name = primaryUID(e)
		}
		out = append(out, passwdTarget{
			change:    PassphraseChange{Protocol: core.ProtocolOpenPGP, Fingerprint: upper(fpr), Name: name},
			path:      path,
			reprotect: reprotectPGP,
		})
	}
	return out, nil
}

// reprotectPGP re-encrypts the secret key packets of a stored transferable
// secret key under newPass, packet by packet: everything else in the file
// (user IDs, subkeys, signatures) stays byte for byte.
func reprotectPGP(data []byte, old PassphraseFunc, newPass newPassphrase) ([]byte, error) {
	pkts, err := splitPackets(data)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w: %w", err, core.ErrInput)
	}
	var keys []*packet.PrivateKey
	var at []int
	for i, p := range pkts {
		if p.tag != tagSecretKey && p.tag != tagSecretSubkey {
			continue
		}
		parsed, err := packet.Read(bytes.NewReader(p.raw))
		if err != nil {
			return nil, fmt.Errorf("secret key file: %w: %w", err, core.ErrInput)
		}
		k, ok := parsed.(*packet.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("secret key file: not a secret key packet: %w", core.ErrInput)
		}
		if !k.Dummy() {
			keys, at = append(keys, k), append(at, i)
		}
	}
	if err := decryptAll(keys, old, newPass); err != nil {
		if errors.Is(err, errAlreadyNew) {
			return nil, nil
		}
		return nil, err
	}
	pass, err := newPass()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	next := 0
	for i, p := range pkts {
		if next < len(at) && at[next] == i {
			k := keys[next]
			next++
			if err := k.EncryptWithConfig(pass, pgp.ProtectionConfig(k.Version)); err != nil {
				return nil, fmt.Errorf("protecting the secret key: %w", err)
			}
			if err := k.Serialize(&out); err != nil {
				return nil, fmt.Errorf("secret key: %w", err)
			}
			continue
		}
		out.Write(p.raw)
	}
	return out.Bytes(), nil
}

// newPassphrase gives the new passphrase, asked once.
type newPassphrase func() ([]byte, error)

// errAlreadyNew: the keys open with the new passphrase already.
var errAlreadyNew = errors.New("already under the new passphrase")

// decryptAll decrypts the encrypted keys with the old passphrase (asked
// only if one is encrypted) or, for those it does not open, with newPass.
// When newPass opens every one of them the result is errAlreadyNew; when
// some open with neither, ErrLocked (the old passphrase's error).
func decryptAll(keys []*packet.PrivateKey, old PassphraseFunc, newPass newPassphrase) error {
	var encrypted []*packet.PrivateKey
	for _, k := range keys {
		if k.Encrypted {
			encrypted = append(encrypted, k)
		}
	}
	if len(encrypted) == 0 {
		return nil
	}
	name := upperhex.Encode(keys[0].Fingerprint)
	// decrypt opens what p opens (Decrypt leaves a key it cannot open as
	// it was) and says how many keys stay locked.
	decrypt := func(p []byte) int {
		n := 0
		for _, k := range encrypted {
			if k.Encrypted && k.Decrypt(p) != nil {
				n++
			}
		}
		return n
	}
	var oldErr error
	if old == nil {
		oldErr = fmt.Errorf("the secret key %s is locked and there is no passphrase to unlock it: %w", name, core.ErrLocked)
	} else if p, err := old("the secret key " + name); err != nil {
		oldErr = err
	} else if decrypt(p) == 0 {
		return nil
	} else {
		oldErr = fmt.Errorf("wrong passphrase for the secret key %s: %w", name, core.ErrLocked)
	}
	openedByOld := false
	for _, k := range encrypted {
		openedByOld = openedByOld || !k.Encrypted
	}
	p, err := newPass()
	if err != nil {
		return err
	}
	switch {
	case decrypt(p) > 0:
		return oldErr
	case openedByOld:
		return nil // some were under the old passphrase, the rest under the new one
	}
	return errAlreadyNew
}

// x509PasswdTargets lists the X.509 private key files opts names.
func (s *Store) x509PasswdTargets(opts PassphraseOptions) ([]passwdTarget, error) {
	byKey := map[string]*x509.Certificate{} // key ID -> a certificate of the key
	var certs []*x509.Certificate
	var err error
	if opts.All {
		certs, err = s.AllX509Certs()
	} else {
		certs, err = s.FindX509(opts.Query)
		if errors.Is(err, core.ErrNoKey) {
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	sortCerts(certs)
	for _, c := range certs {
		if id := keyID(c.PublicKey); id != "" && byKey[id] == nil {
			byKey[id] = c
		}
	}
	var ids []string
	if opts.All {
		all, err := s.x509KeyIDs()
		if err != nil {
			return nil, fmt.Errorf("keystore: passwd: %w", err)
		}
		ids = all
	} else {
		for id := range byKey {
			ids = append(ids, id)
		}
		sort.Strings(ids)
	}
	var out []passwdTarget
	for _, id := range ids {
		path := s.x509KeyPath(id)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		ch := PassphraseChange{Protocol: core.ProtocolSMIME, Fingerprint: id, Name: "(a key awaiting its certificate)"}
		if c := byKey[id]; c != nil {
			ch.Fingerprint, ch.Name = CertFingerprint(c), dn.String(c.Subject)
		}
		what := "the private key of " + ch.Name + " (" + ch.Fingerprint + ")"
		out = append(out, passwdTarget{change: ch, path: path, reprotect: func(data []byte, old PassphraseFunc, newPass newPassphrase) ([]byte, error) {
			return reprotectX509(data, old, what, newPass)
		}})
	}
	return out, nil
}

// reprotectX509 writes a stored PKCS#12 key file again under newPass, with
// the certificate it holds (a certificate of the key, or Request's
// placeholder).
func reprotectX509(data []byte, old PassphraseFunc, what string, newPass newPassphrase) ([]byte, error) {
	f, err := openPKCS12(data, old, what)
	if errors.Is(err, pkcs12.ErrPassword) || errors.Is(err, errPasswordNeeded) || errors.Is(err, core.ErrLocked) {
		p, newErr := newPass()
		if newErr != nil {
			return nil, newErr
		}
		if _, again := pkcs12.Decode(data, string(p)); again == nil {
			return nil, nil
		}
		if errors.Is(err, core.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("wrong passphrase for %s: %w", what, core.ErrLocked)
	}
	if err != nil {
		return nil, err
	}
	if len(f.Keys) != 1 || len(f.Certs) == 0 {
		return nil, fmt.Errorf("the key file holds %d keys and %d certificates: %w", len(f.Keys), len(f.Certs), core.ErrInput)
	}
	var cert *x509.Certificate
	for _, c := range f.Certs {
		if publicKeyMatches(f.Keys[0].Key, c.Cert.PublicKey) {
			cert = c.Cert
		}
	}
	if cert == nil {
		return nil, fmt.Errorf("the key file holds no certificate of its key: %w", core.ErrInput)
	}
	p, err := newPass()
	if err != nil {
		return nil, err
	}
	var key crypto.PrivateKey = f.Keys[0].Key
	pfx, err := keyFileEncoder.Encode(key, cert, nil, string(p))
	if err != nil {
		return nil, fmt.Errorf("protecting the private key: %w", err)
	}
	return pfx, nil
}

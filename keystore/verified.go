package keystore

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/internal/atomicfile"
)

// Checked self-signatures.
//
// go-crypto checks a key's self-signatures (user ID certifications, subkey
// bindings with their back-signatures, direct-key signatures) when they are
// first used and keeps the result in the parsed key, but every process
// parses the stored keys again and checks them again: about six Ed25519
// signatures for a signed and encrypted message between two people, a
// tenth of a one-message run's time. So when the keystore writes an
// OpenPGP certificate or secret key file, it checks every self-signature
// in it once and records which verified:
//
//	<home>/pgp.verified/<FINGERPRINT>          of pgp.cert.d's certificate
//	<home>/pgp.verified/<FINGERPRINT>.secret   of pgp.keys/<FINGERPRINT>
//
// A record holds the SHA-256 of the exact file it describes, its format and
// the go-crypto version that checked it (a program built with another
// go-crypto than go.mod's keeps no records and uses none). When a key file is read, a signature
// its record lists is marked verified before go-crypto looks at it, if the
// record matches the file's bytes, format and go-crypto version; a key file
// changed in any way (another tool shares pgp.cert.d), a record of another
// version, or none, and the signatures are checked as before. A listed
// signature is marked only when it uses SHA-256, SHA-384 or SHA-512 and has
// no critical notation: its first check would then succeed under any policy
// mailseal applies (they reject only older hashes), and its expiry is
// judged at each use, as before. A record never marks a revocation and
// never marks a signature bad: it only spares a check whose result it holds.
// A record is a cache: it is written without syncing, and one that is torn
// or lost is not used.
const (
	verifiedDirName = "pgp.verified"
	verifiedMagic   = "mailseal verified self-signatures 1"
	maxVerified     = 64 << 10
)

// checkedWith is the go-crypto version in go.mod (TestCheckedWithGoMod
// keeps it so).
const checkedWith = "v1.5.2"

// checkerVersion names the go-crypto that checks signatures, or "" when it
// is not the version in go.mod (a program that uses this package and
// selects another go-crypto, or a local copy of it): then nothing is
// recorded or used. A test binary carries no dependency versions; it was
// built from go.mod.
var checkerVersion = sync.OnceValue(func() string {
	const module = "github.com/ProtonMail/go-crypto"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == module && (d.Replace != nil || d.Version != checkedWith) {
				return ""
			}
		}
	}
	return module + "@" + checkedWith
})

// verifiedPath is the record of the key file path, or "" for a file that
// is not an OpenPGP certificate or secret key of the store.
func (s *Store) verifiedPath(path string) string {
	dir, name := filepath.Split(filepath.Clean(path))
	dir = filepath.Clean(dir)
	switch {
	case dir == filepath.Clean(s.secretDir()):
		if fpr := strings.ToLower(name); isFingerprint(fpr) {
			return filepath.Join(s.dir, verifiedDirName, upper(fpr)+".secret")
		}
	case filepath.Dir(dir) == filepath.Clean(s.certDir()):
		if fpr := filepath.Base(dir) + name; isFingerprint(fpr) {
			return filepath.Join(s.dir, verifiedDirName, upper(fpr))
		}
	}
	return ""
}

func isFingerprint(fpr string) bool {
	return (len(fpr) == 40 || len(fpr) == 64) && isHex(fpr)
}

// writeKeyFile writes an OpenPGP certificate or secret key file (or any
// other key file, which gets no record) and records which of its
// self-signatures verify.
func (s *Store) writeKeyFile(path string, data []byte, perm os.FileMode) error {
	if err := writeAtomic(path, data, perm); err != nil {
		return err
	}
	s.recordVerified(path, data)
	return nil
}

// recordVerified checks every self-signature of the key file data at path
// and records those that verify. A record that cannot be made is removed:
// the signatures are then checked when used.
func (s *Store) recordVerified(path string, data []byte) {
	rec := s.verifiedPath(path)
	version := checkerVersion()
	if rec == "" || version == "" {
		return
	}
	e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(data)))
	if err != nil {
		_ = os.Remove(rec)
		return
	}
	var ok []string
	for _, sig := range selfSignatures(e) {
		if sig.check() == nil {
			ok = append(ok, sig.label)
		}
	}
	sum := sha256.Sum256(data)
	text := verifiedMagic + "\n" + version + "\n" + hex.EncodeToString(sum[:]) + "\n" + strings.Join(ok, " ") + "\n"
	if err := os.MkdirAll(filepath.Dir(rec), 0o700); err == nil {
		err = atomicfile.WriteOutput(rec, 0o600, func(w io.Writer) error {
			_, err := w.Write([]byte(text))
			return err
		})
		if err == nil {
			return
		}
	}
	_ = os.Remove(rec)
}

// forgetVerified removes the records of a deleted key's files.
func (s *Store) forgetVerified(fpr string) {
	_ = os.Remove(s.verifiedPath(s.certPath(fpr)))
	_ = os.Remove(s.verifiedPath(s.secretPath(fpr)))
}

// markVerified marks the self-signatures of e, parsed from the key file
// data at path, that the file's record lists and that need no other check.
func (s *Store) markVerified(e *openpgp.Entity, path string, data []byte) {
	rec := s.verifiedPath(path)
	version := checkerVersion()
	if rec == "" || version == "" {
		return
	}
	text, err := atomicfile.ReadFile(rec, maxVerified)
	if err != nil {
		return
	}
	lines := strings.Split(string(text), "\n")
	sum := sha256.Sum256(data)
	if len(lines) != 5 || lines[0] != verifiedMagic || lines[1] != version ||
		lines[2] != hex.EncodeToString(sum[:]) || lines[4] != "" {
		return
	}
	listed := map[string]bool{}
	for _, label := range strings.Fields(lines[3]) {
		listed[label] = true
	}
	valid := true
	for _, sig := range selfSignatures(e) {
		if listed[sig.label] && sig.sig.Valid == nil && needsNoOtherCheck(sig.sig.Packet) {
			sig.sig.Valid = &valid
		}
	}
}

// needsNoOtherCheck reports whether go-crypto's check of a self-signature
// beyond the signature itself (the hash against the policy, critical
// notations, expiry) succeeds under every policy mailseal applies, apart
// from expiry, which go-crypto judges again at each use.
func needsNoOtherCheck(sig *packet.Signature) bool {
	switch sig.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return false
	}
	for _, n := range sig.Notations {
		if n.IsCritical {
			return false
		}
	}
	return true
}

// selfSignature is one self-signature of a key, named by its place in it,
// with the check go-crypto makes of it.
type selfSignature struct {
	label string
	sig   *packet.VerifiableSignature
	check func() error
}

// selfSignatures lists the self-signatures of e that go-crypto checks
// lazily, in an order that depends only on e: direct-key signatures "dI",
// user ID certifications "uK.I" (user IDs sorted by name) and subkey
// bindings "sJ.I".
func selfSignatures(e *openpgp.Entity) []selfSignature {
	pk := e.PrimaryKey
	var out []selfSignature
	for i, sig := range e.DirectSignatures {
		out = append(out, selfSignature{"d" + strconv.Itoa(i), sig, func() error {
			return pk.VerifyDirectKeySignature(sig.Packet)
		}})
	}
	names := make([]string, 0, len(e.Identities))
	for name := range e.Identities {
		names = append(names, name)
	}
	sort.Strings(names)
	for k, name := range names {
		id := e.Identities[name]
		for i, sig := range id.SelfCertifications {
			out = append(out, selfSignature{"u" + strconv.Itoa(k) + "." + strconv.Itoa(i), sig, func() error {
				return pk.VerifyUserIdSignature(id.Name, pk, sig.Packet)
			}})
		}
	}
	for j := range e.Subkeys {
		sub := &e.Subkeys[j]
		for i, sig := range sub.Bindings {
			out = append(out, selfSignature{"s" + strconv.Itoa(j) + "." + strconv.Itoa(i), sig, func() error {
				return pk.VerifyKeySignature(sub.PublicKey, sig.Packet)
			}})
		}
	}
	return out
}

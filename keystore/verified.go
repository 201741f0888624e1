package keystore

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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
// what checked it: the Go release, GODEBUG, and the versions of go-crypto
// and circl (a program built with others than go.mod's keeps no records
// and uses none; see checkerVersion). When a key file is read, a signature
// its record lists is marked verified before go-crypto looks at it, if the
// record matches the file's bytes, format and checker; a key file changed
// in any way (another tool shares pgp.cert.d), a record of another
// checker, or none, and the signatures are checked as before. A listed
// signature is marked only when it uses SHA-256, SHA-384 or SHA-512, has
// no critical notation and no expiry time of its own: its first check
// would then succeed under any policy mailseal applies, at any time
// (go-crypto keeps the answer of its first check, expiry included, for
// every later question; see sameAtAnyTime). A record never marks a
// revocation and never marks a signature bad: it only spares a check whose
// result it holds.
// A record is a cache: it is written without syncing, and one that is torn
// or lost is not used.
const (
	verifiedDirName = "pgp.verified"
	verifiedMagic   = "mailseal verified self-signatures 1"
	maxVerified     = 64 << 10
)

// checkedWith are the versions in go.mod of the modules that check
// signatures: go-crypto, and circl for its Ed25519, X25519 and Ed448
// (TestCheckedWithGoMod keeps them so).
var checkedWith = map[string]string{
	"github.com/ProtonMail/go-crypto": "v1.5.2",
	"github.com/cloudflare/circl":     "v1.6.3",
}

// recordsWithoutBuildInfo lets a test binary, which carries no dependency
// versions, keep records: it was built from go.mod.
var recordsWithoutBuildInfo = false

// checkerVersion names what checks signatures — the Go release (whose
// crypto/rsa and crypto/ecdsa verify), GODEBUG (rsa1024min, fips140 and
// the like change what verifies), go-crypto and circl — or is "" when the
// modules are not go.mod's versions (a program that uses this package and
// selects others, a local copy) or the build does not say: then nothing is
// recorded or used.
var checkerVersion = sync.OnceValue(func() string {
	found := 0
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			want, ok := checkedWith[d.Path]
			if !ok {
				continue
			}
			if d.Replace != nil || d.Version != want {
				return ""
			}
			found++
		}
	}
	if found != len(checkedWith) && !(found == 0 && recordsWithoutBuildInfo) {
		return ""
	}
	return fmt.Sprintf("%s GODEBUG=%q go-crypto@%s circl@%s", runtime.Version(), os.Getenv("GODEBUG"),
		checkedWith["github.com/ProtonMail/go-crypto"], checkedWith["github.com/cloudflare/circl"])
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
	if writeRecord(rec, []byte(text)) != nil {
		_ = os.Remove(rec)
	}
}

// writeRecord replaces the record file rec with text: a temporary file
// renamed over it, without syncs (a record lost in a crash is made again
// when the key is next written; one torn does not match).
func writeRecord(rec string, text []byte) error {
	dir := filepath.Dir(rec)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := atomicfile.CreateTemp(dir, ".tmp-", 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), rec)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
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
	// Only a regular file is read: a link, a FIFO or a device put there
	// is not followed, waited on or read.
	if st, err := os.Lstat(rec); err != nil || !st.Mode().IsRegular() {
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
		if listed[sig.label] && sig.sig.Valid == nil && sameAtAnyTime(sig.sig.Packet) {
			sig.sig.Valid = &valid
		}
	}
}

// sameAtAnyTime reports whether go-crypto's first check of a self-signature
// gives the same answer under every policy mailseal applies and at any
// time it is asked for, given that the signature itself verifies. Beyond
// the signature, go-crypto checks the hash against the policy (mailseal's
// refuse only hashes older than SHA-256), critical notations, and expiry
// at the time of the first question, keeping that answer for later
// questions about other times: a signature with an expiry time is left to
// it, so that a key reads the same with a record as without.
func sameAtAnyTime(sig *packet.Signature) bool {
	switch sig.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return false
	}
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs != 0 {
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

package keystore

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/pgp"
)

// recordKeys are keys of every kind the records meet: Ed25519 and RSA v4
// keys with several user IDs and subkeys, revoked ones, DSA and ElGamal
// with SHA-1 self-signatures, v6 keys, and secret keys (not carol's: go-crypto
// validates an ElGamal secret key at every parse, seconds each).
var recordKeys = []string{
	"../testdata/corpora/openpgp/samples/alice.pgp",
	"../testdata/corpora/openpgp/samples/alice-secret.pgp",
	"../testdata/corpora/openpgp/samples/alice-revocation.pgp",
	"../testdata/corpora/openpgp/samples/bob.pgp",
	"../testdata/corpora/openpgp/samples/bob-secret.pgp",
	"../testdata/corpora/openpgp/samples/carol.pgp",
	"../testdata/corpora/openpgp/samples/john.pgp",
	"../testdata/corpora/openpgp/samples/ricarda.pgp",
	"../testdata/corpora/openpgp/rfc9580/v6-minimal-cert.key",
	"../testdata/corpora/openpgp/rfc9580/v6-minimal-secret.key",
	"testdata/openpgp/dsa3072-elg3072.asc",
}

// TestVerifiedRecordsChangeNothing checks that a key read with its record
// answers every validity question as the same key checked from scratch:
// user IDs, the primary key, encryption and signing keys, at dates before,
// during and long after the keys' lives, under mailseal's policy,
// go-crypto's defaults and a policy that refuses SHA-1 self-signatures. Each question gets freshly parsed keys, since
// go-crypto keeps the first answer it computes.
func TestVerifiedRecordsChangeNothing(t *testing.T) {
	s := newStore(t)
	for _, f := range recordKeys {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportPGP(bytes.NewReader(data), nil); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	// Self-signatures with SHA-1 and SHA-224: recorded, but judged by the
	// policy at each use.
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224} {
		e, err := openpgp.NewEntity("Old", "", "old-"+strings.ToLower(strings.ReplaceAll(h.String(), "-", ""))+"@example.org",
			&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range e.Identities {
			sig := id.SelfCertifications[0].Packet
			sig.Hash = h
			noSalt := false // the salt notation needs a SHA-2 length
			if err := sig.SignUserId(id.Name, e.PrimaryKey, e.PrivateKey, &packet.Config{NonDeterministicSignaturesViaNotation: &noSalt}); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportPGP(&b, nil); err != nil {
			t.Fatalf("%v: %v", h, err)
		}
	}
	fprs := s.certFingerprints()
	if len(fprs) < 6 {
		t.Fatalf("%d certificates stored", len(fprs))
	}
	// One certificate with a user ID signature that does not verify, as
	// another tool might have stored it, recorded as mailseal would.
	damaged := s.certPath(fprs[0])
	data := damageUserIDSignature(t, mustRead(t, damaged))
	if err := os.WriteFile(damaged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.recordVerified(damaged, data)
	dates := []time.Time{
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Now(),
		time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	configs := map[string]func() *packet.Config{
		"policy":   (&pgp.Engine{}).Config,
		"defaults": func() *packet.Config { return &packet.Config{} },
		"no SHA-1": func() *packet.Config {
			return &packet.Config{RejectHashAlgorithms: map[crypto.Hash]bool{crypto.SHA1: true, crypto.MD5: true, crypto.RIPEMD160: true}}
		},
	}
	marked := 0
	for _, fpr := range fprs {
		for _, secret := range []bool{false, true} {
			path := s.certPath(fpr)
			if secret {
				path = s.secretPath(fpr)
			}
			data, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(s.verifiedPath(path)); err != nil {
				t.Errorf("%s: no record: %v", path, err)
			}
			read := func() *openpgp.Entity { // as the store reads it
				var e *openpgp.Entity
				var err error
				if secret {
					e, err = s.PGPSecret(fpr)
				} else {
					e, err = s.entity(fpr)
				}
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			scratch := func() *openpgp.Entity { // as it would be with no record
				e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(data)))
				if err != nil {
					t.Fatal(err)
				}
				if secret { // PGPSecret's view of the certificate
					pub, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(mustRead(t, s.certPath(fpr)))))
					if err != nil {
						t.Fatal(err)
					}
					e.Revocations, e.DirectSignatures = pub.Revocations, pub.DirectSignatures
					for name, id := range pub.Identities {
						if own, ok := e.Identities[name]; ok {
							own.Revocations, own.SelfCertifications = id.Revocations, id.SelfCertifications
						}
					}
				}
				return e
			}
			for _, sig := range selfSignatures(read()) {
				if sig.sig.Valid != nil {
					marked++
				}
			}
			for _, date := range dates {
				for cname, cfg := range configs {
					got, want := validity(read(), date, cfg()), validity(scratch(), date, cfg())
					if got != want {
						t.Errorf("%s secret=%v at %s, %s:\nwith the record:\n%s\nfrom scratch:\n%s", fpr, secret, date.Format(time.DateOnly), cname, got, want)
					}
				}
			}
		}
	}
	if marked < 10 {
		t.Errorf("only %d signatures were marked from records", marked)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// validity writes down every validity answer go-crypto gives for e.
func validity(e *openpgp.Entity, date time.Time, cfg *packet.Config) string {
	var b strings.Builder
	result := func(what string, err error) { fmt.Fprintf(&b, "%s: %v\n", what, err) }
	names := make([]string, 0, len(e.Identities))
	for name := range e.Identities {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sig, err := e.Identities[name].Verify(date, cfg)
		if sig != nil {
			name += " " + sig.CreationTime.String()
		}
		result("user ID "+name, err)
	}
	_, err := e.VerifyPrimaryKey(date, cfg)
	result("primary key", err)
	result("revoked", fmt.Errorf("%v", e.Revoked(date)))
	for i := range e.Subkeys {
		sig, err := e.Subkeys[i].Verify(date, cfg)
		if sig != nil {
			fmt.Fprintf(&b, "subkey %d binding %s\n", i, sig.CreationTime)
		}
		result(fmt.Sprintf("subkey %d", i), err)
	}
	if k, err := e.EncryptionKeyWithError(date, cfg); err == nil {
		fmt.Fprintf(&b, "encryption key %X\n", k.PublicKey.Fingerprint)
	} else {
		result("encryption key", err)
	}
	if k, ok := e.SigningKey(date, cfg); ok {
		fmt.Fprintf(&b, "signing key %X\n", k.PublicKey.Fingerprint)
	} else {
		b.WriteString("no signing key\n")
	}
	return b.String()
}

// TestVerifiedRecordBound checks what a record is bound to: the exact bytes
// of its key file, the record format and the go-crypto version. A
// certificate whose user ID signature was damaged after its record was
// written is checked, and refused; a record of another version is not
// used. (A record that lists a bad signature for the file's bytes is
// believed: writing one needs write access to the keystore, which can
// replace the keys themselves.)
func TestVerifiedRecordBound(t *testing.T) {
	s := newStore(t)
	if _, err := s.ImportPGP(bytes.NewReader(mustRead(t, "../testdata/corpora/openpgp/samples/bob.pgp")), nil); err != nil {
		t.Fatal(err)
	}
	fprs := s.certFingerprints()
	if len(fprs) != 1 {
		t.Fatalf("%d certificates", len(fprs))
	}
	fpr := fprs[0]
	path, rec := s.certPath(fpr), s.verifiedPath(s.certPath(fpr))
	good := mustRead(t, path)
	record := string(mustRead(t, rec))
	if !strings.Contains(record, "u0.0") {
		t.Fatalf("the record lists no user ID signature:\n%s", record)
	}
	bad := damageUserIDSignature(t, good)
	addr := "bob@openpgp.example"
	lookup := func() error {
		_, err := s.PGPForAddress(addr)
		return err
	}
	if err := lookup(); err != nil {
		t.Fatalf("intact: %v", err)
	}
	// The damaged certificate, with the intact one's record.
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := lookup(); err == nil {
		t.Error("a damaged user ID signature was taken as verified, by the record of other bytes")
	}
	// A record that names the damaged bytes: believed in this format and
	// version, not in another.
	sum := sha256Hex(bad)
	lines := strings.Split(record, "\n")
	lines[2] = sum
	forged := strings.Join(lines, "\n")
	for _, c := range []struct {
		name, record string
		believed     bool
	}{
		{"same version", forged, true},
		{"other go-crypto", strings.Replace(forged, checkedWith, "v1.0.0", 1), false},
		{"other format", strings.Replace(forged, verifiedMagic, "mailseal verified self-signatures 0", 1), false},
		{"torn", forged[:len(forged)-1], false},
	} {
		if err := os.WriteFile(rec, []byte(c.record), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := lookup(); (err == nil) != c.believed {
			t.Errorf("%s: believed %v, want %v (%v)", c.name, err == nil, c.believed, err)
		}
	}
}

// damageUserIDSignature flips a bit in the last byte of the signature
// packet that follows the first user ID packet of a binary certificate.
func damageUserIDSignature(t *testing.T, cert []byte) []byte {
	t.Helper()
	out := bytes.Clone(cert)
	afterUID := false
	for off := 0; off < len(out); {
		tag, body, end := packetAt(t, out, off)
		if afterUID && tag == 2 {
			out[end-1] ^= 1
			return out
		}
		afterUID = afterUID || tag == 13
		_ = body
		off = end
	}
	t.Fatal("no user ID signature")
	return nil
}

// packetAt parses the header of the OpenPGP packet at off (either format,
// no partial lengths): its tag, where its body starts and where it ends.
func packetAt(t *testing.T, b []byte, off int) (tag, body, end int) {
	t.Helper()
	h := b[off]
	if h&0x80 == 0 {
		t.Fatalf("no packet at %d", off)
	}
	if h&0x40 != 0 { // new format
		tag = int(h & 0x3f)
		l := int(b[off+1])
		switch {
		case l < 192:
			return tag, off + 2, off + 2 + l
		case l < 224:
			n := (l-192)<<8 + int(b[off+2]) + 192
			return tag, off + 3, off + 3 + n
		case l == 255:
			n := int(b[off+2])<<24 | int(b[off+3])<<16 | int(b[off+4])<<8 | int(b[off+5])
			return tag, off + 6, off + 6 + n
		}
		t.Fatalf("partial length at %d", off)
	}
	tag = int(h>>2) & 0xf
	switch h & 3 {
	case 0:
		return tag, off + 2, off + 2 + int(b[off+1])
	case 1:
		return tag, off + 3, off + 3 + (int(b[off+1])<<8 | int(b[off+2]))
	case 2:
		n := int(b[off+1])<<24 | int(b[off+2])<<16 | int(b[off+3])<<8 | int(b[off+4])
		return tag, off + 5, off + 5 + n
	}
	t.Fatalf("indeterminate length at %d", off)
	return
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestNeedsNoOtherCheck: only SHA-2 signatures without critical notations
// are marked; any other is left to go-crypto's check under the policy.
func TestNeedsNoOtherCheck(t *testing.T) {
	for _, c := range []struct {
		hash     crypto.Hash
		critical bool
		want     bool
	}{
		{crypto.SHA256, false, true},
		{crypto.SHA384, false, true},
		{crypto.SHA512, false, true},
		{crypto.SHA256, true, false},
		{crypto.SHA1, false, false},
		{crypto.SHA224, false, false},
		{crypto.MD5, false, false},
		{crypto.RIPEMD160, false, false},
		{crypto.SHA3_256, false, false},
	} {
		sig := &packet.Signature{Hash: c.hash}
		if c.critical {
			sig.Notations = []*packet.Notation{{Name: "x@example.org", IsCritical: true}}
		}
		if got := needsNoOtherCheck(sig); got != c.want {
			t.Errorf("%v critical=%v: %v, want %v", c.hash, c.critical, got, c.want)
		}
	}
}

// TestCheckedWithGoMod keeps checkedWith at go.mod's go-crypto version, so
// that records made by one version are not used by another.
func TestCheckedWithGoMod(t *testing.T) {
	mod := mustRead(t, "../go.mod")
	m := regexp.MustCompile(`(?m)^\s*github\.com/ProtonMail/go-crypto (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/ProtonMail/go-crypto")
	}
	if string(m[1]) != checkedWith {
		t.Errorf("checkedWith is %s, go.mod requires %s: update checkedWith", checkedWith, m[1])
	}
}

// TestVerifiedRecordForgotten: deleting a key removes its records.
func TestVerifiedRecordForgotten(t *testing.T) {
	s := newStore(t)
	if _, err := s.ImportPGP(bytes.NewReader(mustRead(t, "../testdata/corpora/openpgp/samples/bob-secret.pgp")), nil); err != nil {
		t.Fatal(err)
	}
	fpr := s.certFingerprints()[0]
	recs, _ := filepath.Glob(filepath.Join(s.dir, verifiedDirName, "*"))
	if len(recs) != 2 {
		t.Fatalf("records %v, want the certificate's and the secret key's", recs)
	}
	if err := s.DeletePGP(fpr, true); err != nil {
		t.Fatal(err)
	}
	if recs, _ := filepath.Glob(filepath.Join(s.dir, verifiedDirName, "*")); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
}

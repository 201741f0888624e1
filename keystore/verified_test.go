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
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/pgp"
)

func init() { recordsWithoutBuildInfo = true }

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
// go-crypto's defaults and a policy that refuses SHA-1 self-signatures;
// and the same questions in turn on one parsed key. Each question gets freshly parsed keys, since
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
	// A user ID signature that expired a day after it was made, in 2020.
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return t0 }}
	e, err := openpgp.NewEntity("Expiring", "", "expiring@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range e.Identities {
		sig := id.SelfCertifications[0].Packet
		day := uint32(86400)
		sig.SigLifetimeSecs = &day
		if err := sig.SignUserId(id.Name, e.PrimaryKey, e.PrivateKey, cfg); err != nil {
			t.Fatal(err)
		}
	}
	var expiring bytes.Buffer
	if err := e.Serialize(&expiring); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportPGP(&expiring, nil); err != nil {
		t.Fatal(err)
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
		t0.Add(time.Hour),
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
			// The questions in turn on one parse, as a verification asks
			// about now and then about the signing time: go-crypto keeps
			// its first answers.
			for cname, cfg := range configs {
				withRecord, fromScratch := read(), scratch()
				for _, i := range []int{3, 2, 4, 1, 0} {
					got, want := validity(withRecord, dates[i], cfg()), validity(fromScratch, dates[i], cfg())
					if got != want {
						t.Errorf("%s secret=%v, %s, asked in turn, at %s:\nwith the record:\n%s\nfrom scratch:\n%s", fpr, secret, cname, dates[i].Format(time.DateOnly), got, want)
					}
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
	importFile(t, s, "samples/bob.pgp", nil)
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
		{"other go-crypto", strings.Replace(forged, "go-crypto@"+checkedWith["github.com/ProtonMail/go-crypto"], "go-crypto@v1.0.0", 1), false},
		{"other Go", strings.Replace(forged, runtime.Version(), "go1.20", 1), false},
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

// TestSameAtAnyTime: only SHA-2 signatures without critical notations or
// an expiry time are marked; any other is left to go-crypto's check under
// the policy and at the time asked.
func TestSameAtAnyTime(t *testing.T) {
	day := uint32(86400)
	for _, c := range []struct {
		hash     crypto.Hash
		critical bool
		lifetime *uint32
		want     bool
	}{
		{crypto.SHA256, false, nil, true},
		{crypto.SHA384, false, nil, true},
		{crypto.SHA512, false, nil, true},
		{crypto.SHA256, true, nil, false},
		{crypto.SHA256, false, &day, false},
		{crypto.SHA1, false, nil, false},
		{crypto.SHA224, false, nil, false},
		{crypto.MD5, false, nil, false},
		{crypto.RIPEMD160, false, nil, false},
		{crypto.SHA3_256, false, nil, false},
	} {
		sig := &packet.Signature{Hash: c.hash, SigLifetimeSecs: c.lifetime}
		if c.critical {
			sig.Notations = []*packet.Notation{{Name: "x@example.org", IsCritical: true}}
		}
		if got := sameAtAnyTime(sig); got != c.want {
			t.Errorf("%v critical=%v lifetime=%v: %v, want %v", c.hash, c.critical, c.lifetime != nil, got, c.want)
		}
	}
}

// TestCheckedWithGoMod keeps checkedWith at go.mod's versions, so that
// records made by one version are not used by another.
func TestCheckedWithGoMod(t *testing.T) {
	mod := mustRead(t, "../go.mod")
	for path, v := range checkedWith {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(path) + ` (v\S+)`).FindSubmatch(mod)
		if m == nil {
			t.Errorf("go.mod does not require %s", path)
		} else if string(m[1]) != v {
			t.Errorf("checkedWith has %s %s, go.mod requires %s: update checkedWith", path, v, m[1])
		}
	}
}

// TestSecretRecordNotOnCertificate: PGPSecret takes the user IDs'
// signatures from the certificate, which another tool may have changed;
// the secret key file's record must not mark them (it is applied before
// they are taken).
func TestSecretRecordNotOnCertificate(t *testing.T) {
	s := newStore(t)
	importFile(t, s, "samples/bob-secret.pgp", nil)
	fpr := s.certFingerprints()[0]
	bad := damageUserIDSignature(t, mustRead(t, s.certPath(fpr)))
	if err := os.WriteFile(s.certPath(fpr), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := s.PGPSecret(fpr)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Identities) == 0 {
		t.Fatal("no user IDs")
	}
	for name, id := range e.Identities {
		if _, err := id.Verify(time.Now(), (&pgp.Engine{}).Config()); err == nil {
			t.Errorf("%s: valid although the certificate's signature is damaged", name)
		}
	}
}

// TestVerifiedRecordForgotten: deleting a key removes its records.
func TestVerifiedRecordForgotten(t *testing.T) {
	s := newStore(t)
	importFile(t, s, "samples/bob-secret.pgp", nil)
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

package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

// keyFiles reads every secret key file of the store.
func keyFiles(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pattern := range []string{filepath.Join(s.secretDir(), "*"), filepath.Join(s.x509KeyDir(), "*.p12")} {
		names, _ := filepath.Glob(pattern)
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			out[n] = data
		}
	}
	return out
}

// publicPackets are the packets of a secret key file that are not secret
// key material.
func publicPackets(t *testing.T, data []byte) [][]byte {
	t.Helper()
	pkts, err := splitPackets(data)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, p := range pkts {
		if p.tag != tagSecretKey && p.tag != tagSecretSubkey {
			out = append(out, p.raw)
		}
	}
	return out
}

func TestChangePassphrase(t *testing.T) {
	s := newTestStore(t)
	old := []byte("old-pass")
	alice, err := s.GeneratePGP(GenerateOptions{UID: "Alice <alice@example.org>", Passphrase: old})
	if err != nil {
		t.Fatal(err)
	}
	v6, err := s.GeneratePGP(GenerateOptions{UID: "Six <six@example.org>", Profile: "rfc9580", Passphrase: old})
	if err != nil {
		t.Fatal(err)
	}
	open, err := s.GeneratePGP(GenerateOptions{UID: "Open <open@example.org>", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := s.GenerateCA(X509Options{Name: "Test CA", Passphrase: old})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := s.GenerateX509(X509Options{Email: "alice@example.org", Issuer: ca.Fingerprint, Passphrase: old, IssuerPassphrase: constPass("old-pass")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Request(X509Options{Email: "later@example.org", Passphrase: old}); err != nil {
		t.Fatal(err)
	}
	before := keyFiles(t, s)
	if len(before) != 6 {
		t.Fatalf("%d key files", len(before))
	}

	// A wrong old passphrase changes nothing, and says which keys it does
	// not open.
	_, err = s.ChangePassphrase(PassphraseOptions{All: true, Old: constPass("wrong"), New: constPass("new-pass")})
	if !errors.Is(err, core.ErrLocked) || !strings.Contains(err.Error(), alice.Fingerprint) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("wrong old passphrase: %v", err)
	}
	if after := keyFiles(t, s); !mapsEqual(before, after) {
		t.Fatal("a failed change wrote key files")
	}

	// One query: alice@example.org names an OpenPGP key and a certificate.
	changes, err := s.ChangePassphrase(PassphraseOptions{Query: "alice@example.org", Old: constPass("old-pass"), New: constPass("new-pass")})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Protocol != core.ProtocolOpenPGP || changes[0].Fingerprint != alice.Fingerprint ||
		changes[1].Protocol != core.ProtocolSMIME || changes[1].Fingerprint != leaf.Fingerprint || changes[1].Change != "passphrase changed" {
		t.Fatalf("changes: %+v", changes)
	}
	e, err := s.PGPSecret(alice.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if err := Unlock(e, constPass("old-pass")); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("the old passphrase still unlocks: %v", err)
	}
	if err := Unlock(e, constPass("new-pass")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.X509Identity(leaf.Fingerprint, constPass("new-pass")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.X509Identity(leaf.Fingerprint, constPass("old-pass")); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("the old passphrase still unlocks the certificate's key: %v", err)
	}
	// Only the secret key packets changed.
	after := keyFiles(t, s)
	alicePath := s.secretPath(normalizeFingerprint(alice.Fingerprint))
	if bytes.Equal(before[alicePath], after[alicePath]) || !slices.EqualFunc(publicPackets(t, before[alicePath]), publicPackets(t, after[alicePath]), bytes.Equal) {
		t.Fatal("passwd changed more than the secret key packets, or nothing")
	}

	// --all now: keys under the old passphrase change, those already under
	// the new one are said to be, the unprotected ones get the passphrase.
	changes, err = s.ChangePassphrase(PassphraseOptions{All: true, Old: constPass("old-pass"), New: constPass("new-pass")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range changes {
		got[c.Fingerprint] = c.Change
	}
	if len(changes) != 6 || got[alice.Fingerprint] != "already under the new passphrase" || got[leaf.Fingerprint] != "already under the new passphrase" ||
		got[v6.Fingerprint] != "passphrase changed" || got[open.Fingerprint] != "passphrase changed" || got[ca.Fingerprint] != "passphrase changed" {
		t.Fatalf("changes: %+v", changes)
	}
	for _, fpr := range []string{v6.Fingerprint, open.Fingerprint} {
		e, err := s.PGPSecret(fpr)
		if err != nil {
			t.Fatal(err)
		}
		if err := Unlock(e, constPass("new-pass")); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := s.ListPGP("open@example.org")
	if err != nil || len(infos) != 1 || !infos[0].Protected {
		t.Fatalf("the unprotected key is not protected now: %+v %v", infos, err)
	}
	// The key awaiting its certificate opens with the new passphrase too.
	for name, data := range keyFiles(t, s) {
		if strings.HasSuffix(name, ".p12") {
			if _, err := reprotectX509(data, constPass("new-pass"), "test", func() ([]byte, error) { return []byte("third"), nil }); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	// Private at rest, as before.
	for name := range keyFiles(t, s) {
		if st, err := os.Stat(name); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, st.Mode(), err)
		}
	}

	// One kind only, and what matches nothing.
	changes, err = s.ChangePassphrase(PassphraseOptions{Query: "alice@example.org", Protocol: core.ProtocolSMIME, Old: constPass("new-pass"), New: constPass("old-pass")})
	if err != nil || len(changes) != 1 || changes[0].Fingerprint != leaf.Fingerprint {
		t.Fatalf("--smime: %+v %v", changes, err)
	}
	if _, err := s.ChangePassphrase(PassphraseOptions{Query: "nobody@example.org", Old: constPass("x"), New: constPass("new-pass")}); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("no match: %v", err)
	}
	if _, err := s.ChangePassphrase(PassphraseOptions{Query: "Test CA", Protocol: core.ProtocolOpenPGP, Old: constPass("x"), New: constPass("new-pass")}); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("no OpenPGP match: %v", err)
	}
	if _, err := s.ChangePassphrase(PassphraseOptions{All: true, Old: constPass("new-pass"), New: constPass("")}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("empty new passphrase: %v", err)
	}
}

func mapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

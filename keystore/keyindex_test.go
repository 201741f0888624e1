package keystore

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// ageCertDirs sets the modification time of every cert-d subdirectory to
// when, as if the last change were that long ago (the index is only
// written once the directory has settled).
func ageCertDirs(t testing.TB, s *Store, when time.Time) {
	t.Helper()
	entries, err := os.ReadDir(s.certDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := os.Chtimes(filepath.Join(s.certDir(), e.Name()), when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// placeCert writes the certificate file fpr of from into the cert-d of
// to directly, as another tool sharing the directory would.
func placeCert(t testing.TB, from, to *Store, fpr string) {
	t.Helper()
	raw, err := os.ReadFile(from.certPath(fpr))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to.certPath(fpr)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to.certPath(fpr), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// lookup returns the fingerprints the index finds for the keys of want
// (primary key and each subkey), failing unless each finds exactly want.
func lookup(t *testing.T, idx *CertIndex, want *openpgp.Entity) {
	t.Helper()
	ids := []uint64{want.PrimaryKey.KeyId}
	for _, sk := range want.Subkeys {
		ids = append(ids, sk.PublicKey.KeyId)
	}
	for _, id := range ids {
		got := idx.EntitiesById(id)
		if len(got) != 1 || fingerprintOf(got[0]) != fingerprintOf(want) {
			t.Fatalf("key ID %016X: found %d certificates, want %s", id, len(got), fingerprintOf(want))
		}
	}
}

func TestCertIndex(t *testing.T) {
	s := newStore(t)
	importFile(t, s, "samples/alice.pgp", nil)
	importFile(t, s, "rfc9580/v6-minimal-cert.key", nil)
	certs, err := s.AllPGPCerts()
	if err != nil || len(certs) != 2 {
		t.Fatalf("%d certs, %v", len(certs), err)
	}
	indexPath := filepath.Join(s.Dir(), keyIndexName)

	// Just written: found, but the index is not saved yet.
	idx := s.PGPCertIndex()
	for _, c := range certs {
		lookup(t, idx, c)
	}
	if got := idx.EntitiesById(0x0123456789ABCDEF); len(got) != 0 {
		t.Fatalf("unknown key ID found %d certificates", len(got))
	}
	if _, err := os.Stat(indexPath); !os.IsNotExist(err) {
		t.Fatalf("index written while the directory was still changing: %v", err)
	}

	// Settled: the index is written, and then used.
	ageCertDirs(t, s, time.Now().Add(-time.Hour))
	lookup(t, s.PGPCertIndex(), certs[0])
	data, err := os.ReadFile(indexPath)
	if err != nil || !strings.HasPrefix(string(data), keyIndexMagic+"\n") {
		t.Fatalf("index not written: %v %q", err, data)
	}
	if st, _ := os.Stat(indexPath); st.Mode().Perm() != 0o600 {
		t.Fatalf("index mode %v", st.Mode().Perm())
	}
	// Proof that it is read: an index claiming alice's key ID belongs to
	// the v6 certificate is believed (the lookup then finds that one).
	v6Fpr := strings.ToLower(fingerprintOf(certs[1]))
	header, _, _ := strings.Cut(string(data), "\n")
	v6Dir := regexp.MustCompile(`(?m)^dir ` + v6Fpr[:2] + ` \d+\n`).FindString(string(data))
	if v6Dir == "" {
		t.Fatalf("no entry for the directory of %s:\n%s", v6Fpr, data)
	}
	aliceID := fmt.Sprintf("%016x", certs[0].PrimaryKey.KeyId)
	aliceLine := aliceID + " " + strings.ToLower(fingerprintOf(certs[0])) + "\n"
	if !strings.Contains(string(data), aliceLine) {
		t.Fatalf("alice's key ID is not indexed:\n%s", data)
	}
	forged := strings.Replace(string(data), aliceLine, "", 1)
	forged = strings.Replace(forged, v6Dir, v6Dir+aliceID+" "+v6Fpr+"\n", 1)
	if err := os.WriteFile(indexPath, []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}
	got := s.PGPCertIndex().EntitiesById(certs[0].PrimaryKey.KeyId)
	if len(got) != 1 || fingerprintOf(got[0]) != fingerprintOf(certs[1]) {
		t.Fatal("the index file was not used")
	}

	// A certificate added by another tool sharing the directory changes
	// the stamp: the stale index is rebuilt.
	other := newStore(t)
	importFile(t, other, "samples/bob.pgp", nil)
	bob, _ := other.AllPGPCerts()
	bobFprLower := strings.ToLower(fingerprintOf(bob[0]))
	placeCert(t, other, s, bobFprLower)
	ageCertDirs(t, s, time.Now().Add(-30*time.Minute))
	idx = s.PGPCertIndex()
	lookup(t, idx, bob[0])
	lookup(t, idx, certs[0]) // the forged entry is gone
	if data2, _ := os.ReadFile(indexPath); string(data2) == forged || !strings.Contains(string(data2), bobFprLower) {
		t.Fatalf("index not rewritten:\n%s", data2)
	}

	// A damaged index is rebuilt.
	if err := os.WriteFile(indexPath, []byte(header+"\nnot an entry\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup(t, s.PGPCertIndex(), certs[1])

	// A deleted certificate is not found any more.
	if err := s.DeletePGP(fingerprintOf(bob[0]), false); err != nil {
		t.Fatal(err)
	}
	ageCertDirs(t, s, time.Now().Add(-20*time.Minute))
	if got := s.PGPCertIndex().EntitiesById(bob[0].PrimaryKey.KeyId); len(got) != 0 {
		t.Fatal("deleted certificate still found")
	}
}

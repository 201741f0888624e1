package keystore

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// bigKey is an unprotected transferable secret key with n user IDs.
func bigKey(t testing.TB, name string, n int) []byte {
	t.Helper()
	uids := make([]string, n)
	for i := range uids {
		uids[i] = fmt.Sprintf("%s %d <%s%d@example.org>", name, i, name, i)
	}
	e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: uids})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := e.SerializePrivateWithoutSigning(&b, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func importBytes(t testing.TB, s *Store, data []byte) []ImportResult {
	t.Helper()
	res, err := s.ImportPGP(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func corpusEntity(t testing.TB, name string) *openpgp.Entity {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil || len(list) != 1 {
		t.Fatalf("%s: %d keys, %v", name, len(list), err)
	}
	return list[0]
}

// lookupMessages are a message signed by alice (a detached signature) and
// one encrypted to her and signed by her.
type lookupMessages struct {
	engine          *pgp.Engine
	signed, sig, ct []byte
}

func newLookupMessages(t testing.TB) *lookupMessages {
	t.Helper()
	alice := corpusEntity(t, "samples/alice-secret.pgp")
	m := &lookupMessages{engine: pgp.New(core.DefaultPolicy()), signed: []byte("Hello, Bob.\r\n")}
	var sig, ct bytes.Buffer
	w, err := m.engine.SignDetached(&sig, alice)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(m.signed)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = m.engine.Encrypt(&ct, []*openpgp.Entity{alice}, alice)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(m.signed)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m.sig, m.ct = sig.Bytes(), ct.Bytes()
	return m
}

// verify checks the signature with the keyring the CLI uses and returns
// the key file bytes the store read for it.
func (m *lookupMessages) verify(t testing.TB, s *Store) int64 {
	t.Helper()
	before := s.keyBytesRead.Load()
	kr := s.PGPKeyring(nil)
	signers, _, err := m.engine.VerifyDetached(bytes.NewReader(m.signed), bytes.NewReader(m.sig), kr.Certs)
	if err != nil || len(signers) != 1 || signers[0].Status != core.SignerGood {
		t.Fatalf("verify: %v %+v", err, signers)
	}
	return s.keyBytesRead.Load() - before
}

// decrypt decrypts the message and checks its signature, and returns the
// key file bytes the store read for it.
func (m *lookupMessages) decrypt(t testing.TB, s *Store) int64 {
	t.Helper()
	before := s.keyBytesRead.Load()
	d, err := m.engine.Decrypt(bytes.NewReader(m.ct), s.PGPKeyring(nil))
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	defer d.Close()
	body, _ := io.ReadAll(d.Body)
	if !bytes.Equal(body, m.signed) || len(d.Signers) != 1 || d.Signers[0].Status != core.SignerGood {
		t.Fatalf("decrypt: %q %+v", body, d.Signers)
	}
	return s.keyBytesRead.Load() - before
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// A verification reads the signer's certificate and nothing else, and a
// decryption adds the recipient's secret key, however many and however
// large the other stored keys (public and secret) are. A certificate added
// since the key-ID index was written costs a read of its cert-d
// subdirectory, not of the whole directory.
func TestLookupsReadOnlyWhatTheyNeed(t *testing.T) {
	m := newLookupMessages(t)
	small, big := newStore(t), newStore(t)
	for _, s := range []*Store{small, big} {
		importFile(t, s, "samples/alice-secret.pgp", nil)
		importFile(t, s, "samples/bob.pgp", nil)
	}
	var others int64
	for i := 0; i < 4; i++ {
		importBytes(t, big, bigKey(t, fmt.Sprintf("other%d", i), 300))
	}
	for _, fpr := range big.certFingerprints() {
		others += fileSize(t, big.certPath(fpr))
	}
	aliceCert := fileSize(t, small.certPath(strings.ToLower(aliceFpr)))
	for _, s := range []*Store{small, big} {
		ageCertDirs(t, s, time.Now().Add(-time.Hour))
		s.keyIDs() // writes the index
	}

	v1, v2 := m.verify(t, small), m.verify(t, big)
	if v1 != aliceCert || v2 != v1 {
		t.Fatalf("verify read %d bytes of keys with 2 keys stored, %d with %d KiB of other keys; want %d (alice's certificate)",
			v1, v2, others>>10, aliceCert)
	}
	d1, d2 := m.decrypt(t, small), m.decrypt(t, big)
	if d1 <= aliceCert || d2 != d1 {
		t.Fatalf("decrypt read %d bytes of keys with 2 keys stored, %d with %d KiB of other keys", d1, d2, others>>10)
	}

	// A new certificate (here another tool's, written into the directory):
	// the next look-up reads its subdirectory again, and only that.
	raw, err := os.ReadFile(filepath.Join(corpus, "samples/carol.pgp"))
	if err != nil {
		t.Fatal(err)
	}
	res := importBytes(t, small, raw)
	carol := strings.ToLower(res[0].Fingerprint)
	placeCert(t, small, big, carol)
	var dir int64
	files, _ := os.ReadDir(filepath.Dir(big.certPath(carol)))
	for _, f := range files {
		dir += fileSize(t, filepath.Join(filepath.Dir(big.certPath(carol)), f.Name()))
	}
	if got := m.verify(t, big); got != aliceCert+dir {
		t.Fatalf("verify after a new certificate read %d bytes of keys, want %d (alice's certificate and the %d bytes of %s's subdirectory)",
			got, aliceCert+dir, dir, carol[:2])
	}
	if got := big.PGPCertIndex().EntitiesById(corpusEntity(t, "samples/carol.pgp").PrimaryKey.KeyId); len(got) != 1 {
		t.Fatalf("the new certificate is found %d times", len(got))
	}
}

// BenchmarkVerifyLargeKeystore verifies a signature with the keyring the
// CLI uses, from a keystore that also holds 100 other keys with secret
// parts and 100 user IDs each: the work and the key bytes read (key-B/op)
// are those of the signer's certificate alone.
func BenchmarkVerifyLargeKeystore(b *testing.B) {
	m := newLookupMessages(b)
	s := newStore(b)
	importFile(b, s, "samples/alice-secret.pgp", nil)
	for i := 0; i < 100; i++ {
		importBytes(b, s, bigKey(b, fmt.Sprintf("other%d", i), 100))
	}
	ageCertDirs(b, s, time.Now().Add(-time.Hour))
	s.keyIDs()
	b.ResetTimer()
	var read int64
	for i := 0; i < b.N; i++ {
		read += m.verify(b, s)
	}
	b.ReportMetric(float64(read)/float64(b.N), "key-B/op")
}

package keystore

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/autocrypt"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// cacheWorld is a keystore with alice's and bob's keys of both kinds, with
// their secret keys (OpenPGP Ed25519; S/MIME from one trusted CA, with the
// given algorithm).
func cacheWorld(t testing.TB, algo string) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob"} {
		if _, err := s.GeneratePGP(GenerateOptions{UID: who + " <" + who + "@example.org>", NoPassphrase: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GenerateCA(X509Options{Name: "Cache CA", Algo: algo, NoPassphrase: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trust("Cache CA"); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob"} {
		if _, err := s.GenerateX509(X509Options{Email: who + "@example.org", Algo: algo, Issuer: "Cache CA", NoPassphrase: true}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// settle sets the cache's timings for a test (short, so that the test
// need not wait seconds for a change to settle) and waits until the
// keystore's last write has settled.
func settle(t testing.TB) {
	t.Helper()
	oldSettle, oldRecheck := cacheSettle, cacheRecheck
	cacheSettle, cacheRecheck = 100*time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { cacheSettle, cacheRecheck = oldSettle, oldRecheck })
	time.Sleep(cacheSettle + cacheRecheck)
}

// waitSettled waits until a write is seen and has settled.
func waitSettled() { time.Sleep(cacheSettle + 2*cacheRecheck) }

// waitRecheck waits twice the session's interval between stamps, so
// that its next look-up takes the stamp again: cacheRecheck, or longer
// after a stamp that took long (stampRecheckFactor), as on a machine
// busy with other tests.
func waitRecheck(se *Session) {
	se.cache.mu.Lock()
	r := se.cache.recheckLocked()
	se.cache.mu.Unlock()
	time.Sleep(2 * r)
}

// The session looks up and validates each key once while the keystore is
// unchanged (the look-ups read no key file again), and sees a key that is
// deleted or added, by mailseal or by another program writing the
// directory, on the next look-up after cacheRecheck.
func TestSessionCache(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	settle(t)
	se := s.Session(SessionOptions{})

	// lookups runs every kind of look-up and returns what it found.
	lookups := func() string {
		var out []string
		for _, p := range []string{mailseal.ProtocolOpenPGP, mailseal.ProtocolSMIME} {
			for _, addr := range []string{"alice@example.org", "bob@example.org", "carol@example.org"} {
				keys, _, err := se.RecipientKeys(p, addr)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%s %s %d", p, addr, len(keys)))
			}
			ok, err := se.HasSigner(p, "alice@example.org")
			if err != nil {
				t.Fatal(err)
			}
			_, err = se.Signer(p, "alice@example.org")
			out = append(out, fmt.Sprintf("%s signer %v %v", p, ok, err == nil))
		}
		trust, err := se.Trust()
		if err != nil {
			t.Fatal(err)
		}
		ids, err := se.decryptionIdentities()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("anchors %d identities %d", len(trust.Roots), len(ids)))
		return strings.Join(out, "; ")
	}
	first := lookups()
	want := "openpgp alice@example.org 1; openpgp bob@example.org 1; openpgp carol@example.org 0; openpgp signer true true; " +
		"smime alice@example.org 1; smime bob@example.org 1; smime carol@example.org 0; smime signer true true; anchors 1 identities 2"
	if first != want {
		t.Fatalf("found %s\nwant %s", first, want)
	}
	misses, read := se.cache.misses.Load(), s.keyBytesRead.Load()
	for i := 0; i < 3; i++ {
		if again := lookups(); again != first {
			t.Fatalf("from the cache: %s\nfirst: %s", again, first)
		}
	}
	if m, r := se.cache.misses.Load(), s.keyBytesRead.Load(); m != misses || r != read {
		t.Fatalf("the same look-ups again read the keystore: %d more look-ups, %d more bytes of keys", m-misses, r-read)
	}

	// Deleted by mailseal: seen at once (cacheRecheck later), and nothing
	// is kept until the change settles.
	if err := s.DeletePGP("bob@example.org", true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteX509("bob@example.org", true); err != nil {
		t.Fatal(err)
	}
	waitRecheck(se)
	gone := strings.NewReplacer("openpgp bob@example.org 1", "openpgp bob@example.org 0", "smime bob@example.org 1", "smime bob@example.org 0", "identities 2", "identities 1").Replace(want)
	if got := lookups(); got != gone {
		t.Fatalf("after bob's keys were deleted: %s", got)
	}
	before := se.cache.misses.Load()
	lookups()
	if se.cache.misses.Load() == before {
		t.Fatal("a change that has not settled was trusted")
	}
	waitSettled()
	lookups()
	before = se.cache.misses.Load()
	if got := lookups(); got != gone || se.cache.misses.Load() != before {
		t.Fatalf("after the change settled: %s, %d look-ups", got, se.cache.misses.Load()-before)
	}

	// Added by another program: a certificate file written into the cert-d
	// (by sq, say), and the anchor removed from x509/trust, after which
	// alice's certificate no longer validates.
	carol, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Carol <carol@example.org>"}})
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := carol.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	fpr := fmt.Sprintf("%x", carol.PrimaryKey.Fingerprint)
	os.MkdirAll(filepath.Dir(s.certPath(fpr)), 0o700)
	if err := os.WriteFile(s.certPath(fpr), pub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	anchors, _ := filepath.Glob(filepath.Join(s.trustDir(), "*.pem"))
	if len(anchors) != 1 || os.Remove(anchors[0]) != nil {
		t.Fatalf("anchors: %v", anchors)
	}
	waitRecheck(se)
	got := lookups()
	if !strings.Contains(got, "openpgp carol@example.org 1") || !strings.Contains(got, "anchors 0") ||
		!strings.Contains(got, "smime alice@example.org 0") {
		t.Fatalf("after carol's certificate was added and the anchor removed: %s", got)
	}

	// The outbox is not the keystore: writing it keeps the cache.
	os.MkdirAll(filepath.Join(s.Dir(), "outbox"), 0o700)
	waitSettled()
	lookups()
	before = se.cache.misses.Load()
	os.WriteFile(filepath.Join(s.Dir(), "outbox", "x.eml"), []byte("x"), 0o600)
	waitRecheck(se)
	lookups()
	if se.cache.misses.Load() != before {
		t.Fatal("a write to the outbox dropped the cache")
	}
	// Nor is the Autocrypt state.
	if err := s.Autocrypt().Ingest(autocrypt.Incoming{From: "x@example.org", Date: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	waitSettled()
	lookups()
	before = se.cache.misses.Load()
	if err := s.Autocrypt().Ingest(autocrypt.Incoming{From: "y@example.org", Date: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	waitRecheck(se)
	lookups()
	if se.cache.misses.Load() != before {
		t.Fatal("a write to the Autocrypt state dropped the cache")
	}
}

// What an S/MIME sign+encrypt looks up — the recipient, the trust to
// validate it, the signer and its chain, and the decryption identities —
// lists and checks the stored certificates once (and the trust anchors
// once), not once per look-up: each listing checks every certificate
// file's tag, a system call per stored certificate. The look-ups find
// what the Store's own methods find.
func TestSessionListsCertificatesOnce(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	if _, err := s.GenerateCA(X509Options{Name: "Other CA", Algo: "ecdsa-p256", NoPassphrase: true}); err != nil {
		t.Fatal(err)
	}
	settle(t)
	se := s.Session(SessionOptions{})
	before := s.certDirReads.Load()
	keys, _, err := se.RecipientKeys(mailseal.ProtocolSMIME, "bob@example.org")
	if err != nil || len(keys) != 1 {
		t.Fatalf("recipient: %d keys, %v", len(keys), err)
	}
	signer, err := se.Signer(mailseal.ProtocolSMIME, "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := se.decryptionIdentities()
	if err != nil || len(ids) != 2 {
		t.Fatalf("%d identities, %v", len(ids), err)
	}
	trust, err := se.Trust()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := se.HasSigner(mailseal.ProtocolSMIME, "alice@example.org"); !ok || err != nil {
		t.Fatalf("HasSigner: %v, %v", ok, err)
	}
	if _, err := se.SignerMatching("alice@example.org", mailseal.ProtocolSMIME); err != nil {
		t.Fatal(err)
	}
	// As intermediates only the other CA: alice's and bob's certificates
	// may sign neither certificates nor CRLs. As Known, every stored
	// certificate (a message may name its signer's without carrying it),
	// as the Store's own listing has them.
	if len(trust.Intermediates) != 1 || trust.Intermediates[0].Subject.CommonName != "Other CA" || len(trust.Roots) != 1 {
		t.Errorf("the trust's intermediates %d, anchors %d, want the other CA and one", len(trust.Intermediates), len(trust.Roots))
	}
	known, err := trust.Known()
	if err != nil {
		t.Fatal(err)
	}
	if n := s.certDirReads.Load() - before; n != 2 {
		t.Errorf("the look-ups listed a certificate directory %d times, want 2 (the certificates, the anchors)", n)
	}
	all, err := s.AllX509Certs()
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != len(all) || len(all) != 4 {
		t.Errorf("the trust knows %d certificates, the store lists %d, want 4", len(known), len(all))
	}
	for i := range all {
		if i < len(known) && !all[i].Equal(known[i]) {
			t.Errorf("known certificate %d differs", i)
		}
	}
	fpr := signer.Fingerprint()
	_, _, chain, err := s.X509Identity(fpr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := signer.(smime.Signer).Identity.Chain; len(got) != 1 || len(chain) != 1 || !got[0].Equal(chain[0]) {
		t.Errorf("the session's chain of the signer %d certificates, the store's %d, want the CA", len(got), len(chain))
	}
	if inter, err := s.Intermediates(); err != nil || len(inter) != 1 || !inter[0].Equal(trust.Intermediates[0]) {
		t.Errorf("the Store's intermediates %d (%v), want the session trust's", len(inter), err)
	}
}

// Keys (what decrypt and verify use) find a certificate by key ID once, and
// no longer once it is deleted.
func TestSessionKeysFollowTheKeystore(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	settle(t)
	se := s.Session(SessionOptions{})
	bob, err := s.FindOnePGP("bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	id := bob.PrimaryKey.KeyId
	keys := se.Keys()
	if n := len(keys.OpenPGP.Certs.EntitiesById(id)); n != 1 {
		t.Fatalf("%d certificates for bob's key ID", n)
	}
	read := s.keyBytesRead.Load()
	keys.OpenPGP.Certs.EntitiesById(id)
	if s.keyBytesRead.Load() != read {
		t.Fatal("bob's certificate was read again")
	}
	if err := s.DeletePGP("bob@example.org", true); err != nil {
		t.Fatal(err)
	}
	waitRecheck(se)
	if n := len(keys.OpenPGP.Certs.EntitiesById(id)); n != 0 {
		t.Fatalf("%d certificates for bob's key ID after it was deleted", n)
	}
}

// A batch encrypting and signing messages (what encrypt --batch does for
// each: choose the recipients' keys, the signer, and encrypt) sees a key
// deleted in the middle of it: the messages after fail for want of the
// key, those before were encrypted to it.
func TestSessionBatchSeesDeletedKey(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	settle(t)
	se := s.Session(SessionOptions{})
	var results []string
	for i := 0; i < 6; i++ {
		if i == 3 {
			if err := s.DeletePGP("bob@example.org", true); err != nil {
				t.Fatal(err)
			}
			waitRecheck(se)
		}
		err := encryptSign(se, batchMessage(t), []string{mailseal.ProtocolOpenPGP}, io.Discard)
		results = append(results, fmt.Sprint(err == nil))
	}
	if got := strings.Join(results, " "); got != "true true true false false false" {
		t.Fatalf("encrypted: %s", got)
	}
}

func batchMessage(t testing.TB) *mime.Message {
	m, err := mime.Parse(strings.NewReader("From: alice@example.org\r\nTo: bob@example.org\r\nSubject: batch\r\n\r\n"+
		strings.Repeat("A line of a small message.\r\n", 80)), mime.DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// encryptSign does what encrypt --batch --sign does with a message.
func encryptSign(se *Session, m *mime.Message, order []string, w io.Writer) error {
	addrs, err := mailseal.RecipientAddresses(m, nil, true)
	if err != nil {
		return err
	}
	sel, err := mailseal.ChooseRecipients(se, addrs, order)
	if err != nil {
		return err
	}
	signer, err := se.Signer(sel.Protocol, "alice@example.org")
	if err != nil {
		return err
	}
	return mailseal.Encrypt(w, m, sel.Recipients, mailseal.SignWith(signer))
}

// BenchmarkSessionEncryptSign is encrypt --batch --sign's work on a small
// message (choose the keys, sign, encrypt), with the session's cache and
// without it (every look-up reads and validates the keys again), for each
// protocol; S/MIME with ECDSA P-256 and RSA-3072 certificates (an Ed25519
// certificate signs but cannot be encrypted to). openpgp-unrecorded is
// openpgp with the records of checked self-signatures removed (a keystore
// whose keys were written by another tool or an older mailseal): without
// the cache, each look-up checks them again.
func BenchmarkSessionEncryptSign(b *testing.B) {
	for _, c := range []struct{ name, protocol, algo string }{
		{"openpgp", mailseal.ProtocolOpenPGP, "ecdsa-p256"},
		{"openpgp-unrecorded", mailseal.ProtocolOpenPGP, "ecdsa-p256"},
		{"smime-p256", mailseal.ProtocolSMIME, "ecdsa-p256"},
		{"smime-rsa3072", mailseal.ProtocolSMIME, "rsa3072"},
	} {
		s := cacheWorld(b, c.algo)
		if c.name == "openpgp-unrecorded" {
			if err := os.RemoveAll(filepath.Join(s.dir, verifiedDirName)); err != nil {
				b.Fatal(err)
			}
		}
		oldSettle := cacheSettle
		cacheSettle = 0 // the keys were written a moment ago
		for _, cache := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/cache=%v", c.name, cache), func(b *testing.B) {
				se := s.Session(SessionOptions{SMIMESign: smime.SignOptions{}})
				se.cache.off = !cache
				m := batchMessage(b)
				defer m.Close()
				b.ReportAllocs()
				for b.Loop() {
					if err := encryptSign(se, m, []string{c.protocol}, io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		cacheSettle = oldSettle
	}
}

// A key directory linked in from elsewhere is part of the session's stamp
// (through the link, as the look-ups read it): another program deleting
// a certificate there is seen once the change settles. The stamp skipped
// links, so a session kept the certificate until its entries expired.
func TestSessionStampThroughLinkedDirectory(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	elsewhere := filepath.Join(t.TempDir(), "certs")
	if err := os.Rename(s.x509CertDir(), elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, s.x509CertDir()); err != nil {
		t.Fatal(err)
	}
	settle(t)
	se := s.Session(SessionOptions{})
	recipients := func() int {
		keys, _, err := se.RecipientKeys(mailseal.ProtocolSMIME, "bob@example.org")
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	if n := recipients(); n != 1 {
		t.Fatalf("%d keys for bob", n)
	}
	bob, err := s.FindOneX509("bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(elsewhere, CertFingerprint(bob)+".pem")); err != nil {
		t.Fatal(err)
	}
	waitSettled()
	if n := recipients(); n != 0 {
		t.Fatalf("%d keys for bob after his certificate was deleted", n)
	}
}

// A certificate deleted between the session's listing and the unlocking
// of its key is not a decryption identity; the others still are (it made
// every S/MIME decryption of the session fail).
func TestSessionIdentityDeletedSinceListing(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	settle(t)
	cacheRecheck = time.Hour // the deletion is not seen by the stamp (settle restores it)
	se := s.Session(SessionOptions{})
	if _, err := se.x509Certs(); err != nil {
		t.Fatal(err)
	}
	bob, err := s.FindOneX509("bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.x509CertPath(CertFingerprint(bob))); err != nil {
		t.Fatal(err)
	}
	ids, err := se.decryptionIdentities()
	if err != nil || len(ids) != 1 || !slices.Contains(CertEmails(ids[0].Cert), "alice@example.org") {
		t.Fatalf("%d identities, %v", len(ids), err)
	}
}

// Decrypting and verifying a message that carries its signer's
// certificate parses, of the stored certificates, only those that may
// issue (Trust's intermediates) and those whose private keys are stored
// (the decryption identities): none of the other people's. Trust's Known
// parses them when a message names a signer it does not carry.
func TestSessionOpenParsesOnlyWhatItNeeds(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := cacheWorld(t, "ecdsa-p256")
	for i := range 5 {
		other := indexTestCert(t, fmt.Sprintf("other%d", i), []string{fmt.Sprintf("other%d@example.org", i)}, x509.KeyUsageDigitalSignature, false)
		if _, err := s.ImportX509(other, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.storedCertificates(); err != nil { // writes the index
		t.Fatal(err)
	}
	settle(t)
	s2, err := Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	se := s2.Session(SessionOptions{})
	parsed := func() (names []string) {
		for _, p := range s2.x509Parsed[s2.x509CertDir()] {
			names = append(names, p.cert.Subject.CommonName)
		}
		slices.Sort(names)
		return names
	}
	ids, err := se.decryptionIdentities()
	if err != nil || len(ids) != 2 {
		t.Fatalf("%d identities, %v", len(ids), err)
	}
	trust, err := se.Trust()
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed(); !slices.Equal(got, []string{"Cache CA", "alice@example.org", "bob@example.org"}) {
		t.Errorf("parsed %q, want the CA, alice's and bob's", got)
	}
	known, err := trust.Known()
	if err != nil || len(known) != 8 {
		t.Fatalf("%d known certificates, %v; want 8", len(known), err)
	}
	if got := parsed(); len(got) != 8 {
		t.Errorf("parsed %q, want all 8", got)
	}
}

// The caches the look-ups write — the key and certificate indexes in the
// key directory, the records of checked self-signatures — are not changes
// to the keystore: writing them keeps what a session found (while they
// counted, a process's first look-ups, which write them, dropped it, and
// nothing was kept for cacheSettle after). A change to provenance.json,
// which look-ups read, and a directory added to the key directory drop it.
func TestSessionCacheKeptAcrossCacheWrites(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	settle(t)
	se := s.Session(SessionOptions{})
	lookups := func() {
		t.Helper()
		for _, p := range []string{mailseal.ProtocolOpenPGP, mailseal.ProtocolSMIME} {
			if keys, _, err := se.RecipientKeys(p, "bob@example.org"); err != nil || len(keys) != 1 {
				t.Fatalf("%s: %d keys for bob, %v", p, len(keys), err)
			}
		}
	}
	lookups()
	before := se.cache.misses.Load()
	for _, path := range []string{
		filepath.Join(s.dir, keyIndexName), filepath.Join(s.dir, x509IndexName),
		filepath.Join(s.dir, verifiedDirName, strings.Repeat("AB", 20)),
	} {
		data, _ := os.ReadFile(path)
		if err := writeAtomic(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		waitRecheck(se)
		lookups()
		if n := se.cache.misses.Load() - before; n != 0 {
			t.Fatalf("writing %s dropped the cache: %d look-ups", filepath.Base(path), n)
		}
	}
	change := func(what string, write func() error) {
		t.Helper()
		waitSettled()
		lookups()
		before := se.cache.misses.Load()
		if err := write(); err != nil {
			t.Fatal(err)
		}
		waitRecheck(se)
		lookups()
		if se.cache.misses.Load() == before {
			t.Fatalf("%s kept the cache", what)
		}
	}
	change("a new provenance.json", func() error {
		data, err := os.ReadFile(s.provenanceFile())
		if err != nil {
			return err
		}
		return writeAtomic(s.provenanceFile(), append(data, ' '), 0o600)
	})
	change("a directory added", func() error { return os.Mkdir(filepath.Join(s.dir, "dkim"), 0o700) })
}

// The stamp is taken again every cacheRecheck, or every
// stampRecheckFactor times as long as the last one took if that is longer.
func TestSessionStampRecheckFollowsItsCost(t *testing.T) {
	s := cacheWorld(t, "ecdsa-p256")
	settle(t)
	se := s.Session(SessionOptions{})
	lookup := func() {
		t.Helper()
		if keys, _, err := se.RecipientKeys(mailseal.ProtocolOpenPGP, "bob@example.org"); err != nil || len(keys) != 1 {
			t.Fatalf("%d keys for bob, %v", len(keys), err)
		}
	}
	took := func(d time.Duration) { se.cache.mu.Lock(); se.cache.took = d; se.cache.mu.Unlock() }
	lookup()
	n := se.cache.stamps.Load()
	took(time.Hour / stampRecheckFactor) // as if the stamp took that long
	time.Sleep(2 * cacheRecheck)
	lookup()
	if got := se.cache.stamps.Load(); got != n {
		t.Fatalf("the stamp was taken again %d times", got-n)
	}
	// However long the last stamp took, it is taken again after
	// stampRecheckMax.
	se.cache.mu.Lock()
	se.cache.checked = se.cache.checked.Add(-stampRecheckMax)
	se.cache.mu.Unlock()
	lookup()
	if got := se.cache.stamps.Load(); got != n+1 {
		t.Fatalf("after stampRecheckMax the stamp was taken again %d times, want once", got-n)
	}
	took(0)
	time.Sleep(2 * cacheRecheck)
	lookup()
	if got := se.cache.stamps.Load(); got != n+2 {
		t.Fatalf("the stamp was taken again %d times, want twice", got-n)
	}
}

// A Trust taken before a certificate is added or deleted, whose Known is
// first asked after the change, gives its own listing's certificates, and
// the Trust taken after the change knows the keystore as it now is: the
// earlier Known kept what it read in the session's cache, under the new
// keystore's generation (found by review).
func TestSessionKnownFollowsTheKeystore(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := cacheWorld(t, "ecdsa-p256")
	if _, err := s.ImportX509(indexTestCert(t, "goner", []string{"gone@example.org"}, x509.KeyUsageDigitalSignature, false), nil, nil); err != nil {
		t.Fatal(err)
	}
	settle(t)
	se := s.Session(SessionOptions{})
	names := func(cs []*x509.Certificate) (out []string) {
		for _, c := range cs {
			out = append(out, c.Subject.CommonName)
		}
		slices.Sort(out)
		return out
	}
	check := func(what string, change func()) {
		t.Helper()
		before, err := se.Trust()
		if err != nil {
			t.Fatal(err)
		}
		change()
		waitSettled()
		if _, err := before.Known(); err != nil { // a message read while the keystore changed
			t.Fatal(err)
		}
		after, err := se.Trust()
		if err != nil {
			t.Fatal(err)
		}
		known, err := after.Known()
		if err != nil {
			t.Fatal(err)
		}
		all, err := s.AllX509Certs()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(known), names(all)) {
			t.Errorf("%s: the trust knows %q, the keystore holds %q", what, names(known), names(all))
		}
	}
	check("deleted", func() {
		if err := s.DeleteX509("gone@example.org", false); err != nil {
			t.Fatal(err)
		}
	})
	check("added", func() {
		if _, err := s.ImportX509(indexTestCert(t, "newcomer", []string{"new@example.org"}, x509.KeyUsageDigitalSignature, false), nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}

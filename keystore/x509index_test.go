package keystore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
)

// indexTestCert makes a self-signed certificate for a test of the X.509
// index: its common name, addresses (SANs, and with "subject:" a subject
// emailAddress) and key usage (0: none given).
func indexTestCert(t testing.TB, name string, addrs []string, usage x509.KeyUsage, ca bool) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: usage, BasicConstraintsValid: ca, IsCA: ca,
	}
	for _, a := range addrs {
		if s, ok := strings.CutPrefix(a, "subject:"); ok {
			tmpl.Subject.ExtraNames = append(tmpl.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: oidEmailAddress, Value: s})
		} else {
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, a)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// checkX509Index compares every look-up the index serves with reading
// every stored certificate: the certificates of each address (as
// FindX509 matches them), and those that may issue.
func checkX509Index(t *testing.T, s *Store, addrs []string, what string) {
	t.Helper()
	// Read by a new Store, which has parsed nothing yet: what s keeps must
	// not stand on both sides.
	plain, err := Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := plain.AllX509Certs()
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.storedCertificates()
	if err != nil {
		t.Fatal(err)
	}
	names := func(cs []*x509.Certificate) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Subject.CommonName)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	for _, a := range addrs {
		var want []*x509.Certificate
		for _, c := range all {
			if slices.ContainsFunc(CertEmails(c), func(e string) bool { return core.SameAddress(e, a) }) {
				want = append(want, c)
			}
		}
		got, err := s.findX509(a, func() (*storedCerts, error) { return st, nil })
		if len(want) == 0 {
			if err == nil {
				t.Errorf("%s: %s: found %s, want none", what, a, names(got))
			}
			continue
		}
		if err != nil || names(got) != names(want) {
			t.Errorf("%s: %s: found %s (%v), want %s", what, a, names(got), err, names(want))
		}
	}
	// Those x509path or CheckSignatureFrom may take as the signer of a
	// certificate or a CRL: all but those whose key usage is given and
	// allows neither.
	var issuers []*x509.Certificate
	for _, c := range all {
		if c.KeyUsage == 0 || c.KeyUsage&x509.KeyUsageCertSign != 0 || c.KeyUsage&x509.KeyUsageCRLSign != 0 {
			issuers = append(issuers, c)
		}
	}
	got, err := st.issuers()
	if err != nil || names(got) != names(issuers) {
		t.Errorf("%s: issuers %s (%v), want %s", what, names(got), err, names(issuers))
	}
	// Those whose public key is one of a set of key IDs (every other
	// certificate's, and one no certificate has).
	ids := map[string]bool{strings.Repeat("AB", 32): true}
	var withKeys []*x509.Certificate
	for i, c := range all {
		if i%2 == 0 {
			ids[keyID(c.PublicKey)] = true
			withKeys = append(withKeys, c)
		}
	}
	got, err = st.withKeys(ids)
	if err != nil || names(got) != names(withKeys) {
		t.Errorf("%s: with keys %s (%v), want %s", what, names(got), err, names(withKeys))
	}
}

// The X.509 index gives what reading every certificate gives — the
// certificates of an address (SANs and subject emailAddress, compared as
// addresses are), and those that may issue — in a Store that wrote it,
// in a new Store that reads it, and after other programs changed the
// directory: a file rewritten in place, added with its time set back,
// removed, a link whose target changed, the index itself damaged. A new
// Store that finds an address's certificate parses it and no other.
func TestX509Index(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := newTestStore(t)
	certs := map[string][]byte{
		"alice":   indexTestCert(t, "alice", []string{"alice@example.org"}, x509.KeyUsageDigitalSignature, false),
		"alice2":  indexTestCert(t, "alice2", []string{"Alice@EXAMPLE.org", "a2@example.org"}, x509.KeyUsageKeyEncipherment, false),
		"bob":     indexTestCert(t, "bob", []string{"subject:bob@example.org"}, x509.KeyUsageDigitalSignature, false),
		"nousage": indexTestCert(t, "nousage", []string{"carol@example.org"}, 0, false),
		"ca":      indexTestCert(t, "ca", nil, x509.KeyUsageCertSign, true),
		"crl":     indexTestCert(t, "crl", nil, x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature, false),
	}
	for _, name := range []string{"alice", "alice2", "bob", "nousage", "ca", "crl"} {
		if _, err := s.ImportX509(certs[name], nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	addrs := []string{"alice@example.org", "ALICE@example.org", "a2@example.org", "bob@example.org", "carol@example.org", "dave@example.org"}
	checkX509Index(t, s, addrs, "written")
	if _, err := os.Stat(filepath.Join(s.dir, x509IndexName)); err != nil {
		t.Fatalf("no index: %v", err)
	}
	fresh := func() *Store {
		t.Helper()
		s2, err := Open(s.dir)
		if err != nil {
			t.Fatal(err)
		}
		return s2
	}
	checkX509Index(t, fresh(), addrs, "read")
	s2 := fresh()
	found, err := s2.X509ForEmail("bob@example.org")
	if err != nil || len(found) != 1 {
		t.Fatalf("bob: %d, %v", len(found), err)
	}
	if n := len(s2.x509Parsed[s2.x509CertDir()]); n != 1 {
		t.Errorf("a new Store parsed %d certificates to find bob's, want 1", n)
	}

	// Another program's changes.
	bobPath := s.x509CertPath(CertFingerprint(mustParsePEM(t, certs["bob"])))
	if err := os.WriteFile(bobPath, indexTestCert(t, "bob-rewritten", []string{"dave@example.org"}, x509.KeyUsageDigitalSignature, false), 0o644); err != nil {
		t.Fatal(err)
	}
	checkX509Index(t, fresh(), addrs, "rewritten in place")
	dirInfo, err := os.Stat(s.x509CertDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.x509CertDir(), "added.pem"), indexTestCert(t, "added", []string{"carol@example.org"}, 0, false), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(s.x509CertDir(), dirInfo.ModTime(), dirInfo.ModTime()); err != nil {
		t.Fatal(err)
	}
	checkX509Index(t, fresh(), addrs, "added, time set back")
	if err := os.Remove(bobPath); err != nil {
		t.Fatal(err)
	}
	checkX509Index(t, s, addrs, "removed")
	// A damaged index is not read (TestReadX509Index has every kind of
	// damage): here damage to the line of a listed file, which, believed,
	// would lose or invent addresses. Each index is written with the
	// files' real tags, so a reader that took a damaged line would answer
	// from it.
	valid, err := os.ReadFile(filepath.Join(s.dir, x509IndexName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(valid), "\n"), "\n")
	var withAddr int // a line naming an address
	for i, l := range lines {
		if i > 0 && !strings.HasSuffix(l, " -") {
			withAddr = i
		}
	}
	if withAddr == 0 {
		t.Fatalf("no line names an address:\n%s", valid)
	}
	f := strings.Split(lines[withAddr], " ")
	for i, damaged := range []string{
		strings.Join(append(slices.Clone(f[:5]), "zz"), " "),                        // an address not as addressDigest writes
		strings.Join(append(slices.Clone(f[:4]), strings.ToLower(f[4]), f[5]), " "), // a key ID not as keyID writes
		strings.Join(append(slices.Clone(f[:4]), f[5]), " "),                        // format 1's line
		strings.Join(append(slices.Clone(f[:3]), "x", f[4], f[5]), " "),             // a flag neither "i" nor "-"
	} {
		index := slices.Clone(lines)
		index[withAddr] = damaged
		if err := os.WriteFile(filepath.Join(s.dir, x509IndexName), []byte(strings.Join(index, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		checkX509Index(t, fresh(), addrs, fmt.Sprintf("damaged index %d", i))
	}

	// Last, as symbolic links may be missing here.
	target := filepath.Join(t.TempDir(), "target.pem")
	if err := os.WriteFile(target, indexTestCert(t, "linked", []string{"dave@example.org"}, 0, false), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(s.x509CertDir(), "linked.pem")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	checkX509Index(t, s, addrs, "linked")
	if err := os.WriteFile(target, indexTestCert(t, "linked-ca", nil, x509.KeyUsageCertSign, true), 0o644); err != nil {
		t.Fatal(err)
	}
	checkX509Index(t, s, addrs, "link's target replaced")
}

// An index that names a file another program then replaced with one of
// the same size and times is what the tag cannot see; everything else a
// file's tag does (TestX509Index). Unsettled files are read every time and
// not written to the index.
func TestX509IndexUnsettled(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = time.Hour
	s := newTestStore(t)
	if _, err := s.ImportX509(indexTestCert(t, "alice", []string{"alice@example.org"}, x509.KeyUsageDigitalSignature, false), nil, nil); err != nil {
		t.Fatal(err)
	}
	checkX509Index(t, s, []string{"alice@example.org"}, "unsettled")
	index := readX509Index(filepath.Join(s.dir, x509IndexName))
	if len(index) != 0 {
		t.Errorf("an unsettled file is in the index: %v", index)
	}
}

func mustParsePEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Look-ups on one Store, and on one Session, from many goroutines at once
// (what a batch does): the certificates a Store keeps are shared maps that
// are never changed in place (parseCertFiles changed them while other
// look-ups read them: a fatal concurrent map access).
func TestX509IndexConcurrentLookups(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := newTestStore(t)
	const n = 100
	for i := range n {
		if _, err := s.ImportX509(indexTestCert(t, fmt.Sprint("p", i), []string{fmt.Sprintf("p%d@example.org", i)}, x509.KeyUsageDigitalSignature, false), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 20 {
		s2, err := Open(s.dir)
		if err != nil {
			t.Fatal(err)
		}
		se := s2.Session(SessionOptions{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr := fmt.Sprintf("p%d@example.org", i)
				var got []*x509.Certificate
				var err error
				if round%2 == 0 {
					got, err = s2.X509ForEmail(addr)
				} else {
					got, err = s2.x509ForEmail(addr, se.x509Certs)
				}
				if err != nil || len(got) != 1 {
					t.Errorf("%s: %d, %v", addr, len(got), err)
				}
			}()
		}
		wg.Wait()
	}
}

// The index is written when it changes and not otherwise (a name with a
// space is never in it, and read every time); one cut short of its last
// line ending is not read (a line cut after an address would read as a
// certificate with fewer addresses).
func TestX509IndexWrites(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := newTestStore(t)
	if _, err := s.ImportX509(indexTestCert(t, "two", []string{"first@example.org", "second@example.org"}, x509.KeyUsageKeyEncipherment, false), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.x509CertDir(), "with space.pem"), indexTestCert(t, "spaced", []string{"sp@example.org"}, 0, false), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.dir, x509IndexName)
	if _, err := s.storedCertificates(); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	for range 3 {
		s2, err := Open(s.dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s2.X509ForEmail("sp@example.org"); err != nil || len(got) != 1 {
			t.Fatalf("sp: %d, %v", len(got), err)
		}
	}
	if after, err := os.Stat(path); err != nil || changeTime(after) != changeTime(before) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the index was written again though nothing changed (%v)", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "with space") {
		t.Error("a name with a space is in the index")
	}
	cut := strings.LastIndexByte(strings.TrimSuffix(string(data), "\n"), ',') // after the first address's digest
	if cut < 0 {
		t.Fatalf("no certificate with two addresses in the index:\n%s", data)
	}
	if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	checkX509Index(t, s, []string{"first@example.org", "second@example.org", "sp@example.org"}, "cut short")
	s2, err := Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.X509ForEmail("second@example.org"); err != nil || len(got) != 1 {
		t.Errorf("second address of an index cut short: %d, %v", len(got), err)
	}
}

// A file whose modification time was set back (tar x, rsync -a) has
// settled only when its change time is old enough too: it is not written
// to the index before, since a rewrite within the file system's timestamp
// granularity could keep its tag.
func TestX509IndexSettlesByChangeTime(t *testing.T) {
	if changeTime(mustStat(t, t.TempDir())) == 0 {
		t.Skip("no change times here")
	}
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = time.Minute
	s := newTestStore(t)
	if _, err := s.ImportX509(indexTestCert(t, "old", []string{"old@example.org"}, 0, false), nil, nil); err != nil {
		t.Fatal(err)
	}
	files, err := listCertFiles(s.x509CertDir(), 1)
	if err != nil || len(files) != 1 {
		t.Fatalf("%d files, %v", len(files), err)
	}
	day := time.Now().Add(-24 * time.Hour)
	if err := os.Chtimes(filepath.Join(s.x509CertDir(), files[0].name), day, day); err != nil {
		t.Fatal(err)
	}
	if _, err := s.storedCertificates(); err != nil {
		t.Fatal(err)
	}
	if index := readX509Index(filepath.Join(s.dir, x509IndexName)); len(index) != 0 {
		t.Errorf("a file changed a moment ago, its modification time set back a day, is in the index: %v", index)
	}
}

func mustStat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// readX509Index reads what formatX509Index writes, and nothing else: a
// damaged line, a key ID not as keyID writes it, format 1's lines or
// magic, an index cut short.
func TestReadX509Index(t *testing.T) {
	key := strings.Repeat("0A", 32)
	addr := addressDigest("alice@example.org")
	index := map[string]certSummary{
		"a.pem": {tag: "1.2.3", issuer: true, key: key, addrs: []string{addr}},
		"b.pem": {tag: "4.5.6"},
	}
	path := filepath.Join(t.TempDir(), x509IndexName)
	data := formatX509Index(index)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got := readX509Index(path)
	if len(got) != 2 || got["a.pem"].key != key || !got["a.pem"].issuer || !slices.Equal(got["a.pem"].addrs, []string{addr}) ||
		got["b.pem"].key != "" || got["b.pem"].issuer || got["b.pem"].addrs != nil || got["b.pem"].tag != "4.5.6" {
		t.Fatalf("read back %+v", got)
	}
	m := x509IndexMagic + "\n"
	// A file of empty lines is refused without memory for each line (a
	// map sized by the line count took 2.8 GiB for 16 MiB).
	if err := os.WriteFile(path, []byte(m+strings.Repeat("\n", 4<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if got := readX509Index(path); got != nil {
		t.Errorf("empty lines read as %+v", got)
	}
	runtime.ReadMemStats(&after)
	// (About 13.5 MiB, 23 under the race detector: the file, read
	// whole, and its conversion. The map sized by the line count took
	// 0.7 GiB for these 4 MiB.)
	if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
		t.Errorf("4 MiB of empty lines allocated %d MiB", n>>20)
	}
	// Nor is an endless file read in full (a link to /dev/zero).
	if _, err := os.Stat("/dev/zero"); err == nil {
		link := filepath.Join(t.TempDir(), x509IndexName)
		if err := os.Symlink("/dev/zero", link); err == nil {
			if got := readX509Index(link); got != nil {
				t.Error("an endless file read as an index")
			}
			if got := readKeyIndex(link); got != nil {
				t.Error("an endless file read as a key index")
			}
		}
	}
	for _, damage := range []string{
		string(data[:len(data)-1]),                                // cut short
		m + "file a.pem 1.2.3 i " + strings.ToLower(key) + " -\n", // not as keyID writes
		m + "file a.pem 1.2.3 i " + key[:62] + " -\n",
		m + "file a.pem 1.2.3 i -\n", // format 1's line
		m + "file a.pem 1.2.3 x - -\n",
		m + "file a.pem 1.2.3 i - zz\n",
		m + "file a.pem 1.2.3 i - - more\n",
		m + "file a.pem 1.2.3 i - " + addr + " more\n",
		m + "file a.pem  i - -\n",
		m + "file a.pem 1.2.3 i  -\n",
		m + "file a.pem 1.2.3 i - \n",
		m + "file a.pem 1.2.3 i - " + addr + ",\n",
		m + "entry a.pem 1.2.3 i - -\n",
		m + "file a.key 1.2.3 i - -\n",
		m + "file a.pem 1.2.3 i - -\nfile a.pem 1.2.3 i - -\n",
		"mailseal x509 index 1\nfile a.pem 1.2.3 i -\n",
	} {
		if err := os.WriteFile(path, []byte(damage), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readX509Index(path); got != nil {
			t.Errorf("%q read as %+v", damage, got)
		}
	}
}

// BenchmarkX509Listing is what a new process does to find an address's
// S/MIME certificate in a keystore of 2,000 other people's: list
// x509/certs, read the index and parse the one certificate ("index"),
// against parsing every stored certificate (the plain version).
func BenchmarkX509Listing(b *testing.B) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := newStore(b)
	if err := os.MkdirAll(s.x509CertDir(), 0o700); err != nil {
		b.Fatal(err)
	}
	for i := range 2000 {
		data := indexTestCert(b, fmt.Sprint("p", i), []string{fmt.Sprintf("p%d@example.org", i)}, x509.KeyUsageDigitalSignature, false)
		if err := os.WriteFile(filepath.Join(s.x509CertDir(), fmt.Sprintf("%d.pem", i)), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.storedCertificates(); err != nil { // writes the index
		b.Fatal(err)
	}
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			fresh, err := Open(s.Dir())
			if err != nil {
				b.Fatal(err)
			}
			if got, err := fresh.X509ForEmail("p7@example.org"); err != nil || len(got) != 1 {
				b.Fatalf("%d found: %v", len(got), err)
			}
		}
	})
	b.Run("every-certificate", func(b *testing.B) {
		for b.Loop() {
			fresh, err := Open(s.Dir())
			if err != nil {
				b.Fatal(err)
			}
			if all, err := fresh.AllX509Certs(); err != nil || len(all) != 2000 {
				b.Fatalf("%d read: %v", len(all), err)
			}
		}
	})
}

// BenchmarkReadX509Index reads an index of 2,000 certificates.
func BenchmarkReadX509Index(b *testing.B) {
	index := map[string]certSummary{}
	for i := range 2000 {
		index[fmt.Sprintf("%064X.pem", i)] = certSummary{tag: "1234.1765000000000000000.1765000000000000000", key: fmt.Sprintf("%064X", i+1), addrs: []string{addressDigest(fmt.Sprintf("p%d@example.org", i))}}
	}
	path := filepath.Join(b.TempDir(), x509IndexName)
	if err := os.WriteFile(path, formatX509Index(index), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if got := readX509Index(path); len(got) != 2000 {
			b.Fatalf("%d read", len(got))
		}
	}
}

// isHex and isKeyID (table look-ups) answer as the plain tests of each
// byte do: every byte alone, and strings of random digits with one byte
// replaced.
func TestHexTables(t *testing.T) {
	plain := func(s string, lower, upper bool) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			ok := c >= '0' && c <= '9' || lower && c >= 'a' && c <= 'f' || upper && c >= 'A' && c <= 'F'
			if !ok {
				return false
			}
		}
		return true
	}
	for c := range 256 {
		s := string([]byte{byte(c), byte(c)})
		if got, want := isHex(s), plain(s, true, false); got != want {
			t.Errorf("isHex(%q) = %v", s, got)
		}
		k := strings.Repeat(string([]byte{byte(c)}), 64)
		if got, want := isKeyID(k), plain(k, false, true); got != want {
			t.Errorf("isKeyID(%q) = %v", k, got)
		}
	}
	digits := "0123456789abcdefABCDEF"
	for range 10000 {
		b := make([]byte, 64)
		for i := range b {
			b[i] = digits[mrand.IntN(len(digits))]
		}
		if mrand.IntN(2) == 0 {
			b[mrand.IntN(64)] = byte(mrand.IntN(256))
		}
		s := string(b)
		if isHex(s) != plain(s, true, false) || isKeyID(s) != plain(s, false, true) {
			t.Fatalf("%q: isHex %v, isKeyID %v", s, isHex(s), isKeyID(s))
		}
	}
	if isHex("abc") || !isHex("") || isKeyID(strings.Repeat("A", 63)) {
		t.Error("lengths")
	}
}

// Importing a certificate parses none of those stored (one by one, every
// stored certificate was parsed at each import: quadratic); importing a
// private key parses them to find its certificate.
func TestX509ImportParsesNothingStored(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0 // a Store keeps what it parsed of settled files
	s := newTestStore(t)
	for i := range 5 {
		if _, err := s.ImportX509(indexTestCert(t, fmt.Sprint("p", i), []string{fmt.Sprintf("p%d@example.org", i)}, x509.KeyUsageDigitalSignature, false), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	fresh, err := Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.ImportX509(indexTestCert(t, "new", []string{"new@example.org"}, x509.KeyUsageDigitalSignature, false), nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(fresh.x509Parsed[fresh.x509CertDir()]); n != 0 {
		t.Errorf("importing a certificate parsed %d stored ones", n)
	}
}

// listCertFiles, which stats many files side by side, lists what a stat
// of each in turn finds: every .pem file with its tag, not a directory
// named .pem nor a link to nothing, nor other names.
func TestListCertFilesSideBySide(t *testing.T) {
	dir := t.TempDir()
	for i := range 200 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.pem", i)), []byte(strings.Repeat("x", i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "dir.pem"), 0o700)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "zzz.pem")); err != nil {
		t.Log("no symbolic links here:", err)
	}
	got, err := listCertFiles(dir, 4) // 4 goroutines, however many cores
	if err != nil {
		t.Fatal(err)
	}
	var want []certFile
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil || info.IsDir() || !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		want = append(want, certFile{e.Name(), fileTag(info), changedAt(info)})
	}
	if len(want) != 200 || !slices.Equal(got, want) {
		t.Fatalf("listed %d files, a stat of each finds %d (equal: %v)", len(got), len(want), slices.Equal(got, want))
	}
}

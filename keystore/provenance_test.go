package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
)

func TestProvenance(t *testing.T) {
	s := newStore(t)
	before := time.Now().UTC().Add(-time.Second)
	importFile(t, s, "samples/bob.pgp", nil)
	p, err := s.Provenance(bobFpr)
	if err != nil || p.Source != SourceImport || p.Time.Before(before) || !p.TrustedForSignatures() {
		t.Fatalf("imported key: %+v %v", p, err)
	}

	// alice comes from a WKD: recorded with its address, URL and time;
	// untrusted for signatures until accepted.
	alice := corpusEntity(t, "samples/alice.pgp")
	fetched := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	wkd := Provenance{Source: SourceWKD, Address: "alice@openpgp.example", URL: "https://openpgpkey.openpgp.example/x", Time: fetched}
	res, err := s.ImportPGPFrom(bytes.NewReader(publicBytes(t, alice)), wkd)
	if err != nil || len(res) != 1 || !res[0].New {
		t.Fatalf("import from wkd: %+v %v", res, err)
	}
	infos, err := s.ListPGP(aliceFpr)
	if err != nil || len(infos) != 1 || infos[0].Provenance != wkd || infos[0].SignaturesTrusted {
		t.Fatalf("list: %+v %v", infos, err)
	}
	m := newLookupMessages(t)
	signers, _, err := m.engine.VerifyDetached(bytes.NewReader(m.signed), bytes.NewReader(m.sig), s.PGPKeyring(nil).Certs)
	if err != nil || len(signers) != 1 || signers[0].Status != core.SignerUntrusted || signers[0].Source != "wkd" ||
		!strings.Contains(signers[0].Error, "keys accept "+aliceFpr) {
		t.Fatalf("verify by a wkd key: %v %+v", err, signers)
	}
	// The same through a Session, the path decrypt and verify take
	// (review finding: its key-ID finder did not pass the source on).
	sessionCerts := s.Session(SessionOptions{}).Keys().OpenPGP.Certs
	signers, _, err = m.engine.VerifyDetached(bytes.NewReader(m.signed), bytes.NewReader(m.sig), sessionCerts)
	if err != nil || len(signers) != 1 || signers[0].Status != core.SignerUntrusted || signers[0].Source != "wkd" {
		t.Fatalf("verify by a wkd key through a Session: %v %+v", err, signers)
	}

	// Found again on the network, or imported by hand: the record stays.
	if _, err := s.ImportPGPFrom(bytes.NewReader(publicBytes(t, alice)), Provenance{Source: SourceVKS}); err != nil {
		t.Fatal(err)
	}
	importFile(t, s, "samples/bob.pgp", nil)
	if _, err := s.ImportPGPFrom(bytes.NewReader(publicBytes(t, corpusEntity(t, "samples/bob.pgp"))), Provenance{Source: SourceVKS}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Provenance(aliceFpr); p != wkd {
		t.Fatalf("alice after a second lookup: %+v", p)
	}
	if p, _ := s.Provenance(bobFpr); p.Source != SourceImport {
		t.Fatalf("bob after a lookup: %+v", p)
	}

	// Accepted: good, and the source says so.
	fpr, p, err := s.AcceptPGP("alice@openpgp.example")
	if err != nil || fpr != aliceFpr || !p.Accepted || p.AcceptedTime.IsZero() || !p.TrustedForSignatures() {
		t.Fatalf("accept: %s %+v %v", fpr, p, err)
	}
	signers, _, err = m.engine.VerifyDetached(bytes.NewReader(m.signed), bytes.NewReader(m.sig), s.PGPKeyring(nil).Certs)
	if err != nil || signers[0].Status != core.SignerGood || signers[0].Source != "wkd (accepted)" {
		t.Fatalf("verify after accept: %v %+v", err, signers)
	}

	// Secret key data from the network is refused; nothing is stored.
	sec, err := os.ReadFile(corpus + "/samples/carol-secret.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportPGPFrom(bytes.NewReader(sec), wkd); !errors.Is(err, core.ErrInput) {
		t.Fatalf("secret key from the network: %v", err)
	}
	if _, err := s.ImportPGPFrom(bytes.NewReader(publicBytes(t, alice)), Provenance{}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("no source: %v", err)
	}

	// Deleted: the record goes; imported again by hand, it is "import".
	if err := s.DeletePGP(aliceFpr, false); err != nil {
		t.Fatal(err)
	}
	importFile(t, s, "samples/alice.pgp", nil)
	if p, _ := s.Provenance(aliceFpr); p.Source != SourceImport || p.Accepted {
		t.Fatalf("alice imported again: %+v", p)
	}
}

func TestProvenanceDANE(t *testing.T) {
	s := newStore(t)
	for _, tc := range []struct {
		dnssec  bool
		status  core.SignerStatus
		source  string
		trusted bool
	}{
		{false, core.SignerUntrusted, "dane", false},
		{true, core.SignerGood, "dane+dnssec", true},
	} {
		p := Provenance{Source: SourceDANE, DNSSEC: tc.dnssec, Address: "alice@openpgp.example"}
		if _, err := s.ImportPGPFrom(bytes.NewReader(publicBytes(t, corpusEntity(t, "samples/alice.pgp"))), p); err != nil {
			t.Fatal(err)
		}
		if got := p.TrustedForSignatures(); got != tc.trusted {
			t.Fatalf("dnssec %v: trusted %v", tc.dnssec, got)
		}
		m := newLookupMessages(t)
		signers, _, err := m.engine.VerifyDetached(bytes.NewReader(m.signed), bytes.NewReader(m.sig), s.PGPKeyring(nil).Certs)
		if err != nil || signers[0].Status != tc.status || signers[0].Source != tc.source {
			t.Fatalf("dnssec %v: %v %+v", tc.dnssec, err, signers)
		}
		if err := s.DeletePGP(aliceFpr, false); err != nil {
			t.Fatal(err)
		}
	}
}

// An OpenPGP key stored from an unvalidated DANE answer is trusted for
// signatures once a validated answer for the same address brings it
// again; one for another address, or a key the user imported, keeps its
// record.
func TestProvenanceDANEUpgrade(t *testing.T) {
	key := publicBytes(t, corpusEntity(t, "samples/alice.pgp"))
	store := func(s *Store, dnssec bool, addr string) Provenance {
		t.Helper()
		if _, err := s.ImportPGPFrom(bytes.NewReader(key), Provenance{Source: SourceDANE, DNSSEC: dnssec, Address: addr}); err != nil {
			t.Fatal(err)
		}
		p, err := s.Provenance(aliceFpr)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := newStore(t)
	if p := store(s, false, "alice@openpgp.example"); p.TrustedForSignatures() {
		t.Fatalf("unvalidated: %+v", p)
	}
	if p := store(s, true, "bob@openpgp.example"); p.TrustedForSignatures() || p.Address != "alice@openpgp.example" {
		t.Fatalf("validated for another address changed the record: %+v", p)
	}
	first := store(s, true, "alice@openpgp.example")
	if !first.TrustedForSignatures() || first.DNSSECConfirmed.IsZero() {
		t.Fatalf("validated for the same address: %+v", first)
	}
	time.Sleep(10 * time.Millisecond)
	if p := store(s, true, "alice@openpgp.example"); !p.DNSSECConfirmed.After(first.DNSSECConfirmed) || !p.Time.Equal(first.Time) {
		t.Fatalf("the same validated record again is not confirmed anew: %+v then %+v", first, p)
	}

	s2 := newStore(t)
	importFile(t, s2, "samples/alice.pgp", nil)
	if p := store(s2, true, "alice@openpgp.example"); p.Source != SourceImport {
		t.Fatalf("imported key's record: %+v", p)
	}
}

func TestProvenanceGeneratedAndX509(t *testing.T) {
	s := newStore(t)
	info, err := s.GeneratePGP(GenerateOptions{UID: "Gen <gen@example.org>", NoPassphrase: true})
	if err != nil || info.Provenance.Source != SourceGenerate || !info.SignaturesTrusted {
		t.Fatalf("generate: %+v %v", info, err)
	}
	if p, _ := s.Provenance(info.Fingerprint); p.Source != SourceGenerate || p.Time.IsZero() {
		t.Fatalf("generated: %+v", p)
	}
	ca, err := s.GenerateCA(X509Options{Name: "Test CA", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := s.ListX509(ca.Fingerprint)
	if err != nil || len(certs) != 1 || certs[0].Provenance.Source != SourceGenerate || certs[0].Provenance.Time.IsZero() {
		t.Fatalf("x509: %+v %v", certs, err)
	}
	if err := s.DeleteX509(ca.Fingerprint, true); err != nil {
		t.Fatal(err)
	}
	recs, err := s.readProvenance()
	if err != nil || len(recs.X509) != 0 || len(recs.OpenPGP) != 1 {
		t.Fatalf("records after delete: %+v %v", recs, err)
	}
	// A damaged record file is an error naming the fix, never "trusted".
	os.WriteFile(s.provenanceFile(), []byte("{"), 0o600)
	if _, err := s.ListPGP(""); !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "restore it from a backup or repair it") {
		t.Fatalf("damaged records: %v", err)
	}
	if src, trusted := s.PGPCertIndex().CertSource(info.Fingerprint); trusted || !strings.HasPrefix(src, "unknown") {
		t.Fatalf("damaged records: %s %v", src, trusted)
	}
}

// A Store's look-ups parse provenance.json once while the file is
// unchanged (a batch asks for every signer's key's source; with 2,000
// records each parse took 4-5 ms), and again after any change: by
// mailseal, or by another program writing the file in place. A file that
// has not settled is parsed at every look-up.
func TestProvenanceKept(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := newStore(t)
	importFile(t, s, "samples/bob.pgp", nil)
	source := func() string {
		t.Helper()
		p, err := s.Provenance(bobFpr)
		if err != nil {
			t.Fatal(err)
		}
		return p.Source
	}
	reads := s.provenanceReads.Load()
	for range 5 {
		if got := source(); got != SourceImport {
			t.Fatalf("source %q", got)
		}
	}
	if n := s.provenanceReads.Load() - reads; n != 1 {
		t.Fatalf("five look-ups parsed provenance.json %d times, want once", n)
	}
	if err := s.updateProvenance(func(recs *provenanceRecords) { recs.OpenPGP[upper(bobFpr)] = Provenance{Source: SourceWKD} }); err != nil {
		t.Fatal(err)
	}
	if got := source(); got != SourceWKD {
		t.Fatalf("after mailseal recorded a WKD source: %q", got)
	}
	data, err := os.ReadFile(s.provenanceFile())
	if err != nil {
		t.Fatal(err)
	}
	// Another length: two writes within the kernel's clock tick can have
	// the same times, and the test must not depend on it.
	edited := bytes.Replace(data, []byte(`"`+SourceWKD+`"`), []byte(`"`+SourceAutocrypt+`"`), 1)
	if bytes.Equal(edited, data) {
		t.Fatalf("no WKD source in %s", data)
	}
	if err := os.WriteFile(s.provenanceFile(), edited, 0o600); err != nil { // in place
		t.Fatal(err)
	}
	if got := source(); got != SourceAutocrypt {
		t.Fatalf("after another program changed the file in place: %q", got)
	}
	keyIndexSettle = time.Hour
	if err := os.WriteFile(s.provenanceFile(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	reads = s.provenanceReads.Load()
	for range 3 {
		if got := source(); got != SourceWKD {
			t.Fatalf("source %q", got)
		}
	}
	if n := s.provenanceReads.Load() - reads; n != 3 {
		t.Fatalf("three look-ups of an unsettled file parsed it %d times, want 3", n)
	}
}

// What the Store keeps of provenance.json follows every change a look-up
// must see, also those that leave the file's size as it was: rewritten in
// place (the times change), rewritten with its modification time set back
// (only the change time does), a link to it pointed at another file with
// the same size and times (only the file's identity does), removed (no
// records: every key "import"), damaged (an error).
func TestProvenanceKeptSeesEveryChange(t *testing.T) {
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := newStore(t)
	importFile(t, s, "samples/bob.pgp", nil)
	if err := s.updateProvenance(func(recs *provenanceRecords) { recs.OpenPGP[upper(bobFpr)] = Provenance{Source: SourceWKD} }); err != nil {
		t.Fatal(err)
	}
	source := func() (string, error) {
		p, err := s.Provenance(bobFpr)
		return p.Source, err
	}
	expect := func(what, want string) {
		t.Helper()
		got, err := source()
		if err != nil || got != want {
			t.Fatalf("%s: source %q (%v), want %q", what, got, err, want)
		}
	}
	expect("recorded", SourceWKD)
	data, err := os.ReadFile(s.provenanceFile())
	if err != nil {
		t.Fatal(err)
	}
	vks := bytes.Replace(data, []byte(`"wkd"`), []byte(`"vks"`), 1) // the same size
	write := func(path string, data []byte) os.FileInfo {
		t.Helper()
		time.Sleep(20 * time.Millisecond) // past the clock's tick
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	old := write(s.provenanceFile(), vks)
	expect("rewritten in place", SourceVKS)
	write(s.provenanceFile(), data)
	if err := os.Chtimes(s.provenanceFile(), old.ModTime(), old.ModTime()); err != nil {
		t.Fatal(err)
	}
	expect("rewritten with its time set back", SourceWKD)

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	write(a, data)
	write(b, vks)
	for _, f := range []string{a, b} {
		if err := os.Chtimes(f, old.ModTime(), old.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(s.provenanceFile()); err != nil {
		t.Fatal(err)
	}
	expect("removed", SourceImport)
	if err := os.Symlink(a, s.provenanceFile()); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	expect("a link", SourceWKD)
	if err := os.Remove(s.provenanceFile()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(b, s.provenanceFile()); err != nil {
		t.Fatal(err)
	}
	expect("the link pointed at another file", SourceVKS)
	if err := os.Remove(s.provenanceFile()); err != nil {
		t.Fatal(err)
	}
	write(s.provenanceFile(), []byte("{not json"))
	if _, err := source(); err == nil {
		t.Fatal("a damaged provenance.json read without an error")
	}
}

// fileID tells two files apart, and names a file the same through a link.
func TestFileID(t *testing.T) {
	dir := t.TempDir()
	a, b, link := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "link")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, []byte("same"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(a, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	id := func(path string) string {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fileID(info)
	}
	if id(a) == "" {
		t.Skip("no file identities here")
	}
	if id(a) == id(b) || id(a) != id(link) {
		t.Fatalf("a %s, b %s, a link to a %s", id(a), id(b), id(link))
	}
}

// provenanceOf2000 writes provenance.json with 2,000 OpenPGP and 2,000
// X.509 records, as imports from the network leave them, and returns
// one OpenPGP fingerprint in it.
func provenanceOf2000(tb testing.TB, s *Store) string {
	tb.Helper()
	var fpr string
	err := s.updateProvenance(func(recs *provenanceRecords) {
		t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		for i := range 2000 {
			f := strings.ToUpper(fmt.Sprintf("%040x", i*7919+1))
			recs.OpenPGP[f] = Provenance{Source: SourceWKD, Address: fmt.Sprintf("p%d@example.org", i), URL: "https://openpgpkey.example.org/.well-known/openpgpkey/hu/x", Time: t0, Refreshed: t0.Add(time.Hour)}
			recs.X509[strings.ToUpper(fmt.Sprintf("%064x", i))] = Provenance{Source: SourceDANE, Address: fmt.Sprintf("p%d@example.org", i), DNSSEC: true, DNSSECConfirmed: t0, DANEUsage: 3, Time: t0}
			fpr = f
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return fpr
}

// BenchmarkProvenanceLookup: the source of one key, as a new process asks
// for it (a Store's first look-up parses provenance.json), with 4,000
// records stored.
func BenchmarkProvenanceLookup(b *testing.B) {
	s := newStore(b)
	fpr := provenanceOf2000(b, s)
	for b.Loop() {
		fresh, err := Open(s.Dir())
		if err != nil {
			b.Fatal(err)
		}
		if p, err := fresh.Provenance(fpr); err != nil || p.Source != SourceWKD {
			b.Fatalf("%+v %v", p, err)
		}
	}
}

// A look-up decodes only the record it asks for: a damaged record fails
// its own look-ups, with an error that names it, while the other records
// are read (a key from a WKD, and a DANE record that says DNSSEC without
// the time a validating resolver confirmed it, which counts as not
// validated, here and for the readers of the whole file); what changes
// the file refuses it whole.
func TestProvenanceDamagedRecord(t *testing.T) {
	s := newStore(t)
	importFile(t, s, "samples/bob.pgp", nil)
	const wkdFpr, daneFpr = "BBBB", "CCCC"
	if err := s.updateProvenance(func(recs *provenanceRecords) {
		recs.OpenPGP["AAAA"] = Provenance{Source: SourceWKD}
		recs.OpenPGP[wkdFpr] = Provenance{Source: SourceWKD, Address: "b@example.org"}
		recs.OpenPGP[daneFpr] = Provenance{Source: SourceDANE, Address: "c@example.org", DNSSEC: true}
	}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.provenanceFile())
	if err != nil {
		t.Fatal(err)
	}
	whole, err := s.readProvenance()
	if err != nil || whole.OpenPGP[daneFpr].DNSSEC {
		t.Fatalf("the whole file: DANE record %+v, %v", whole.OpenPGP[daneFpr], err)
	}
	// The record of AAAA gets a time that is not one.
	i := bytes.Index(data, []byte(`"AAAA": {`))
	if i < 0 {
		t.Fatalf("test set-up: no record of AAAA in %s", data)
	}
	damaged := append(bytes.Clone(data[:i]), []byte(`"AAAA": {"time": 5, `)...)
	damaged = append(damaged, data[i+len(`"AAAA": {`):]...)
	if err := os.WriteFile(s.provenanceFile(), damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Provenance("aaaa"); !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "AAAA") {
		t.Errorf("the damaged record: %v", err)
	}
	if p, err := fresh.Provenance(bobFpr); err != nil || p.Source != SourceImport {
		t.Errorf("bob's record: %+v, %v", p, err)
	}
	if p, err := fresh.Provenance(strings.ToLower(wkdFpr)); err != nil || p.Source != SourceWKD || p.TrustedForSignatures() {
		t.Errorf("the WKD record: %+v (trusted %v), %v", p, p.TrustedForSignatures(), err)
	}
	if p, err := fresh.Provenance(daneFpr); err != nil || p.Source != SourceDANE || p.DNSSEC {
		t.Errorf("the DANE record: %+v, %v", p, err)
	}
	if _, err := fresh.readProvenance(); !errors.Is(err, core.ErrInput) {
		t.Errorf("reading the whole file: %v", err)
	}
	// A file that is not JSON fails every look-up.
	if err := os.WriteFile(s.provenanceFile(), damaged[:len(damaged)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if fresh, err = Open(s.Dir()); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Provenance(bobFpr); !errors.Is(err, core.ErrInput) {
		t.Errorf("a file cut short: %v", err)
	}
}

package keystore

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/pgp"
)

// ageCertDirs sets the modification time of every cert-d subdirectory and
// of the files in them to when, and moves the key index's clock on by as
// much (their change times are now), as if the last change were that long
// ago (the index is only written once the directory has settled).
func ageCertDirs(t testing.TB, s *Store, when time.Time) {
	t.Helper()
	old, ahead := keyIndexNow, time.Since(when)
	keyIndexNow = func() time.Time { return time.Now().Add(ahead) }
	t.Cleanup(func() { keyIndexNow = old })
	entries, err := os.ReadDir(s.certDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			dir := filepath.Join(s.certDir(), e.Name())
			files, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				if err := os.Chtimes(filepath.Join(dir, f.Name()), when, when); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chtimes(dir, when, when); err != nil {
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
	v6Dir := regexp.MustCompile(`(?m)^dir ` + v6Fpr[:2] + ` \d+ \d+\n`).FindString(string(data))
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
	// (A Store keeps the index it last read in memory: a new one, as a
	// new process opens, reads the file.)
	fresh, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	got := fresh.PGPCertIndex().EntitiesById(certs[0].PrimaryKey.KeyId)
	if len(got) != 1 || fingerprintOf(got[0]) != fingerprintOf(certs[1]) {
		t.Fatal("the index file was not used")
	}
	s = fresh

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

// TestAddressIndex: PGPForAddress, which reads only the certificates the
// index names for an address, finds what checking every stored
// certificate finds: for user IDs in the forms core.UserIDAddress reads
// (a bare address, a name and comment, a domain in capitals, two
// addresses, a user ID naming none), before the index is saved, from the
// saved index, in a new Store that reads the file, and after another
// tool adds a certificate.
func TestAddressIndex(t *testing.T) {
	s := newStore(t)
	importFile(t, s, "samples/alice.pgp", nil)
	importFile(t, s, "samples/bob.pgp", nil)
	uids := []string{
		"carol@example.org",
		"Carol Example (work) <carol@EXAMPLE.org>",
		"Dave <dave@example.org>, Eve <eve@example.org>",
		"no address here",
		`"Frank, the first" <frank@example.org>`,
	}
	for i, uid := range uids {
		e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Placeholder <placeholder@example.net>"}})
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{uid}
		if i == 1 { // a second user ID on the same key
			ids = append(ids, "Carol Two <carol2@example.org>")
		}
		// User IDs as they are (pgp.NewKey refuses those naming no
		// address or two), certified like the placeholder.
		var template *packet.Signature
		for name, id := range e.Identities {
			template = id.SelfCertifications[0].Packet
			delete(e.Identities, name)
		}
		for _, raw := range ids {
			sig := *template
			if err := sig.SignUserId(raw, e.PrimaryKey, e.PrivateKey, nil); err != nil {
				t.Fatal(err)
			}
			e.Identities[raw] = &openpgp.Identity{Primary: e, Name: raw, UserId: &packet.UserId{Id: raw},
				SelfCertifications: []*packet.VerifiableSignature{packet.NewVerifiableSig(&sig)}}
		}
		var b bytes.Buffer
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
		importBytes(t, s, b.Bytes())
	}
	addrs := []string{"alice@openpgp.example", "bob@openpgp.example", "BOB@OPENPGP.EXAMPLE", "bob@OpenPGP.example",
		"carol@example.org", "carol@example.ORG", "Carol@example.org", "carol2@example.org",
		"dave@example.org", "eve@example.org", "frank@example.org", "nobody@example.org"}
	check := func(when string, s *Store) {
		t.Helper()
		found := 0
		for _, addr := range addrs {
			got, gotErr := s.PGPForAddress(addr)
			want, err := s.scanCerts(bindsNow(addr))
			if err != nil {
				t.Fatal(err)
			}
			var g, w []string
			for _, e := range got {
				g = append(g, fingerprintOf(e))
			}
			for _, e := range want {
				w = append(w, fingerprintOf(e))
			}
			if !slices.Equal(g, w) || (len(w) == 0) != (gotErr != nil) {
				t.Errorf("%s: %s: found %v (%v), every certificate checked: %v", when, addr, g, gotErr, w)
			}
			found += len(w)
		}
		if found < 8 {
			t.Errorf("%s: only %d certificates found", when, found)
		}
	}
	check("before the index is saved", s)
	ageCertDirs(t, s, time.Now().Add(-time.Hour))
	check("the index saved", s)
	fresh, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	check("the saved index read by a new Store", fresh)
	if data, err := os.ReadFile(filepath.Join(s.Dir(), keyIndexName)); err != nil || !strings.Contains(string(data), "addr ") {
		t.Fatalf("no addresses in the index: %v\n%s", err, data)
	}

	// Another tool adds a certificate for carol@example.org.
	other := newStore(t)
	e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Carol Again <carol@example.org>"}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	importBytes(t, other, b.Bytes())
	placeCert(t, other, fresh, strings.ToLower(fingerprintOf(e)))
	check("a certificate added by another tool", fresh)
	if got, _ := fresh.PGPForAddress("carol@example.org"); len(got) != 3 {
		t.Errorf("carol@example.org: %d certificates, want 3", len(got))
	}
}

// BenchmarkAddressLookup finds the certificate of an address in a keystore
// of 300 others, through the index (PGPForAddress, a Store as a new
// process opens it) and by checking every stored certificate (the plain
// version; before the index named addresses, PGPForAddress read every
// certificate but parsed only those whose bytes held the address's local
// part).
func BenchmarkAddressLookup(b *testing.B) {
	s := newStore(b)
	importFile(b, s, "samples/bob.pgp", nil)
	importBytes(b, s, otherKeys(b, 0, 300))
	ageCertDirs(b, s, time.Now().Add(-time.Hour))
	s.keyIDs() // writes the index
	addr := "bob@openpgp.example"
	b.Run("index", func(b *testing.B) {
		for b.Loop() {
			fresh, err := Open(s.Dir())
			if err != nil {
				b.Fatal(err)
			}
			if got, err := fresh.PGPForAddress(addr); err != nil || len(got) != 1 {
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
			got, err := fresh.scanCerts(bindsNow(addr))
			if err != nil || len(got) != 1 {
				b.Fatalf("%d found: %v", len(got), err)
			}
		}
	})
}

// TestAddressIndexAfterOtherTools: what other tools may do to the cert-d
// that the index must not miss. A certificate rewritten in place (its
// directory's time unchanged), also with its old modification time kept
// (cp -p); a user ID packet with a partial length, which go-crypto reads
// and the packet splitter refuses; two certificates of one address in one
// subdirectory; a certificate added with its directory's time set back;
// and a certificate file that is a link, its target rewritten.
func TestAddressIndexAfterOtherTools(t *testing.T) {
	s := newStore(t)
	serialize := func(e *openpgp.Entity) []byte {
		var b bytes.Buffer
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	found := func(s *Store, addr string) []string {
		t.Helper()
		got, _ := s.PGPForAddress(addr)
		var out []string
		for _, e := range got {
			out = append(out, fingerprintOf(e))
		}
		return out
	}

	// Rewritten in place, twice: the second time with a file of the same
	// size and the first rewrite's modification time kept.
	// A signature's MPIs are sometimes a byte shorter (leading zero
	// bits): a key is made again until the two rewrites have one size.
	var e *openpgp.Entity
	var uids map[string]*openpgp.Identity
	only := func(names ...string) []byte {
		e.Identities = map[string]*openpgp.Identity{}
		for _, n := range names {
			e.Identities[n] = uids[n]
		}
		return serialize(e)
	}
	var two, all []byte
	for try := 0; ; try++ {
		var err error
		e, err = pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Bob <bob@example.org>", "Bob New <bobnew@example.org>", "Bob Nex <bobnex@example.org>"}})
		if err != nil {
			t.Fatal(err)
		}
		uids = e.Identities
		two = only("Bob <bob@example.org>", "Bob New <bobnew@example.org>")
		all = only("Bob <bob@example.org>", "Bob Nex <bobnex@example.org>")
		if len(two) == len(all) {
			break
		}
		if try == 50 {
			t.Fatalf("the two rewrites differ in size: %d, %d", len(two), len(all))
		}
	}
	importBytes(t, s, only("Bob <bob@example.org>"))
	fpr := strings.ToLower(fingerprintOf(e))
	path := s.certPath(fpr)
	dir := filepath.Dir(path)
	for i, c := range []struct {
		data      []byte
		addr      string
		keepMtime bool
	}{{two, "bobnew@example.org", false}, {all, "bobnex@example.org", true}} {
		ageCertDirs(t, s, time.Now().Add(-time.Hour))
		s.keyIDs() // the index saved
		dirInfo, _ := os.Stat(dir)
		fileInfo, _ := os.Stat(path)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if c.keepMtime {
			if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
				continue // the change time is read on Linux and macOS only
			}
			if err := os.Chtimes(path, fileInfo.ModTime(), fileInfo.ModTime()); err != nil {
				t.Fatal(err)
			}
		} else { // as if a second ago: settled by the time of the look-up
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
		}
		// Written in place: the directory's times are as they were.
		if after, _ := os.Stat(dir); !after.ModTime().Equal(dirInfo.ModTime()) || changeTime(after) != changeTime(dirInfo) {
			t.Fatal("writing a file in place changed its directory's times")
		}
		fresh, err := Open(s.Dir())
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range []*Store{s, fresh} {
			if got := found(st, c.addr); len(got) != 1 {
				t.Errorf("rewrite %d: %s: found %v, want %s", i, c.addr, got, fpr)
			}
		}
	}

	// A user ID packet with a partial length.
	p, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Pat <pat@example.org>"}})
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := splitPackets(serialize(p))
	if err != nil {
		t.Fatal(err)
	}
	var partial []byte
	for _, pk := range pkts {
		if pk.tag == tagUserID { // a first part of 1 byte, then the rest
			partial = append(partial, 0xc0|tagUserID, 0xe0, pk.body[0], byte(len(pk.body)-1))
			partial = append(partial, pk.body[1:]...)
			continue
		}
		partial = append(partial, pk.raw...)
	}
	pfpr := strings.ToLower(fingerprintOf(p))
	if err := os.MkdirAll(filepath.Dir(s.certPath(pfpr)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.certPath(pfpr), partial, 0o644); err != nil {
		t.Fatal(err)
	}
	ageCertDirs(t, s, time.Now().Add(-time.Hour))
	if got := found(s, "pat@example.org"); len(got) != 1 {
		t.Errorf("a user ID with a partial length: found %v", got)
	}

	// Two certificates of one address in one subdirectory.
	byDir := map[string]*openpgp.Entity{}
	var pair [2]*openpgp.Entity
	for pair[1] == nil {
		k, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Same <same@example.org>"}})
		if err != nil {
			t.Fatal(err)
		}
		d := strings.ToLower(fingerprintOf(k))[:2]
		if other, ok := byDir[d]; ok {
			pair = [2]*openpgp.Entity{other, k}
		}
		byDir[d] = k
	}
	for _, k := range pair {
		importBytes(t, s, serialize(k))
	}
	ageCertDirs(t, s, time.Now().Add(-time.Hour))
	s.keyIDs()
	fresh, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got := found(fresh, "same@example.org"); len(got) != 2 {
		t.Errorf("two certificates of one address in one subdirectory: found %v", got)
	}

	// A certificate added to that subdirectory, its time then set back
	// (rsync -a, tar x): the directory's change time shows it.
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		sub := strings.ToLower(fingerprintOf(pair[0]))[:2]
		var third *openpgp.Entity
		for third == nil {
			k, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Third <third@example.org>"}})
			if err != nil {
				t.Fatal(err)
			}
			if strings.ToLower(fingerprintOf(k))[:2] == sub {
				third = k
			}
		}
		dir := filepath.Join(fresh.certDir(), sub)
		before, _ := os.Stat(dir)
		tfpr := strings.ToLower(fingerprintOf(third))
		if err := os.WriteFile(fresh.certPath(tfpr), serialize(third), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(fresh.certPath(tfpr), old, old); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, before.ModTime(), before.ModTime()); err != nil {
			t.Fatal(err)
		}
		if got := found(fresh, "third@example.org"); len(got) != 1 {
			t.Errorf("a certificate added with its directory's time set back: found %v", got)
		}
	}

	// A certificate file that is a link: its target rewritten.
	l, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Linked <linked@example.org>", "Linked Later <linked-later@example.org>"}})
	if err != nil {
		t.Fatal(err)
	}
	lids := l.Identities
	l.Identities = map[string]*openpgp.Identity{"Linked <linked@example.org>": lids["Linked <linked@example.org>"]}
	target := filepath.Join(t.TempDir(), "linked.pgp")
	if err := os.WriteFile(target, serialize(l), 0o644); err != nil {
		t.Fatal(err)
	}
	lfpr := strings.ToLower(fingerprintOf(l))
	if err := os.MkdirAll(filepath.Dir(fresh.certPath(lfpr)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, fresh.certPath(lfpr)); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	// The link itself was made a moment ago, and its time cannot be set
	// back (Chtimes follows it): settle at once.
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	ageCertDirs(t, fresh, time.Now().Add(-time.Hour))
	if got := found(fresh, "linked@example.org"); len(got) != 1 {
		t.Errorf("a linked certificate: found %v", got)
	}
	l.Identities = lids
	if err := os.WriteFile(target, serialize(l), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(target, old, old); err != nil {
		t.Fatal(err)
	}
	if got := found(fresh, "linked-later@example.org"); len(got) != 1 {
		t.Errorf("a linked certificate whose target was rewritten: found %v", got)
	}
}

// TestSessionSeesDirectoryTimeSetBack: a session's cache notices a
// certificate added to a subdirectory whose modification time was then
// set back (rsync -a, tar x) by the subdirectory's change time.
func TestSessionSeesDirectoryTimeSetBack(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("the change time is read on Linux and macOS only")
	}
	defer func(d, c, r time.Duration) { keyIndexSettle, cacheSettle, cacheRecheck = d, c, r }(keyIndexSettle, cacheSettle, cacheRecheck)
	keyIndexSettle, cacheSettle, cacheRecheck = 0, 0, 0
	s := newStore(t)
	importFile(t, s, "samples/bob.pgp", nil)
	bob := strings.ToLower(s.certFingerprints()[0])
	se := s.Session(SessionOptions{})
	// Twice: the first look-up writes the index, which changes the key
	// directory's time and so the session's stamp.
	for range 2 {
		if keys, _, _ := se.RecipientKeys(mailseal.ProtocolOpenPGP, "carol@example.org"); len(keys) != 0 {
			t.Fatal("carol found before her key is stored")
		}
	}
	var carol *openpgp.Entity
	for carol == nil {
		k, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Carol <carol@example.org>"}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.ToLower(fingerprintOf(k))[:2] == bob[:2] {
			carol = k
		}
	}
	var b bytes.Buffer
	if err := carol.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(s.certPath(bob))
	before, _ := os.Stat(dir)
	if err := os.WriteFile(s.certPath(strings.ToLower(fingerprintOf(carol))), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	if keys, _, err := se.RecipientKeys(mailseal.ProtocolOpenPGP, "carol@example.org"); len(keys) != 1 {
		t.Fatalf("carol's key, added with the directory's time set back: %d keys (%v)", len(keys), err)
	}
}

// TestReadKeyIndex: what formatKeyIndex writes reads back the same, and
// an index damaged in any of these ways reads as none (it is rebuilt).
func TestReadKeyIndex(t *testing.T) {
	fpr := "ab" + strings.Repeat("0123456789", 3) + "01234567" // 40 hex digits
	digest := strings.Repeat("9f", 32)
	dirs := map[string]indexDir{
		"ab": {mtime: 1, ctime: 2, files: []indexFile{{fpr[2:], "10.1.2"}}, keys: []indexKey{{0x1122334455667788, fpr}}, addrs: []indexAddr{{fpr, digest}}},
		"cd": {mtime: 3, ctime: 4, keys: []indexKey{}},
	}
	path := filepath.Join(t.TempDir(), keyIndexName)
	good := string(formatKeyIndex(dirs))
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readKeyIndex(path); !reflect.DeepEqual(got, dirs) {
		t.Fatalf("read back %+v, wrote %+v", got, dirs)
	}
	for _, c := range []struct{ name, text string }{
		{"another format", strings.Replace(good, keyIndexMagic, "mailseal pgp key IDs 3", 1)},
		{"a key before any directory", keyIndexMagic + "\n1122334455667788 " + fpr + "\n"},
		{"a directory twice", good + "dir ab 1 2\n"},
		{"a directory without its change time", strings.Replace(good, "dir cd 3 4", "dir cd 3", 1)},
		{"a key of another directory", good + "1122334455667788 " + fpr + "\n"},
		{"a short key ID", strings.Replace(good, "1122334455667788", "11223344556677", 1)},
		{"a file name of another length", strings.Replace(good, "file "+fpr[2:], "file "+fpr[4:], 1)},
		{"a file without a tag", strings.Replace(good, " 10.1.2", "", 1)},
		{"a short address digest", strings.Replace(good, digest, digest[2:], 1)},
		{"an empty line", strings.Replace(good, "dir cd", "\ndir cd", 1)},
		{"upper-case hex", strings.Replace(good, "dir ab", "dir AB", 1)},
		{"cut short after a line", good[:strings.Index(good, "addr ")]},
		{"cut short in its end line", strings.TrimSuffix(good, "\n")},
		{"a line after the end", good + "dir ef 5 6\n"},
	} {
		if c.text == good {
			t.Fatalf("%s: the damage did not apply", c.name)
		}
		if err := os.WriteFile(path, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readKeyIndex(path); got != nil {
			t.Errorf("%s: read as %+v", c.name, got)
		}
	}
}

// The key index settles a cert-d subdirectory by the change times too, as
// the X.509 index does: one whose file and directory were written a
// moment ago with their modification times set back a day (tar x,
// rsync -a) is read again until it settles, not saved.
func TestKeyIndexSettlesByChangeTime(t *testing.T) {
	if changeTime(mustStat(t, t.TempDir())) == 0 {
		t.Skip("no change times here")
	}
	s := newStore(t)
	importFile(t, s, "samples/bob.pgp", nil)
	day := time.Now().Add(-24 * time.Hour)
	err := filepath.WalkDir(s.certDir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == s.certDir() {
			return err
		}
		return os.Chtimes(path, day, day)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, settled := s.keyIndex(); settled {
		t.Error("a subdirectory written a moment ago, its times set back a day, counts as settled")
	}
	if index := readKeyIndex(filepath.Join(s.dir, keyIndexName)); len(index) != 0 {
		t.Errorf("it is in the index: %v", index)
	}
}

// BenchmarkKeyIndexChecks: the key index of a new Store (as a new process
// reads it) over 2,000 other certificates, its subdirectories checked
// side by side and in turn.
func BenchmarkKeyIndexChecks(b *testing.B) {
	s := newStore(b)
	importBytes(b, s, otherKeys(b, 0, 2000))
	ageCertDirs(b, s, time.Now().Add(-time.Hour))
	s.keyIDs() // writes the index
	for _, serial := range []bool{false, true} {
		name := "side-by-side"
		if serial {
			name = "in-turn"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				fresh, err := Open(s.Dir())
				if err != nil {
					b.Fatal(err)
				}
				if serial {
					fresh.statWorkerCount = 1
				}
				if ids, _, settled := fresh.keyIndex(); len(ids) < 2000 || !settled {
					b.Fatalf("%d key IDs, settled %v", len(ids), settled)
				}
			}
		})
	}
}

// keyIndex finds the same key IDs and addresses whether it checks the
// subdirectories side by side or in turn: for an index it reads afresh,
// one it keeps, and after certificates were added (not yet settled).
func TestKeyIndexSideBySide(t *testing.T) {
	s := newStore(t)
	importBytes(t, s, otherKeys(t, 0, 300))
	compare := func(when string) {
		t.Helper()
		side, err := Open(s.Dir())
		if err != nil {
			t.Fatal(err)
		}
		side.statWorkerCount = 4 // however many cores
		turn, _ := Open(s.Dir())
		turn.statWorkerCount = 1
		index := filepath.Join(s.Dir(), keyIndexName)
		for round := range 2 { // read afresh, then kept
			// Each starts from the index file as it was: the one that
			// goes first may write it.
			saved, saveErr := os.ReadFile(index)
			ids1, addrs1, settled1 := side.keyIndex()
			if saveErr != nil {
				os.Remove(index)
			} else if err := os.WriteFile(index, saved, 0o600); err != nil {
				t.Fatal(err)
			}
			ids2, addrs2, settled2 := turn.keyIndex()
			if settled1 != settled2 || !maps.EqualFunc(ids1, ids2, sameStrings) || !maps.EqualFunc(addrs1, addrs2, sameStrings) {
				t.Fatalf("%s, round %d: side by side %d IDs, %d addresses (settled %v); in turn %d, %d (%v)",
					when, round, len(ids1), len(addrs1), settled1, len(ids2), len(addrs2), settled2)
			}
			if len(addrs1) < 300 {
				t.Fatalf("%s: %d addresses", when, len(addrs1))
			}
		}
	}
	compare("not settled")
	ageCertDirs(t, s, time.Now().Add(-time.Hour))
	compare("settled")
	importBytes(t, s, otherKeys(t, 300, 50))
	compare("some added")
}

func sameStrings(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// otherKeys is n Ed25519 certificates, "Other i" <otheri@example.net> for
// i from from on, serialized one after another.
func otherKeys(tb testing.TB, from, n int) []byte {
	tb.Helper()
	var keys bytes.Buffer
	for i := from; i < from+n; i++ {
		e, err := openpgp.NewEntity(fmt.Sprintf("Other %d", i), "", fmt.Sprintf("other%d@example.net", i), &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
		if err != nil {
			tb.Fatal(err)
		}
		if err := e.Serialize(&keys); err != nil {
			tb.Fatal(err)
		}
	}
	return keys.Bytes()
}

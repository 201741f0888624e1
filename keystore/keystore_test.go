package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/gpgtest"
	"github.com/mailseal/mailseal/pgp"
)

const corpus = "../testdata/corpora/openpgp"

const (
	aliceFpr = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"
	bobFpr   = "D1A66E1A23B182C9980F788CFBFCC82A015E7330"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func importFile(t testing.TB, s *Store, name string, protect []byte) []ImportResult {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := s.ImportPGP(f, protect)
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return res
}

func TestLayoutAndCorpusImport(t *testing.T) {
	s := newStore(t)
	// john.pgp is a v3 key: reported as skipped, not stored.
	res := importFile(t, s, "samples/john.pgp", nil)
	if len(res) != 1 || res[0].Fingerprint != "" || !strings.Contains(res[0].Changes[0], "version 3") {
		t.Fatalf("v3 key: %+v", res)
	}
	for _, name := range []string{"alice.pgp", "bob.pgp", "carol.pgp", "ricarda.pgp"} {
		res := importFile(t, s, "samples/"+name, nil)
		if len(res) != 1 || !res[0].New {
			t.Fatalf("%s: %+v", name, res)
		}
	}
	// cert-d layout: lower-case, first two hex digits as directory.
	for _, fpr := range []string{aliceFpr, bobFpr} {
		lower := strings.ToLower(fpr)
		st, err := os.Stat(filepath.Join(s.Dir(), "pgp.cert.d", lower[:2], lower[2:]))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o022 != 0 {
			t.Fatalf("cert file mode %v", st.Mode())
		}
	}
	// Re-import: unchanged.
	res = importFile(t, s, "samples/alice.pgp", nil)
	if res[0].New || res[0].Changes[0] != "unchanged" {
		t.Fatalf("re-import: %+v", res)
	}
	infos, err := s.ListPGP("")
	if err != nil || len(infos) != 4 {
		t.Fatalf("list: %v %d", err, len(infos))
	}
	alice, err := s.ListPGP("alice@OPENPGP.example")
	if err != nil || len(alice) != 1 || alice[0].Fingerprint != aliceFpr || alice[0].Capabilities != "CSE" || alice[0].HasSecret {
		t.Fatalf("alice: %v %+v", err, alice)
	}
	// Queries: fingerprint with spaces and lower case, user ID substring.
	if e, err := s.FindOnePGP(strings.ToLower(aliceFpr[:20]) + " " + aliceFpr[20:]); err != nil || fingerprintOf(e) != aliceFpr {
		t.Fatalf("fingerprint query: %v", err)
	}
	if e, err := s.FindOnePGP("Bob Babbage"); err != nil || fingerprintOf(e) != bobFpr {
		t.Fatalf("uid query: %v", err)
	}
	// Address queries (only certificates holding the local part are parsed):
	// the domain is case-insensitive, the local part is not.
	if found, err := s.FindPGP("bob@OpenPGP.example"); err != nil || len(found) != 1 || fingerprintOf(found[0]) != bobFpr {
		t.Fatalf("address query: %v %d", err, len(found))
	}
	if _, err := s.FindPGP("Bob@openpgp.example"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("local part in another case: %v", err)
	}
	// Short key IDs never identify a key.
	if _, err := s.FindPGP(aliceFpr[24:]); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("key ID query: %v", err)
	}
	// A query matching several keys names them.
	_, err = s.FindOnePGP("example")
	if !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), aliceFpr) || !strings.Contains(err.Error(), bobFpr) {
		t.Fatalf("ambiguous query: %v", err)
	}
}

func fingerprintOf(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

func TestRevocationCertificate(t *testing.T) {
	s := newStore(t)
	// Without the key, a revocation certificate has nothing to apply to.
	f, _ := os.Open(filepath.Join(corpus, "samples/alice-revocation.pgp"))
	defer f.Close()
	if _, err := s.ImportPGP(f, nil); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("revocation without key: %v", err)
	}
	importFile(t, s, "samples/alice.pgp", nil)
	res := importFile(t, s, "samples/alice-revocation.pgp", nil)
	if len(res) != 1 || res[0].Changes[0] != "revoked" {
		t.Fatalf("%+v", res)
	}
	info, _ := s.ListPGP(aliceFpr)
	if !info[0].Revoked {
		t.Fatal("alice not revoked")
	}
	// Bob's revocation does not verify against Alice's key.
	importFile(t, s, "samples/bob.pgp", nil)
	importFile(t, s, "samples/bob-revocation.pgp", nil)
	info, _ = s.ListPGP(bobFpr)
	if !info[0].Revoked {
		t.Fatal("bob not revoked")
	}
	res = importFile(t, s, "samples/alice-revocation.pgp", nil)
	if !strings.Contains(res[0].Changes[0], "unchanged") {
		t.Fatalf("second revocation import: %+v", res)
	}
}

func TestSecretKeysProtectedAtRest(t *testing.T) {
	s := newStore(t)
	res := importFile(t, s, "samples/alice-secret.pgp", []byte("pw"))
	if !res[0].Secret {
		t.Fatalf("%+v", res)
	}
	path := filepath.Join(s.Dir(), "pgp.keys", aliceFpr)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", err, st.Mode())
	}
	data, _ := os.ReadFile(path)
	if HasUnprotectedSecrets(data) {
		t.Fatal("secret key stored unprotected")
	}
	raw, _ := os.ReadFile(filepath.Join(corpus, "samples/alice-secret.pgp"))
	if !HasUnprotectedSecrets(raw) {
		t.Fatal("corpus secret key not seen as unprotected")
	}
	key, err := s.PGPSecret(aliceFpr)
	if err != nil {
		t.Fatal(err)
	}
	wrong := func(string) ([]byte, error) { return []byte("nope"), nil }
	if err := Unlock(key, wrong); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	right := func(string) ([]byte, error) { return []byte("pw"), nil }
	if err := Unlock(key, right); err != nil || key.PrivateKey.Encrypted {
		t.Fatalf("unlock: %v", err)
	}
	// The secret key is never replaced by a second import.
	res = importFile(t, s, "samples/alice-secret.pgp", nil)
	if !strings.Contains(strings.Join(res[0].Changes, ","), "already stored") {
		t.Fatalf("%+v", res)
	}
	if info, _ := s.ListPGP(aliceFpr); !info[0].HasSecret || !info[0].Protected {
		t.Fatalf("%+v", info)
	}
}

func TestV6Keys(t *testing.T) {
	s := newStore(t)
	importFile(t, s, "rfc9580/v6-minimal-cert.key", nil)
	res := importFile(t, s, "rfc9580/v6-minimal-secret-locked.key", nil)
	if !res[0].Secret {
		t.Fatalf("%+v", res)
	}
	infos, _ := s.ListPGP("")
	if len(infos) != 1 || infos[0].Version != 6 || len(infos[0].Fingerprint) != 64 {
		t.Fatalf("%+v", infos)
	}
	fpr := strings.ToLower(infos[0].Fingerprint)
	if _, err := os.Stat(filepath.Join(s.Dir(), "pgp.cert.d", fpr[:2], fpr[2:])); err != nil {
		t.Fatal(err)
	}
	key, _ := s.PGPSecret(infos[0].Fingerprint)
	if err := Unlock(key, func(string) ([]byte, error) { return []byte("correct horse battery staple"), nil }); err != nil {
		t.Fatal(err)
	}
}

func TestGenerate(t *testing.T) {
	for _, c := range []struct{ profile, algo string }{{"default", "ed25519"}, {"rfc9580", "ed25519"}, {"default", "rsa3072"}} {
		t.Run(c.profile+"-"+c.algo, func(t *testing.T) {
			s := newStore(t)
			info, err := s.GeneratePGP(GenerateOptions{UID: "Dana <dana@example.org>", Profile: c.profile, Algo: c.algo,
				Expires: 365 * 24 * time.Hour, Passphrase: []byte("pw")})
			if err != nil {
				t.Fatal(err)
			}
			want := 4
			if c.profile == "rfc9580" {
				want = 6
			}
			if info.Version != want || info.Capabilities != "CSE" || info.Expires == nil || !info.HasSecret || !info.Protected {
				t.Fatalf("%+v", info)
			}
			if c.algo == "rsa3072" && info.Algorithm != "rsa3072" {
				t.Fatalf("algorithm %s", info.Algorithm)
			}
			e, err := s.FindOnePGP("dana@example.org")
			if err != nil {
				t.Fatal(err)
			}
			sig, err := e.PrimarySelfSignature(time.Now(), &packet.Config{})
			if err != nil || len(sig.PreferredSymmetric) == 0 || sig.PreferredSymmetric[0] != uint8(packet.CipherAES256) ||
				sig.PreferredHash[0] != 10 /* SHA-512 */ {
				t.Fatalf("preferences: %v %+v", err, sig)
			}
		})
	}
	s := newStore(t)
	// No key is locked yet: exit 3, but the words say what is missing.
	if _, err := s.GeneratePGP(GenerateOptions{UID: "Eve <eve@example.org>"}); !errors.Is(err, core.ErrLocked) ||
		core.ExitCode(err) != core.ExitKey || err.Error() != "keystore: generate: a passphrase to protect the new key is needed (or NoPassphrase)" {
		t.Fatalf("no passphrase: %v", err)
	}
	if _, err := s.GeneratePGP(GenerateOptions{UID: "not an address", NoPassphrase: true}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("bad uid: %v", err)
	}
}

// Merging adds only what is validly bound to the primary key.
func TestMergeRequiresValidBindings(t *testing.T) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	victim, _ := openpgp.NewEntity("Victim", "", "victim@example.org", cfg)
	mallory, _ := openpgp.NewEntity("Mallory", "", "mallory@example.org", cfg)
	s := newStore(t)
	var pub bytes.Buffer
	victim.Serialize(&pub)
	if _, err := s.ImportPGP(bytes.NewReader(pub.Bytes()), nil); err != nil {
		t.Fatal(err)
	}

	// A user ID signed by Mallory's key, attached to the victim's cert.
	forged := packet.NewUserId("Victim", "", "attacker@evil.example")
	sig := &packet.Signature{Version: 4, SigType: packet.SigTypePositiveCert, PubKeyAlgo: mallory.PrimaryKey.PubKeyAlgo,
		Hash: cfg.Hash(), CreationTime: time.Now(), IssuerKeyId: &victim.PrimaryKey.KeyId}
	if err := sig.SignUserId(forged.Id, victim.PrimaryKey, mallory.PrivateKey, cfg); err != nil {
		t.Fatal(err)
	}
	// A subkey with a binding signature by Mallory.
	var forgedSub bytes.Buffer
	mallory.Subkeys[0].PublicKey.Serialize(&forgedSub)
	bsig := &packet.Signature{Version: 4, SigType: packet.SigTypeSubkeyBinding, PubKeyAlgo: mallory.PrimaryKey.PubKeyAlgo,
		Hash: cfg.Hash(), CreationTime: time.Now(), IssuerKeyId: &victim.PrimaryKey.KeyId, FlagsValid: true, FlagEncryptCommunications: true}
	if err := bsig.SignKey(mallory.Subkeys[0].PublicKey, mallory.PrivateKey, cfg); err != nil {
		t.Fatal(err)
	}
	// A signing subkey bound by the victim's own key but without the
	// subkey's back-signature (anyone could bind someone else's key).
	other, _ := openpgp.NewEntity("Other", "", "other@example.org", cfg)
	var signSub bytes.Buffer
	otherPub := *other.PrimaryKey
	otherPub.IsSubkey = true
	otherPub.Serialize(&signSub)
	ssig := &packet.Signature{Version: 4, SigType: packet.SigTypeSubkeyBinding, PubKeyAlgo: victim.PrimaryKey.PubKeyAlgo,
		Hash: cfg.Hash(), CreationTime: time.Now(), IssuerKeyId: &victim.PrimaryKey.KeyId, FlagsValid: true, FlagSign: true}
	if err := ssig.SignKey(&otherPub, victim.PrivateKey, cfg); err != nil {
		t.Fatal(err)
	}
	var update bytes.Buffer
	update.Write(pub.Bytes())
	signSub.WriteTo(&update)
	ssig.Serialize(&update)
	forged.Serialize(&update)
	sig.Serialize(&update)
	update.Write(forgedSub.Bytes())
	bsig.Serialize(&update)
	if _, err := s.ImportPGP(bytes.NewReader(update.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindPGP("attacker@evil.example"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("forged user ID was merged: %v", err)
	}
	info, _ := s.ListPGP("victim@example.org")
	if len(info[0].Subkeys) != 1 {
		t.Fatalf("forged subkey was merged: %+v", info[0].Subkeys)
	}

	// A genuinely self-signed new user ID is merged.
	if err := victim.AddUserId("Victim", "work", "victim@work.example", cfg); err != nil {
		t.Fatal(err)
	}
	var real bytes.Buffer
	victim.Serialize(&real)
	res, err := s.ImportPGP(bytes.NewReader(real.Bytes()), nil)
	if err != nil || !strings.Contains(strings.Join(res[0].Changes, ","), "new user ID") {
		t.Fatalf("%v %+v", err, res)
	}
	if _, err := s.FindOnePGP("victim@work.example"); err != nil {
		t.Fatal(err)
	}
	// Key material is never replaced: a stored subkey packet stays byte-identical.
	before, _ := os.ReadFile(s.certPath(strings.ToLower(fingerprintOf(victim))))
	s.ImportPGP(bytes.NewReader(real.Bytes()), nil)
	after, _ := os.ReadFile(s.certPath(strings.ToLower(fingerprintOf(victim))))
	if !bytes.Equal(before, after) {
		t.Fatal("re-import changed the stored certificate")
	}
}

// Concurrent writers, as separate processes, lose nothing: each helper
// process imports its own key and adds its own user ID to a shared key.
func TestConcurrentImportProcesses(t *testing.T) {
	if os.Getenv("KEYSTORE_HELPER_HOME") != "" {
		return
	}
	dir := t.TempDir()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	shared, _ := openpgp.NewEntity("Shared", "", "shared@example.org", cfg)
	var files []string
	for i := 0; i < 8; i++ {
		own, _ := openpgp.NewEntity("Own", "", fmt.Sprintf("own%d@example.org", i), cfg)
		copyShared := *shared
		copyShared.Identities = map[string]*openpgp.Identity{}
		for k, v := range shared.Identities {
			copyShared.Identities[k] = v
		}
		if err := copyShared.AddUserId("Shared", "", fmt.Sprintf("shared%d@example.org", i), cfg); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		own.Serialize(&b)
		copyShared.Serialize(&b)
		name := filepath.Join(dir, fmt.Sprintf("k%d", i))
		os.WriteFile(name, b.Bytes(), 0o600)
		files = append(files, name)
	}
	home := filepath.Join(dir, "home")
	var wg sync.WaitGroup
	errs := make([]error, len(files))
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperImport$")
			cmd.Env = append(os.Environ(), "KEYSTORE_HELPER_HOME="+home, "KEYSTORE_HELPER_FILE="+f)
			out, err := cmd.CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, _ := Open(home)
	for i := 0; i < 8; i++ {
		if _, err := s.FindOnePGP(fmt.Sprintf("own%d@example.org", i)); err != nil {
			t.Error(err)
		}
		if _, err := s.FindOnePGP(fmt.Sprintf("shared%d@example.org", i)); err != nil {
			t.Error(err)
		}
	}
}

func TestHelperImport(t *testing.T) {
	home, file := os.Getenv("KEYSTORE_HELPER_HOME"), os.Getenv("KEYSTORE_HELPER_FILE")
	if home == "" {
		t.Skip("helper process for TestConcurrentImportProcesses")
	}
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if _, err := s.ImportPGP(bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
}

// Keys generated by gpg import into mailseal; keys generated by mailseal
// import into gpg.
func TestGPGKeyExchange(t *testing.T) {
	g := gpgtest.New(t)
	s := newStore(t)
	for _, c := range []struct{ uid, sign, enc string }{
		{"Gail <gail@example.org>", "ed25519", "cv25519"},
		{"Ravi <ravi@example.org>", "rsa3072", "rsa3072"},
	} {
		fpr := g.GenKey(c.uid, c.sign, c.enc)
		res, err := s.ImportPGP(bytes.NewReader(g.Export(fpr)), nil)
		if err != nil || !res[0].New || res[0].Fingerprint != fpr {
			t.Fatalf("%s: %v %+v", c.uid, err, res)
		}
		res, err = s.ImportPGP(bytes.NewReader(g.ExportSecret(fpr)), []byte("pw"))
		if err != nil || !res[0].Secret {
			t.Fatalf("%s secret: %v %+v", c.uid, err, res)
		}
		info, _ := s.ListPGP(fpr)
		if info[0].Capabilities != "CSE" || !info[0].HasSecret {
			t.Fatalf("%+v", info[0])
		}
	}
	for _, algo := range []string{"ed25519", "rsa3072"} {
		uid := fmt.Sprintf("Made %s <made-%s@example.org>", algo, algo)
		info, err := s.GeneratePGP(GenerateOptions{UID: uid, Algo: algo, NoPassphrase: true})
		if err != nil {
			t.Fatal(err)
		}
		var pub bytes.Buffer
		if err := s.ExportPGP(&pub, info.Fingerprint, false); err != nil {
			t.Fatal(err)
		}
		if r := g.Import(pub.Bytes()); r.Err != nil {
			t.Fatalf("gpg import: %v %s", r.Err, r.Stderr)
		}
		r := g.Run(nil, "--with-colons", "--list-keys", info.Fingerprint)
		if r.Err != nil || !bytes.Contains(r.Stdout, []byte(info.Fingerprint)) || !bytes.Contains(r.Stdout, []byte(uid)) {
			t.Fatalf("gpg does not list %s: %v %s", uid, r.Err, r.Stdout)
		}
		if !bytes.Contains(r.Stdout, []byte("\nsub:")) {
			t.Fatalf("gpg sees no encryption subkey: %s", r.Stdout)
		}
	}
}

// A key file may hold several armored blocks with text around them (a
// block of two keys from gpg --export --armor a b, a secret key block, a
// line longer than the armor reader's buffer): every key is imported.
// Export writes what gpg writes: one block with the CRC-24 line, which
// decodes (go-crypto's decoder as the reference) to the stored certificate.
func TestImportArmorBlocks(t *testing.T) {
	g := gpgtest.New(t)
	s := newStore(t)
	a := g.GenKey("Ann <ann@example.org>", "ed25519", "cv25519")
	b := g.GenKey("Ben <ben@example.org>", "ed25519", "cv25519")
	c := g.GenKey("Cy <cy@example.org>", "ed25519", "cv25519")
	two := g.Run(nil, "--armor", "--export", a, b).Stdout
	in := "Keys of the team:\n\n" + string(two) + "\n" + strings.Repeat("x", 100<<10) + "\n" +
		string(g.ExportSecret(c)) + "-- \nCy\n"
	res, err := s.ImportPGP(strings.NewReader(in), []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range res {
		got[r.Fingerprint] = r.Secret
	}
	if len(res) != 3 || got[a] || got[b] || !got[c] {
		t.Fatalf("imported %+v", res)
	}
	var out bytes.Buffer
	if err := s.ExportPGP(&out, c, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.HasPrefix(text, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n") || !strings.HasSuffix(text, "-----END PGP PUBLIC KEY BLOCK-----\n") ||
		!regexp.MustCompile(`\n=[A-Za-z0-9+/]{4}\n-----END`).MatchString(text) {
		t.Fatalf("export:\n%s", text)
	}
	blk, err := armor.Decode(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(blk.Body)
	stored, _ := os.ReadFile(s.certPath(strings.ToLower(c)))
	if err != nil || !bytes.Equal(data, stored) {
		t.Fatalf("exported %d bytes (%v), stored %d", len(data), err, len(stored))
	}
}

// A session without a Passphrase leaves protected keys locked: ErrLocked,
// not a panic (review finding), for signing and for decrypting.
func TestSessionWithoutPassphrase(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"Locked <locked@example.org>"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pgp.ProtectKey(key, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := key.SerializePrivateWithoutSigning(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportPGP(&buf, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Session(SessionOptions{}).Signer(core.ProtocolOpenPGP, "locked@example.org")
	if !errors.Is(err, core.ErrLocked) {
		t.Fatalf("Signer: %v", err)
	}
}

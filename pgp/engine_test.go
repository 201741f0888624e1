package pgp

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

func TestConfig(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	p := core.DefaultPolicy()
	p.Now = now
	p.MinRSABits = 3072
	p.MaxDecompressed = 123456
	cfg := New(p).Config()
	if cfg == nil {
		t.Fatal("nil config")
	}
	if !cfg.Now().Equal(now) {
		t.Errorf("time %v", cfg.Now())
	}
	if cfg.MaxDecompressedMessageSize == nil || *cfg.MaxDecompressedMessageSize != 123456 {
		t.Errorf("decompression cap %v", cfg.MaxDecompressedMessageSize)
	}
	if cfg.MinimumRSABits() != 3072 {
		t.Errorf("min RSA %d", cfg.MinimumRSABits())
	}
	if cfg.Hash() != crypto.SHA256 || cfg.Cipher() != packet.CipherAES256 {
		t.Errorf("defaults %v %v", cfg.Hash(), cfg.Cipher())
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.MD5, crypto.RIPEMD160} {
		if !cfg.RejectMessageHashAlgorithm(h) {
			t.Errorf("%v accepted for messages", h)
		}
	}
	if cfg.RejectMessageHashAlgorithm(crypto.SHA256) {
		t.Error("SHA-256 rejected")
	}
	p.AllowSHA1 = true
	cfg = New(p).Config()
	if cfg.RejectMessageHashAlgorithm(crypto.SHA1) {
		t.Error("SHA-1 rejected with AllowSHA1")
	}
	if !cfg.RejectMessageHashAlgorithm(crypto.MD5) {
		t.Error("MD5 accepted with AllowSHA1")
	}
	// Zero policy gets safe defaults; configs are not shared.
	e := New(core.Policy{})
	c1, c2 := e.Config(), e.Config()
	if c1 == c2 || *c1.MaxDecompressedMessageSize != 256<<20 || c1.MinimumRSABits() != 2048 {
		t.Errorf("zero policy config: %v %d", *c1.MaxDecompressedMessageSize, c1.MinimumRSABits())
	}
	if d := time.Since(c1.Now()); d < 0 || d > time.Minute {
		t.Errorf("zero policy time %v", c1.Now())
	}
}

func TestSignVerify(t *testing.T) {
	e := testEngine()
	for _, o := range []struct {
		name string
		opts keyOpts
	}{{"ed25519", keyOpts{}}, {"v6", keyOpts{v6: true}}, {"rsa3072", keyOpts{rsa: true}}} {
		t.Run(o.name, func(t *testing.T) {
			key := genKey(t, "Alice", "alice@example.org", o.opts)
			cert := publicOf(t, key)
			micalg, err := e.Micalg(key)
			if err != nil {
				t.Fatal(err)
			}
			if micalg != "pgp-sha256" {
				t.Errorf("micalg %s", micalg)
			}
			data := []byte("Content-Type: text/plain\r\n\r\nHello\r\n")
			sig := sign(t, e, key, data)
			if !bytes.HasPrefix(sig, []byte("-----BEGIN PGP SIGNATURE-----\r\n")) {
				t.Fatalf("not armored in CRLF lines: %s", sig)
			}
			// Every line ends in CRLF, as the MIME part that carries it.
			if n := bytes.Count(sig, []byte("\n")); n != bytes.Count(sig, []byte("\r\n")) || n < 4 {
				t.Fatalf("a bare LF in the signature's armor")
			}
			signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), openpgp.EntityList{cert})
			if err != nil {
				t.Fatal(err)
			}
			s := oneSigner(t, signers, core.SignerGood)
			if s.Fingerprint != Fingerprint(cert.PrimaryKey) || s.Fingerprint != strings.ToUpper(s.Fingerprint) {
				t.Errorf("fingerprint %s", s.Fingerprint)
			}
			if s.SigningKey == "" || s.Hash != "SHA-256" || !s.Valid || s.Created.IsZero() {
				t.Errorf("signer %+v", s)
			}
			if len(s.Emails) != 1 || s.Emails[0] != "alice@example.org" {
				t.Errorf("emails %v", s.Emails)
			}
			// Micalg matches the hash actually used.
			sigs, _, err := readSignatures(bytes.NewReader(sig))
			if err != nil || len(sigs) != 1 {
				t.Fatal(err)
			}
			if name, _ := micalgName(sigs[0].Hash); name != micalg {
				t.Errorf("signature hash %v, micalg %s", sigs[0].Hash, micalg)
			}
			// Changed data: bad.
			signers, _, err = e.VerifyDetached(strings.NewReader("Content-Type: text/plain\r\n\r\nHellO\r\n"), bytes.NewReader(sig), openpgp.EntityList{cert})
			if err != nil {
				t.Fatal(err)
			}
			oneSigner(t, signers, core.SignerBad)
			// Unknown key: the issuer fingerprint is the signing key's
			// (no 16-digit key ID when the full fingerprint is known).
			signingKey := signers[0].SigningKey
			signers, _, err = e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), nil)
			if err != nil {
				t.Fatal(err)
			}
			s = oneSigner(t, signers, core.SignerUnknown)
			if s.KeyID != "" || s.SigningKey != signingKey || signingKey == "" || s.Fingerprint != "" {
				t.Errorf("unknown signer %+v", s)
			}
			// Binary signature works too.
			signers, _, err = e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(dearmor(t, sig)), openpgp.EntityList{cert})
			if err != nil {
				t.Fatal(err)
			}
			oneSigner(t, signers, core.SignerGood)
		})
	}
}

func TestMicalgFollowsKeyPreference(t *testing.T) {
	e := testEngine()
	key := genKey(t, "Bob", "bob@example.org", keyOpts{hash: crypto.SHA256})
	// The key's preference list is led by its config's hash.
	prefs := key.Identities["Bob <bob@example.org>"].SelfCertifications[0].Packet.PreferredHash
	if len(prefs) == 0 || prefs[0] != 8 {
		t.Skipf("unexpected preferences %v", prefs) // go-crypto changed its generator
	}
	micalg, err := e.Micalg(key)
	if err != nil || micalg != "pgp-sha256" {
		t.Fatalf("micalg %q %v", micalg, err)
	}
	sig := sign(t, e, key, []byte("x"))
	sigs, _, _ := readSignatures(bytes.NewReader(sig))
	if sigs[0].Hash != crypto.SHA256 {
		t.Fatalf("hash %v", sigs[0].Hash)
	}
	signers, _, _ := e.VerifyDetached(strings.NewReader("x"), bytes.NewReader(sig), openpgp.EntityList{publicOf(t, key)})
	oneSigner(t, signers, core.SignerGood)
}

func TestSeveralSignatures(t *testing.T) {
	e := testEngine()
	a := genKey(t, "A", "a@example.org", keyOpts{})
	b := genKey(t, "B", "b@example.org", keyOpts{})
	data := []byte("data")
	both := append(dearmor(t, sign(t, e, a, data)), dearmor(t, sign(t, e, b, data))...)
	signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(both), openpgp.EntityList{publicOf(t, a)})
	if err != nil {
		t.Fatal(err)
	}
	if len(signers) != 2 || signers[0].Status != core.SignerGood || signers[1].Status != core.SignerUnknown {
		t.Fatalf("signers %+v", signers)
	}
}

func TestSignStreamsInConstantMemory(t *testing.T) {
	e := testEngine()
	key := genKey(t, "A", "a@example.org", keyOpts{})
	chunk := make([]byte, 64<<10)
	measure := func(w io.Writer, total int) uint64 {
		var before, after runtimeStats
		before.read()
		for n := 0; n < total; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		after.read()
		return after.sub(before)
	}
	w, _ := e.SignDetached(io.Discard, key)
	if got := measure(w, 64<<20); got > 8<<20 {
		t.Errorf("signing 64 MiB allocated %d bytes", got)
	}
	w.Close()
	w2, err := e.Encrypt(io.Discard, []*openpgp.Entity{publicOf(t, key)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Armoring allocates per write, but must not keep what it allocates:
	// check live heap, not allocation volume.
	var before runtimeStats
	before.read()
	for n := 0; n < 64<<20; n += len(chunk) {
		w2.Write(chunk)
	}
	if live := heapGrowth(before); live > 32<<20 {
		t.Errorf("encrypting 64 MiB grew the heap by %d bytes", live)
	}
	w2.Close()
}

func TestEncryptDecrypt(t *testing.T) {
	e := testEngine()
	for _, o := range []struct {
		name      string
		opts      keyOpts
		integrity string
	}{
		{"ed25519-seipdv1", keyOpts{}, core.IntegrityMDC},
		{"ed25519-aead", keyOpts{aead: true}, core.IntegrityAEAD},
		{"v6", keyOpts{v6: true}, core.IntegrityAEAD},
		{"rsa3072", keyOpts{rsa: true}, core.IntegrityMDC},
	} {
		t.Run(o.name, func(t *testing.T) {
			rcpt := genKey(t, "Rcpt", "rcpt@example.org", o.opts)
			sender := genKey(t, "Sender", "sender@example.org", keyOpts{})
			data := []byte("Content-Type: text/plain\r\n\r\nsecret\r\n")
			kr := Keyring{Certs: openpgp.EntityList{publicOf(t, sender)}, Secrets: openpgp.EntityList{rcpt}}

			ct := encrypt(t, e, data, nil, publicOf(t, rcpt))
			if !bytes.HasPrefix(ct, []byte("-----BEGIN PGP MESSAGE-----\r\n")) {
				t.Fatalf("not armored in CRLF lines")
			}
			// Every line ends in CRLF, as the MIME part that carries it.
			if n := bytes.Count(ct, []byte("\n")); n != bytes.Count(ct, []byte("\r\n")) || n < 5 {
				t.Fatalf("a bare LF in the armor")
			}
			d, body := decryptAll(t, e, ct, kr)
			if !bytes.Equal(body, data) || !d.Encrypted || d.Integrity != o.integrity || len(d.Signers) != 0 {
				t.Fatalf("got %q %+v", body, d)
			}
			if d.DecryptedWith != Fingerprint(rcpt.PrimaryKey) {
				t.Errorf("decrypted with %s", d.DecryptedWith)
			}
			// Binary input too.
			_, body = decryptAll(t, e, dearmor(t, ct), kr)
			if !bytes.Equal(body, data) {
				t.Fatal("binary")
			}

			ct = encrypt(t, e, data, sender, publicOf(t, rcpt))
			d, body = decryptAll(t, e, ct, kr)
			if !bytes.Equal(body, data) {
				t.Fatal("signed body")
			}
			s := oneSigner(t, d.Signers, core.SignerGood)
			if s.Fingerprint != Fingerprint(sender.PrimaryKey) || s.Emails[0] != "sender@example.org" {
				t.Errorf("signer %+v", s)
			}
			// Signer unknown to the reader.
			d, _ = decryptAll(t, e, ct, Keyring{Secrets: kr.Secrets})
			oneSigner(t, d.Signers, core.SignerUnknown)
		})
	}
}

func TestDecryptSignedOnly(t *testing.T) {
	e := testEngine()
	key := genKey(t, "A", "a@example.org", keyOpts{})
	var buf bytes.Buffer
	w, err := openpgp.Sign(&buf, []*openpgp.Entity{key}, nil, e.Config())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("signed only"))
	w.Close()
	d, body := decryptAll(t, e, buf.Bytes(), Keyring{Certs: openpgp.EntityList{publicOf(t, key)}})
	if string(body) != "signed only" || d.Encrypted || d.Integrity != "" {
		t.Fatalf("%q %+v", body, d)
	}
	oneSigner(t, d.Signers, core.SignerGood)
}

func tamperLast(t *testing.T, armored []byte) (binary, rearmored []byte) {
	bin := dearmor(t, armored)
	bin[len(bin)-1] ^= 0x01
	return bin, rearmor(t, "PGP MESSAGE", bin)
}

func TestTamperedCiphertext(t *testing.T) {
	e := testEngine()
	data := make([]byte, 1<<20)
	rand.Read(data)
	for _, o := range []struct {
		name string
		opts keyOpts
	}{{"seipdv1-mdc", keyOpts{}}, {"seipdv2-aead", keyOpts{aead: true}}, {"v6-aead", keyOpts{v6: true}}} {
		t.Run(o.name, func(t *testing.T) {
			rcpt := genKey(t, "R", "r@example.org", o.opts)
			sender := genKey(t, "S", "s@example.org", keyOpts{})
			kr := Keyring{Secrets: openpgp.EntityList{rcpt}, Certs: openpgp.EntityList{publicOf(t, sender)}}
			for _, signer := range []*openpgp.Entity{nil, sender} {
				ct := encrypt(t, e, data, signer, publicOf(t, rcpt))
				bin, arm := tamperLast(t, ct)
				for name, msg := range map[string][]byte{"binary": bin, "armored": arm} {
					d, err := e.Decrypt(bytes.NewReader(msg), kr)
					if d != nil {
						t.Fatalf("%s: plaintext released for tampered ciphertext", name)
					}
					wantErr(t, err, core.ErrIntegrity)
				}
				if o.name == "seipdv1-mdc" {
					// A first plaintext byte that is not a packet tag fails
					// with the very text of a failed MDC: how decrypted data
					// fails to parse is not told (it is an oracle).
					_, errMDC := e.Decrypt(bytes.NewReader(bin), kr)
					tag := dearmor(t, ct)
					tag[seipdContent(t, tag)+1+16+2] ^= 0x80
					_, errTag := e.Decrypt(bytes.NewReader(tag), kr)
					wantErr(t, errTag, core.ErrIntegrity)
					if errTag.Error() != errMDC.Error() {
						t.Fatalf("errors differ:\n%v\n%v", errTag, errMDC)
					}
				}
				// Truncated: also an integrity failure.
				raw := dearmor(t, ct)
				_, err := e.Decrypt(bytes.NewReader(raw[:len(raw)-100]), kr)
				wantErr(t, err, core.ErrIntegrity)
			}
		})
	}
}

// sedMessage builds, by hand, a password-encrypted message whose data is in
// a Symmetrically Encrypted Data packet (tag 9, no MDC).
func sedMessage(t *testing.T) []byte {
	var buf bytes.Buffer
	cfg := &packet.Config{DefaultCipher: packet.CipherAES128}
	if _, err := packet.SerializeSymmetricKeyEncrypted(&buf, []byte("pw"), cfg); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 64)
	rand.Read(body)
	buf.Write([]byte{0xC0 | 9, byte(len(body))}) // new-format header, tag 9
	buf.Write(body)
	return buf.Bytes()
}

func TestNoMDCRefused(t *testing.T) {
	e := testEngine()
	kr := Keyring{Password: func() ([]byte, error) { return []byte("pw"), nil }}
	for name, msg := range map[string][]byte{
		"handmade":     sedMessage(t),
		"gpg-rfc2440":  readFile(t, "testdata/sed-rfc2440-pw.gpg"),
		"handmade-asc": rearmor(t, "PGP MESSAGE", sedMessage(t)),
	} {
		d, err := e.Decrypt(bytes.NewReader(msg), kr)
		if d != nil {
			t.Fatalf("%s: decrypted", name)
		}
		wantErr(t, err, core.ErrIntegrity)
		if !strings.Contains(err.Error(), "integrity") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNoKeyListsRecipients(t *testing.T) {
	e := testEngine()
	rcpt := genKey(t, "R", "r@example.org", keyOpts{})
	other := genKey(t, "O", "o@example.org", keyOpts{})
	ct := encrypt(t, e, []byte("x"), nil, publicOf(t, rcpt))
	_, err := e.Decrypt(bytes.NewReader(ct), Keyring{Secrets: openpgp.EntityList{other}})
	wantErr(t, err, core.ErrNoKey)
	sub := rcpt.Subkeys[0].PublicKey.KeyIdString()
	if !strings.Contains(err.Error(), "key ID "+sub+" (no certificate of it is stored)") {
		t.Errorf("error %q does not name key ID %s", err, sub)
	}
	_, err = e.Decrypt(bytes.NewReader(ct), Keyring{})
	wantErr(t, err, core.ErrNoKey)
	// Where the recipient's certificate is stored, it is named by its
	// full fingerprint and user ID, not by the key ID the message gives.
	_, err = e.Decrypt(bytes.NewReader(ct), Keyring{Certs: openpgp.EntityList{publicOf(t, rcpt)}, Secrets: openpgp.EntityList{other}})
	wantErr(t, err, core.ErrNoKey)
	if want := Fingerprint(rcpt.PrimaryKey) + " R <r@example.org>"; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), sub) {
		t.Errorf("error %q, want it to name %s", err, want)
	}
}

func TestLockedKey(t *testing.T) {
	e := testEngine()
	rcpt := genKey(t, "R", "r@example.org", keyOpts{})
	ct := encrypt(t, e, []byte("locked"), nil, publicOf(t, rcpt))
	if err := rcpt.EncryptPrivateKeys([]byte("pass"), e.Config()); err != nil {
		t.Fatal(err)
	}
	_, err := e.Decrypt(bytes.NewReader(ct), Keyring{Secrets: openpgp.EntityList{rcpt}})
	wantErr(t, err, core.ErrLocked)

	// Signing with it is refused too.
	_, err = e.Micalg(rcpt)
	wantErr(t, err, core.ErrLocked)

	unlock := func(pass string) func(*openpgp.Entity) error {
		return func(ent *openpgp.Entity) error {
			if err := ent.DecryptPrivateKeys([]byte(pass)); err != nil {
				return errorsJoinLocked(err)
			}
			return nil
		}
	}
	_, err = e.Decrypt(bytes.NewReader(ct), Keyring{Secrets: openpgp.EntityList{rcpt}, Unlock: unlock("wrong")})
	wantErr(t, err, core.ErrLocked)
	_, body := decryptAll(t, e, ct, Keyring{Secrets: openpgp.EntityList{rcpt}, Unlock: unlock("pass")})
	if string(body) != "locked" {
		t.Fatalf("%q", body)
	}
}

func TestPasswordMessage(t *testing.T) {
	e := testEngine()
	var buf bytes.Buffer
	w, err := openpgp.SymmetricallyEncrypt(&buf, []byte("pw"), nil, e.Config())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("by password"))
	w.Close()
	pw := func(p string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(p), nil } }
	d, body := decryptAll(t, e, buf.Bytes(), Keyring{Password: pw("pw")})
	if string(body) != "by password" || !d.Encrypted || d.DecryptedWith != "" {
		t.Fatalf("%q %+v", body, d)
	}
	_, err = e.Decrypt(bytes.NewReader(buf.Bytes()), Keyring{Password: pw("wrong")})
	wantErr(t, err, core.ErrLocked)
	_, err = e.Decrypt(bytes.NewReader(buf.Bytes()), Keyring{})
	wantErr(t, err, core.ErrLocked)
	// A password callback that fails is a locked message, and says what
	// failed: no secret key is involved, so none is called locked.
	_, err = e.Decrypt(bytes.NewReader(buf.Bytes()), Keyring{Password: func() ([]byte, error) { return nil, errors.New("no terminal") }})
	if !errors.Is(err, core.ErrLocked) || core.ExitCode(err) != core.ExitKey ||
		!strings.HasSuffix(err.Error(), "no password for the message: no terminal") {
		t.Fatalf("failing password callback: %v", err)
	}
	// A wrong session key first, then the password.
	wrongSK := SessionKey{Cipher: packet.CipherAES256, Key: make([]byte, 32)}
	_, body = decryptAll(t, e, buf.Bytes(), Keyring{Password: pw("pw"), SessionKeys: []SessionKey{wrongSK}})
	if string(body) != "by password" {
		t.Fatalf("password after a wrong session key: %q", body)
	}
	_, err = e.Decrypt(bytes.NewReader(buf.Bytes()), Keyring{SessionKeys: []SessionKey{wrongSK}})
	wantErr(t, err, core.ErrNoKey)
}

func TestSpoolSpillsToDisk(t *testing.T) {
	p := testPolicy()
	p.MaxMemorySpool = 4096
	e := New(p)
	rcpt := genKey(t, "R", "r@example.org", keyOpts{})
	data := make([]byte, 300<<10)
	rand.Read(data)
	ct := encrypt(t, e, data, nil, publicOf(t, rcpt))
	_, body := decryptAll(t, e, ct, Keyring{Secrets: openpgp.EntityList{rcpt}})
	if !bytes.Equal(body, data) {
		t.Fatal("spilled plaintext differs")
	}
}

// When the spool cannot take the plaintext (no temporary directory), the
// decryption fails and says why, also when only the last bytes go to the
// file (the failure then shows when the spool's goroutine finishes) and
// when a signature's hash runs beside it.
func TestSpoolFailure(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()+"/missing")
	rcpt := genKey(t, "R", "r@example.org", keyOpts{})
	signer := genKey(t, "S", "s@example.org", keyOpts{})
	for _, tc := range []struct{ size, memLimit int }{{300 << 10, 4096}, {2 << 20, 2<<20 - 100}, {1 << 20, 1<<20 - 1}} {
		p := testPolicy()
		p.MaxMemorySpool = int64(tc.memLimit)
		e := New(p)
		data := make([]byte, tc.size)
		rand.Read(data)
		for _, s := range []*openpgp.Entity{nil, signer} {
			ct := encrypt(t, e, data, s, publicOf(t, rcpt))
			d, err := e.Decrypt(bytes.NewReader(ct), Keyring{Secrets: openpgp.EntityList{rcpt}, Certs: openpgp.EntityList{publicOf(t, signer)}})
			if d != nil || err == nil || !strings.Contains(err.Error(), "spool") {
				t.Fatalf("%d bytes, %d in memory, signed %v: got %v, %v", tc.size, tc.memLimit, s != nil, d, err)
			}
		}
	}
}

func TestDecryptGarbage(t *testing.T) {
	e := testEngine()
	for _, in := range []string{"", "hello", "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n", "\xa3\x01garbage"} {
		_, err := e.Decrypt(strings.NewReader(in), Keyring{})
		if err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// A signature dated later than the verification time, beyond
// core.MaxClockSkew, is bad; within it, good (the signer's clock may
// run a little fast). S/MIME judges signingTime by the same rule.
func TestFutureSignature(t *testing.T) {
	now := time.Now()
	key := genKey(t, "Alice", "alice@example.org", keyOpts{created: now.Add(-time.Hour)})
	cert := publicOf(t, key)
	data := []byte("Content-Type: text/plain\r\n\r\nHello\r\n")
	verifier := testPolicy()
	verifier.Now = now
	for _, tc := range []struct {
		ahead time.Duration
		want  core.SignerStatus
	}{
		{core.MaxClockSkew - time.Minute, core.SignerGood},
		{core.MaxClockSkew + time.Minute, core.SignerBad},
		{365 * 24 * time.Hour, core.SignerBad},
	} {
		signer := testPolicy()
		signer.Now = now.Add(tc.ahead)
		sig := sign(t, New(signer), key, data)
		signers, _, err := New(verifier).VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), openpgp.EntityList{cert})
		if err != nil {
			t.Fatal(err)
		}
		s := oneSigner(t, signers, tc.want)
		if tc.want == core.SignerBad && !strings.Contains(s.Error, "after the verification time") {
			t.Errorf("%v ahead: error %q", tc.ahead, s.Error)
		}
	}
}

// A session key given for a message that is not encrypted: unreadable
// input (exit 2) in words that say so, not "unreadable input".
func TestSessionKeyOnUnencryptedMessage(t *testing.T) {
	e := testEngine()
	alice := genKey(t, "Alice", "alice@example.org", keyOpts{})
	var signed bytes.Buffer
	w, err := openpgp.Sign(&signed, []*openpgp.Entity{alice}, nil, e.Config())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("signed only"))
	w.Close()
	sk := SessionKey{Cipher: packet.CipherAES256, Key: make([]byte, 32)}
	_, err = e.Decrypt(bytes.NewReader(signed.Bytes()), Keyring{SessionKeys: []SessionKey{sk}})
	if !errors.Is(err, core.ErrInput) || core.ExitCode(err) != core.ExitUsage ||
		!strings.HasSuffix(err.Error(), "the message is not encrypted: there is nothing to decrypt with a session key") {
		t.Fatalf("%v", err)
	}
}

// A zero Engine (var e pgp.Engine) applies core.DefaultPolicy(), as
// New(core.Policy{}) and a zero smime.Engine do (issue 13: a zero engine is
// usable). Before, it applied its zero policy as it was: a decompression
// cap of 0, so that every compressed message was refused as too large, and
// go-crypto's RSA minimum instead of the policy's.
func TestZeroEngineUsesDefaultPolicy(t *testing.T) {
	var zero Engine
	want := New(core.Policy{})
	if got := zero.Policy(); got != want.Policy() {
		t.Errorf("zero engine's policy %+v, want %+v", got, want.Policy())
	}
	cfg := zero.Config()
	if *cfg.MaxDecompressedMessageSize != 256<<20 || cfg.MinimumRSABits() != 2048 {
		t.Errorf("zero engine's config: decompression cap %d, RSA minimum %d", *cfg.MaxDecompressedMessageSize, cfg.MinimumRSABits())
	}
	// gpg compresses by default: the zero engine decrypts such a message.
	key, err := openpgp.NewEntity("R", "", "r@example.org", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, DefaultCompressionAlgo: packet.CompressionZLIB})
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	w, err := openpgp.Encrypt(&ct, []*openpgp.Entity{publicOf(t, key)}, nil, nil, nil,
		&packet.Config{DefaultCompressionAlgo: packet.CompressionZLIB, DefaultCipher: packet.CipherAES256})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("compressed hello\n"), 4096) // 68 KiB that compress well
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, body := decryptAll(t, &zero, ct.Bytes(), Keyring{Secrets: openpgp.EntityList{key}})
	if !bytes.Equal(body, data) {
		t.Fatalf("decrypted %d bytes, want %d", len(body), len(data))
	}
}

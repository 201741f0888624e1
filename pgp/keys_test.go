package pgp

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// revokedAlice reads the corpus Alice with her revocation certificate
// applied: the revocation signature is verified against her primary key
// before it is attached.
func revokedAlice(t *testing.T, secret bool) *openpgp.Entity {
	t.Helper()
	name := "alice.pgp"
	if secret {
		name = "alice-secret.pgp"
	}
	alice := corpusKeys(t, filepath.Join("samples", name))[0]
	rev := dearmorIfNeeded(t, readFile(t, filepath.Join(corpus, "samples", "alice-revocation.pgp")))
	p, err := packet.NewReader(bytes.NewReader(rev)).Next()
	if err != nil {
		t.Fatal(err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok || sig.SigType != packet.SigTypeKeyRevocation {
		t.Fatalf("not a key revocation: %T", p)
	}
	if err := alice.PrimaryKey.VerifyRevocationSignature(sig); err != nil {
		t.Fatalf("revocation does not verify: %v", err)
	}
	alice.Revocations = append(alice.Revocations, packet.NewVerifiableSig(sig))
	return alice
}

func dearmorIfNeeded(t *testing.T, data []byte) []byte {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0]&0x80 == 0 {
		return dearmor(t, data)
	}
	return data
}

func TestRevokedKeyRefused(t *testing.T) {
	e := testEngine()
	alice := corpusKeys(t, "samples/alice.pgp")[0]
	if got := Fingerprint(alice.PrimaryKey); got != "EB85BB5FA33A75E15E944E63F231550C4F47E38E" {
		t.Fatalf("alice %s", got)
	}
	if err := e.CheckRecipient(alice); err != nil {
		t.Fatalf("unrevoked alice: %v", err)
	}
	aliceSecret := corpusKeys(t, "samples/alice-secret.pgp")[0]
	// A signature she made before revocation, to check the verdict after.
	data := []byte("signed before the revocation was known")
	sig := sign(t, e, aliceSecret, data)

	revoked := revokedAlice(t, false)
	err := e.CheckRecipient(revoked)
	wantErr(t, err, core.ErrNoKey)
	if !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), "alice@openpgp.example") {
		t.Errorf("error %q should say revoked and name alice", err)
	}
	_, err = e.Encrypt(io.Discard, []*openpgp.Entity{revoked, publicOf(t, genKey(t, "ok", "ok@example.org", keyOpts{}))}, nil)
	wantErr(t, err, core.ErrNoKey)
	if !strings.Contains(err.Error(), "alice@openpgp.example") || strings.Contains(err.Error(), "ok@example.org") {
		t.Errorf("error %q should name only the bad recipient", err)
	}

	revokedSecret := revokedAlice(t, true)
	_, err = e.Micalg(revokedSecret)
	wantErr(t, err, core.ErrNoKey)
	_, err = e.SignDetached(io.Discard, revokedSecret)
	wantErr(t, err, core.ErrNoKey)

	signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), openpgp.EntityList{revoked})
	if err != nil {
		t.Fatal(err)
	}
	s := oneSigner(t, signers, core.SignerUntrusted)
	if !strings.Contains(s.Error, "revoked") {
		t.Errorf("error %q", s.Error)
	}
}

func TestExpiredKey(t *testing.T) {
	e := testEngine()
	past := time.Now().Add(-48 * time.Hour)
	key := genKey(t, "Old", "old@example.org", keyOpts{created: past, lifetime: 3600})
	cert := publicOf(t, key)
	err := e.CheckRecipient(cert)
	wantErr(t, err, core.ErrNoKey)
	if !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "old@example.org") {
		t.Errorf("error %q", err)
	}
	_, err = e.Encrypt(io.Discard, []*openpgp.Entity{cert}, nil)
	wantErr(t, err, core.ErrNoKey)
	_, err = e.Micalg(key)
	wantErr(t, err, core.ErrNoKey)
	_, err = e.SignDetached(io.Discard, key)
	wantErr(t, err, core.ErrNoKey)

	// A signature made while the key was valid is good; one dated after
	// expiry is untrusted.
	pThen := testPolicy()
	pThen.Now = past.Add(10 * time.Minute)
	then := New(pThen)
	data := []byte("x")
	sig := sign(t, then, key, data)
	signers, warnings, _ := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), openpgp.EntityList{cert})
	oneSigner(t, signers, core.SignerGood)
	// It stands, with a warning that the key has expired since.
	if len(warnings) != 1 || !strings.Contains(warnings[0], "expired") || !strings.Contains(warnings[0], "after this signature was made") {
		t.Errorf("warnings %q", warnings)
	}
	if _, warnings, _ := then.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), openpgp.EntityList{cert}); len(warnings) != 0 {
		t.Errorf("warnings while the key is valid: %q", warnings)
	}

	s := lateSignatureHash(t, key, past.Add(2*time.Hour), data, hashSHA512)
	signers, _, _ = e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(s), openpgp.EntityList{cert})
	oneSigner(t, signers, core.SignerUntrusted)
}

func TestSHA1SignatureRefused(t *testing.T) {
	e := testEngine()
	key := genKey(t, "A", "a@example.org", keyOpts{})
	data := []byte("sha1")
	sig := lateSignatureHash(t, key, time.Now(), data, hashSHA1)
	signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), openpgp.EntityList{publicOf(t, key)})
	if err != nil {
		t.Fatal(err)
	}
	// Refused by the policy, in other words than a forgery's.
	s := oneSigner(t, signers, core.SignerRefused)
	if !strings.Contains(s.Error, "refused by policy") || !strings.Contains(s.Error, "SHA-1") || s.Hash != "SHA-1" {
		t.Errorf("signer %+v", s)
	}
	p := testPolicy()
	p.AllowSHA1 = true
	signers, _, _ = New(p).VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), openpgp.EntityList{publicOf(t, key)})
	oneSigner(t, signers, core.SignerGood)

	// AcceptSHA1Before: accepted when made before it, refused after; a
	// forged one is bad either way.
	for _, c := range []struct {
		before time.Time
		data   string
		want   core.SignerStatus
	}{
		{time.Now().Add(time.Hour), "sha1", core.SignerGood},
		{time.Now().Add(-time.Hour), "sha1", core.SignerRefused},
		{time.Now().Add(time.Hour), "sha2", core.SignerBad},
	} {
		p := testPolicy()
		p.AcceptSHA1Before = c.before
		signers, _, _ = New(p).VerifyDetached(strings.NewReader(c.data), bytes.NewReader(sig), openpgp.EntityList{publicOf(t, key)})
		oneSigner(t, signers, c.want)
	}
}

// lateSignatureHash signs with go-crypto directly at time at with hash h0,
// bypassing the engine's checks, to simulate other signers.
func lateSignatureHash(t *testing.T, key *openpgp.Entity, at time.Time, data []byte, h0 hashID) []byte {
	var buf bytes.Buffer
	pk := key.PrivateKey
	id := pk.KeyId
	sig := &packet.Signature{Version: pk.Version, SigType: packet.SigTypeBinary, PubKeyAlgo: pk.PubKeyAlgo,
		Hash: h0, CreationTime: at, IssuerKeyId: &id}
	cfg := &packet.Config{Time: func() time.Time { return at }, NonDeterministicSignaturesViaNotation: packet.BoolPointer(false)}
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	if err := sig.Sign(h, pk, cfg); err != nil {
		t.Fatal(err)
	}
	sig.Serialize(&buf)
	return buf.Bytes()
}

func TestDecompressionBomb(t *testing.T) {
	e := testEngine()
	f, err := os.Open(filepath.Join(corpus, "limits", "4gb-packet.asc"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak := make(chan uint64)
	stop := make(chan struct{})
	go func() {
		var max uint64
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-time.After(20 * time.Millisecond):
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > max {
					max = m.HeapInuse
				}
			}
		}
	}()
	start := time.Now()
	d, err := e.Decrypt(f, Keyring{})
	elapsed := time.Since(start)
	close(stop)
	maxHeap := <-peak
	if d != nil {
		d.Close()
		t.Fatal("bomb decompressed")
	}
	wantErr(t, err, core.ErrInput)
	if !strings.Contains(err.Error(), "decompressed data exceeds the 256 MiB limit") {
		t.Errorf("error %q", err)
	}
	if elapsed > 20*time.Second {
		t.Errorf("took %v", elapsed)
	}
	if maxHeap > before.HeapInuse+256<<20 {
		t.Errorf("heap grew from %d to %d", before.HeapInuse, maxHeap)
	}
	t.Logf("bomb stopped after %v, peak heap %d MiB", elapsed, maxHeap>>20)

	// A small cap stops it sooner, with the cap in the message.
	p := testPolicy()
	p.MaxDecompressed = 1 << 20
	f.Seek(0, 0)
	_, err = New(p).Decrypt(f, Keyring{})
	wantErr(t, err, core.ErrInput)
	if !strings.Contains(err.Error(), "1 MiB limit") {
		t.Errorf("error %q", err)
	}
}

// A v6 key prefers AES-256 in GCM and lists OCB (mandatory in RFC 9580)
// too; a message to it is SEIPDv2 with GCM, which Decrypt reports as AEAD.
func TestRFC9580KeyPrefersGCM(t *testing.T) {
	key, err := NewKey(KeyOptions{UserIDs: []string{"V6 <v6@example.org>"}, Profile: "rfc9580"})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := key.PrimarySelfSignature(time.Now(), nil)
	if sig == nil || !sig.SEIPDv2 || len(sig.PreferredCipherSuites) == 0 {
		t.Fatalf("self-signature %+v", sig)
	}
	if first := sig.PreferredCipherSuites[0]; first != [2]uint8{uint8(packet.CipherAES256), uint8(packet.AEADModeGCM)} {
		t.Fatalf("first cipher suite %v", first)
	}
	hasOCB := false
	for _, cs := range sig.PreferredCipherSuites {
		hasOCB = hasOCB || cs[1] == uint8(packet.AEADModeOCB)
	}
	if !hasOCB {
		t.Fatal("OCB not listed")
	}
	e := testEngine()
	data := []byte("Content-Type: text/plain\r\n\r\nv6\r\n")
	ct := encrypt(t, e, data, nil, publicOf(t, key))
	packets := packet.NewReader(bytes.NewReader(dearmor(t, ct)))
	for {
		p, err := packets.Next()
		if err != nil {
			t.Fatalf("no encrypted data packet: %v", err)
		}
		if se, ok := p.(*packet.SymmetricallyEncrypted); ok {
			if se.Version != 2 || se.Mode != packet.AEADModeGCM || se.Cipher != packet.CipherAES256 {
				t.Fatalf("SEIPD v%d mode %d cipher %d", se.Version, se.Mode, se.Cipher)
			}
			break
		}
	}
	d, body := decryptAll(t, e, ct, Keyring{Secrets: openpgp.EntityList{key}})
	if !bytes.Equal(body, data) || d.Integrity != core.IntegrityAEAD {
		t.Fatalf("decrypted %q, integrity %s", body, d.Integrity)
	}
}

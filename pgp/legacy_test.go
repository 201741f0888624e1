package pgp

import (
	"bytes"
	"crypto"
	"crypto/dsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/gpgtest"
)

// Legacy keys made by gpg as it made them for years (DSA primary key,
// ElGamal encryption subkey), and the keys the policy refuses: issue 14
// class 3. Where such keys come from: any GnuPG 1.x key, and gpg 2.x keys
// made before 2.1 (dsa2048/elg2048 was the default until 2009).
func TestLegacyDSAElGamalFromGPG(t *testing.T) {
	e := testEngine()
	h := gpgtest.New(t)
	fpr := h.GenKey("Old Timer <old@example.org>", "dsa2048", "elg2048")
	certs := readKeys(t, h.Export(fpr))
	secrets := readKeys(t, h.ExportSecret(fpr))
	data := []byte("Content-Type: text/plain\r\n\r\nsigned with DSA\r\n")

	verify := func(sig, data []byte) core.Signature {
		t.Helper()
		signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), certs)
		if err != nil {
			t.Fatal(err)
		}
		if len(signers) != 1 {
			t.Fatalf("%d signers: %+v", len(signers), signers)
		}
		return signers[0]
	}

	// DSA-2048 with SHA-256 (gpg's choice for a 2048-bit DSA key): good.
	sig := h.DetachSign(fpr, data, "--digest-algo", "SHA256")
	s := verify(sig, data)
	if s.Status != core.SignerGood || s.Fingerprint != fpr || len(s.Emails) != 1 || s.Emails[0] != "old@example.org" {
		t.Fatalf("DSA-2048/SHA-256: %+v", s)
	}
	// Altered data: bad, not refused.
	if s := verify(sig, append([]byte("X"), data...)); s.Status != core.SignerBad {
		t.Fatalf("DSA-2048, altered: %+v", s)
	}
	// A longer hash, truncated to the 256-bit q: good too. (gpg cannot
	// make a SHA-1 signature with this key: DSA-2048 needs 224 bits.)
	if s := verify(h.DetachSign(fpr, data, "--digest-algo", "SHA512"), data); s.Status != core.SignerGood || s.Hash != "SHA-512" {
		t.Fatalf("DSA-2048/SHA-512: %+v", s)
	}

	// The ElGamal subkey decrypts what gpg encrypted to it.
	ct := h.Encrypt(data, []string{fpr})
	d, body := decryptAll(t, e, ct, Keyring{Certs: certs, Secrets: secrets})
	if !bytes.Equal(body, data) || !d.Encrypted || d.DecryptedWith != fpr {
		t.Fatalf("ElGamal decrypt: %q %+v", body, d)
	}
	// Signed by the DSA key and encrypted to the ElGamal subkey.
	d, body = decryptAll(t, e, h.SignEncrypt(fpr, data, []string{fpr}, "--digest-algo", "SHA256"), Keyring{Certs: certs, Secrets: secrets})
	if !bytes.Equal(body, data) || len(d.Signers) != 1 || d.Signers[0].Status != core.SignerGood {
		t.Fatalf("ElGamal decrypt, DSA signed: %q %+v", body, d.Signers)
	}

	// New messages are neither signed with DSA nor encrypted to ElGamal.
	var out bytes.Buffer
	_, err := e.SignDetached(&out, secrets[0])
	wantErr(t, err, core.ErrNoKey)
	wantErr(t, e.CheckRecipient(certs[0]), core.ErrNoKey)
}

// Keys under the policy's sizes: a genuine signature is refused with the
// key's size in the reason, a forged one is bad.
func TestLegacyWeakKeysFromGPG(t *testing.T) {
	e := testEngine()
	h := gpgtest.New(t)
	data := []byte("signed by a small key\r\n")
	fprs := map[string]string{}
	for _, algo := range []string{"dsa1024", "rsa1024"} {
		fprs[algo] = h.GenKey(algo+" <"+algo+"@example.org>", algo, "")
	}
	for _, c := range []struct{ algo, hash, want string }{
		{"dsa1024", "SHA256", "DSA key of 1024 bits"},
		// DSA-1024's own hash (160 bits): the key is the reason, as no
		// SHA-1 date would make it acceptable.
		{"dsa1024", "SHA1", "DSA key of 1024 bits"},
		{"rsa1024", "SHA256", "RSA key of 1024 bits"},
	} {
		t.Run(c.algo+"-"+c.hash, func(t *testing.T) {
			fpr := fprs[c.algo]
			certs := readKeys(t, h.Export(fpr))
			sig := h.DetachSign(fpr, data, "--digest-algo", c.hash)
			signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), certs)
			if err != nil {
				t.Fatal(err)
			}
			s := oneSigner(t, signers, core.SignerRefused)
			if !strings.HasPrefix(s.Error, "refused by policy: "+c.want) || s.Fingerprint != fpr {
				t.Fatalf("reason %q", s.Error)
			}
			signers, _, _ = e.VerifyDetached(bytes.NewReader(append(data, 'X')), bytes.NewReader(sig), certs)
			if s := oneSigner(t, signers, core.SignerBad); strings.Contains(s.Error, "refused") {
				t.Fatalf("forged: %q", s.Error)
			}
		})
	}
}

// signV3 makes a version 3 signature packet (RFC 4880 section 5.2.2) as
// PGP 2-8 and gpg --force-v3-sigs made them, by hand (gpg 2.2 and go-crypto
// no longer make them): over data, of sigType, by key (RSA or DSA) with
// hash h (hashID its OpenPGP ID).
func signV3(t testing.TB, key *packet.PrivateKey, sigType packet.SignatureType, h crypto.Hash, hashID byte, made time.Time, data []byte) []byte {
	t.Helper()
	suffix := []byte{byte(sigType), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(suffix[1:], uint32(made.Unix()))
	hh := h.New()
	if sigType == packet.SigTypeText {
		w := openpgp.NewCanonicalTextHash(hh)
		w.Write(data)
	} else {
		hh.Write(data)
	}
	hh.Write(suffix)
	digest := hh.Sum(nil)
	body := []byte{3, 5}
	body = append(body, suffix...)
	body = binary.BigEndian.AppendUint64(body, key.KeyId)
	body = append(body, byte(key.PubKeyAlgo), hashID, digest[0], digest[1])
	mpi := func(b []byte) []byte {
		n := new(big.Int).SetBytes(b)
		return append(binary.BigEndian.AppendUint16(nil, uint16(n.BitLen())), n.Bytes()...)
	}
	switch k := key.PrivateKey.(type) {
	case *rsa.PrivateKey:
		s, err := rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, mpi(s)...)
	case *dsa.PrivateKey:
		if n := (k.Q.BitLen() + 7) / 8; len(digest) > n {
			digest = digest[:n]
		}
		r, s, err := dsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, mpi(r.Bytes())...)
		body = append(body, mpi(s.Bytes())...)
	default:
		t.Fatalf("signV3: %T keys did not make v3 signatures", k)
	}
	// Old-format packet header, tag 2, two-octet length.
	pkt := []byte{0x80 | 2<<2 | 1, byte(len(body) >> 8), byte(len(body))}
	return rearmor(t, armorSignature, append(pkt, body...))
}

// Version 3 signatures get a verdict like v4 ones: good, bad, unknown
// signer, refused for SHA-1 (issue 14 class 3; KDE's and old mailing
// lists' test messages carry them). gpg, which still reads them, checks
// that the hand-made packets are what PGP made.
func TestSignatureV3(t *testing.T) {
	e := testEngine()
	h := gpgtest.New(t)
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048, DefaultHash: crypto.SHA256}
	rsaKey, err := openpgp.NewEntity("Version Three", "", "v3@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Import(armoredPublic(t, rsaKey))
	dsaFpr := h.GenKey("DSA Three <dsa3@example.org>", "dsa2048", "")
	dsaKey := readKeys(t, h.ExportSecret(dsaFpr))[0]
	certs := openpgp.EntityList{publicOf(t, rsaKey), readKeys(t, h.Export(dsaFpr))[0]}
	data := []byte("Content-Type: text/plain\r\n\r\nan old signature\r\n")
	made := time.Now().Truncate(time.Second) // not before the keys, which gpg checks

	verify := func(sig, data []byte, certs CertFinder) core.Signature {
		t.Helper()
		signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), certs)
		if err != nil {
			t.Fatalf("v3 signature: %v", err)
		}
		if len(signers) != 1 {
			t.Fatalf("%d signers: %+v", len(signers), signers)
		}
		return signers[0]
	}
	for _, c := range []struct {
		name string
		key  *openpgp.Entity
		typ  packet.SignatureType
		data []byte
	}{
		{"rsa2048-binary", rsaKey, packet.SigTypeBinary, data},
		{"rsa2048-text", rsaKey, packet.SigTypeText, []byte("line one\nline two\n")},
		{"dsa2048-binary", dsaKey, packet.SigTypeBinary, data},
	} {
		t.Run(c.name, func(t *testing.T) {
			sig := signV3(t, c.key.PrivateKey, c.typ, crypto.SHA256, 8, made, c.data)
			if res := h.Verify(sig, c.data); res.Err != nil || !res.HasStatus("GOODSIG") {
				t.Fatalf("gpg --verify of the v3 signature: %v\n%s", res.Err, res.Status)
			}
			s := verify(sig, c.data, certs)
			fpr := Fingerprint(c.key.PrimaryKey)
			if s.Status != core.SignerGood || s.Fingerprint != fpr || s.Hash != "SHA-256" || !s.Created.Equal(made) {
				t.Fatalf("v3 good: %+v", s)
			}
			if s := verify(sig, append([]byte("X"), c.data...), certs); s.Status != core.SignerBad {
				t.Fatalf("v3 altered: %+v", s)
			}
			if s := verify(sig, c.data, openpgp.EntityList{}); s.Status != core.SignerUnknown || s.KeyID != fpr[24:] {
				t.Fatalf("v3 without the key: %+v", s)
			}
		})
	}
	// A cleartext-signed block with a v3 signature (gpg 1.4 --clearsign
	// --force-v3-sigs): the signed text is the lines without the last
	// line ending.
	block := append([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nline one\nline two\n"),
		signV3(t, rsaKey.PrivateKey, packet.SigTypeText, crypto.SHA256, 8, made, []byte("line one\r\nline two"))...)
	if res := h.Run(block, "--verify"); res.Err != nil || !res.HasStatus("GOODSIG") {
		t.Fatalf("gpg --verify of the v3 cleartext block: %v\n%s", res.Err, res.Status)
	}
	text, signers, err := verifyCleartext(e, block, certs)
	if err != nil {
		t.Fatal(err)
	}
	if s := oneSigner(t, signers, core.SignerGood); s.Fingerprint != Fingerprint(rsaKey.PrimaryKey) || !bytes.Contains(text, []byte("line two")) {
		t.Fatalf("v3 cleartext: %q %+v", text, s)
	}

	// SHA-1, the hash of most v3 signatures: refused, as for v4.
	sig := signV3(t, rsaKey.PrivateKey, packet.SigTypeBinary, crypto.SHA1, 2, made, data)
	if s := verify(sig, data, certs); s.Status != core.SignerRefused || !strings.Contains(s.Error, "SHA-1") {
		t.Fatalf("v3 SHA-1: %+v", s)
	}
	// A damaged v3 packet (truncated MPI) is unreadable input, not a verdict.
	raw := dearmor(t, signV3(t, rsaKey.PrivateKey, packet.SigTypeBinary, crypto.SHA256, 8, made, data))
	raw[2] -= 10 // the packet length: the MPI loses its last 10 bytes
	_, _, err = e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(raw[:len(raw)-10]), certs)
	wantErr(t, err, core.ErrInput)
}

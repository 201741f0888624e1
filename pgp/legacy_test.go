package pgp

import (
	"bytes"
	"strings"
	"testing"

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

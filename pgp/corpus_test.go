package pgp

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

func rfc(name string) string { return filepath.Join(corpus, "rfc9580", name) }

func TestCorpusV6PKESK(t *testing.T) {
	e := testEngine()
	secret := corpusKeys(t, "rfc9580/v6-minimal-secret.key")
	d, body := decryptAll(t, e, readFile(t, rfc("v6pkesk-aes128-ocb.pgp")), Keyring{Secrets: secret})
	if string(body) != "Hello, world!" || d.Integrity != core.IntegrityAEAD || d.DecryptedWith != Fingerprint(secret[0].PrimaryKey) {
		t.Fatalf("%q %+v", body, d)
	}
}

func TestCorpusPasswordMessages(t *testing.T) {
	e := testEngine()
	pw := strings.TrimSpace(string(readFile(t, rfc("pw"))))
	kr := Keyring{Password: func() ([]byte, error) { return []byte(pw), nil }}
	for _, name := range []string{"v6skesk-aes128-eax.pgp", "v6skesk-aes128-gcm.pgp", "v6skesk-aes128-ocb.pgp",
		"v4skesk-argon2-aes128.pgp", "v4skesk-argon2-aes192.pgp", "v4skesk-argon2-aes256.pgp"} {
		t.Run(name, func(t *testing.T) {
			d, body := decryptAll(t, e, readFile(t, rfc(name)), kr)
			if string(body) != "Hello, world!" || !d.Encrypted {
				t.Fatalf("%q %+v", body, d)
			}
			want := core.IntegrityMDC
			if strings.HasPrefix(name, "v6") {
				want = core.IntegrityAEAD
			}
			if d.Integrity != want {
				t.Errorf("integrity %s, want %s", d.Integrity, want)
			}
		})
	}
}

func TestCorpusSignedMessages(t *testing.T) {
	e := testEngine()
	certs := corpusKeys(t, "rfc9580/v6-minimal-cert.key")
	fpr := Fingerprint(certs[0].PrimaryKey)

	text := readFile(t, rfc("cleartext-signed-message.txt"))
	blocks := FindBlocks(text)
	if len(blocks) != 1 || blocks[0].Kind != KindSigned {
		t.Fatalf("blocks %+v", blocks)
	}
	signed, signers, err := verifyCleartext(e, text[blocks[0].Start:blocks[0].End], certs)
	if err != nil {
		t.Fatal(err)
	}
	s := oneSigner(t, signers, core.SignerGood)
	if s.Fingerprint != fpr || len(signed) == 0 {
		t.Fatalf("%+v %q", s, signed)
	}
	t.Logf("cleartext: %q hash %s", signed, s.Hash)

	d, body := decryptAll(t, e, readFile(t, rfc("inline-signed-message.pgp")), Keyring{Certs: certs})
	if d.Encrypted || len(body) == 0 {
		t.Fatalf("%+v %q", d, body)
	}
	oneSigner(t, d.Signers, core.SignerGood)
}

func TestCorpusV4Ed25519Signature(t *testing.T) {
	e := testEngine()
	// The key file is a bare public key packet (no user ID, no self-signature),
	// so it cannot be read as a certificate: check the signature against the
	// key packet directly, and report what the engine says with a cert-less key.
	keyData := dearmorIfNeeded(t, readFile(t, rfc("v4-ed25519-pubkey-packet.key")))
	sigData := readFile(t, rfc("v4-ed25519-signature-over-OpenPGP.sig"))
	pk := readPublicKeyPacket(t, keyData)
	sigs, _, err := readSignatures(bytes.NewReader(sigData))
	if err != nil || len(sigs) != 1 {
		t.Fatal(err)
	}
	sig := sigs[0]
	in, final, err := newSigHash(sig.Hash, sig.SigType, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("OpenPGP"))
	if err := pk.VerifySignature(final, sig); err != nil {
		t.Fatalf("corpus signature does not verify: %v", err)
	}
	t.Logf("v4 Ed25519 corpus signature verifies cryptographically: hash %s, created %s", core.HashName(sig.Hash), sig.CreationTime)
	// As a detached signature with no certificate, the engine reports an
	// unknown signer: a bare key packet is not a certificate.
	signers, _, err := e.VerifyDetached(strings.NewReader("OpenPGP"), bytes.NewReader(sigData), openpgp.EntityList{})
	if err != nil {
		t.Fatal(err)
	}
	oneSigner(t, signers, core.SignerUnknown)
}

func TestCorpusLockedV6Key(t *testing.T) {
	e := testEngine()
	locked := corpusKeys(t, "rfc9580/v6-minimal-secret-locked.key")
	msg := readFile(t, rfc("v6pkesk-aes128-ocb.pgp"))
	_, err := e.Decrypt(bytes.NewReader(msg), Keyring{Secrets: locked})
	wantErr(t, err, core.ErrLocked)
	unlock := func(ent *openpgp.Entity) error {
		if err := ent.DecryptPrivateKeys([]byte("correct horse battery staple")); err != nil {
			return errorsJoinLocked(err)
		}
		return nil
	}
	_, body := decryptAll(t, e, msg, Keyring{Secrets: locked, Unlock: unlock})
	if string(body) != "Hello, world!" {
		t.Fatalf("%q", body)
	}
}

func TestCorpusSamples(t *testing.T) {
	e := testEngine()
	for _, c := range []struct{ name, fpr string }{
		{"alice", "EB85BB5FA33A75E15E944E63F231550C4F47E38E"},
		{"bob", "D1A66E1A23B182C9980F788CFBFCC82A015E7330"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cert := corpusKeys(t, "samples/"+c.name+".pgp")[0]
			secret := corpusKeys(t, "samples/"+c.name+"-secret.pgp")[0]
			if Fingerprint(cert.PrimaryKey) != c.fpr {
				t.Fatalf("fingerprint %s", Fingerprint(cert.PrimaryKey))
			}
			data := []byte("to " + c.name)
			d, body := decryptAll(t, e, encrypt(t, e, data, secret, cert), Keyring{Certs: openpgp.EntityList{cert}, Secrets: openpgp.EntityList{secret}})
			if !bytes.Equal(body, data) {
				t.Fatal("body")
			}
			oneSigner(t, d.Signers, core.SignerGood)
		})
	}
}

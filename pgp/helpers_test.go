package pgp

import (
	"bytes"
	"crypto"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

const corpus = "../testdata/corpora/openpgp"

func testPolicy() core.Policy { return core.DefaultPolicy() }

func testEngine() *Engine { return New(testPolicy()) }

type keyOpts struct {
	rsa      bool
	v6       bool
	aead     bool
	created  time.Time
	lifetime uint32
	hash     crypto.Hash
}

// genKey makes a secret key with go-crypto (always with a non-nil config).
func genKey(t testing.TB, name, email string, o keyOpts) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{
		Algorithm:       packet.PubKeyAlgoEdDSA,
		DefaultHash:     crypto.SHA512,
		DefaultCipher:   packet.CipherAES256,
		KeyLifetimeSecs: o.lifetime,
	}
	if o.hash != 0 {
		cfg.DefaultHash = o.hash
	}
	if !o.created.IsZero() {
		created := o.created
		cfg.Time = func() time.Time { return created }
	}
	if o.rsa {
		cfg.Algorithm = packet.PubKeyAlgoRSA
		cfg.RSABits = 3072
	}
	if o.v6 {
		cfg.V6Keys = true
		cfg.Algorithm = packet.PubKeyAlgoEd25519
		o.aead = true
	}
	if o.aead {
		cfg.AEADConfig = &packet.AEADConfig{}
	}
	ent, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ent
}

// publicOf returns the public certificate of a secret entity (re-read).
func publicOf(t testing.TB, ent *openpgp.Entity) *openpgp.Entity {
	t.Helper()
	var buf bytes.Buffer
	if err := ent.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	list, err := openpgp.ReadKeyRing(&buf)
	if err != nil || len(list) != 1 {
		t.Fatalf("reading back cert: %v (%d)", err, len(list))
	}
	return list[0]
}

// armoredPublic and armoredSecret serialise for gpg.
func armoredPublic(t testing.TB, ent *openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ent.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func armoredSecret(t testing.TB, ent *openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ent.SerializePrivateWithoutSigning(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

func readKeys(t testing.TB, data []byte) openpgp.EntityList {
	t.Helper()
	var list openpgp.EntityList
	var err error
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0]&0x80 == 0 {
		list, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		list, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		t.Fatalf("reading keys: %v", err)
	}
	return list
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func corpusKeys(t testing.TB, name string) openpgp.EntityList {
	t.Helper()
	return readKeys(t, readFile(t, filepath.Join(corpus, name)))
}

// sign makes a detached armored signature with the engine.
func sign(t testing.TB, e *Engine, signer *openpgp.Entity, data []byte) []byte {
	t.Helper()
	var sig bytes.Buffer
	w, err := e.SignDetached(&sig, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return sig.Bytes()
}

// encrypt encrypts with the engine.
func encrypt(t testing.TB, e *Engine, data []byte, signer *openpgp.Entity, to ...*openpgp.Entity) []byte {
	t.Helper()
	var ct bytes.Buffer
	w, err := e.Encrypt(&ct, to, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return ct.Bytes()
}

// decryptAll decrypts and reads the whole body.
func decryptAll(t testing.TB, e *Engine, msg []byte, kr Keyring) (*Decrypted, []byte) {
	t.Helper()
	d, err := e.Decrypt(bytes.NewReader(msg), kr)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	body, err := io.ReadAll(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d, body
}

func dearmor(t testing.TB, data []byte) []byte {
	t.Helper()
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(block.Body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rearmor(t testing.TB, typ string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

func wantErr(t testing.TB, err, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q does not wrap %q", err, kind)
	}
}

func oneSigner(t testing.TB, signers []core.Signature, want core.SignerStatus) core.Signature {
	t.Helper()
	if len(signers) != 1 {
		t.Fatalf("%d signers, want 1: %+v", len(signers), signers)
	}
	if signers[0].Status != want {
		t.Fatalf("status %s (%s), want %s", signers[0].Status, signers[0].Error, want)
	}
	return signers[0]
}

// verifyCleartext is Engine.VerifyCleartext with its results apart.
func verifyCleartext(e *Engine, block []byte, certs CertFinder) ([]byte, []core.Signature, error) {
	ct, err := e.VerifyCleartext(block, certs)
	if err != nil {
		return nil, nil, err
	}
	return ct.Text, ct.Signers, nil
}

// FindBlocks finds the armored blocks of a text held in memory, with a
// BlockScanner.
func FindBlocks(text []byte) []Block {
	s := NewBlockScanner(func() io.Reader { return bytes.NewReader(text) })
	var blocks []Block
	for s.Scan() {
		blocks = append(blocks, s.Block())
	}
	return blocks
}

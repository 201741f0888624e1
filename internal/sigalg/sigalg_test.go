package sigalg

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA is needed for RFC 5280 conformance (PKITS)
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// testKeys holds one key per scheme, made once.
type testKeys struct {
	rsa     *rsa.PrivateKey
	ecdsa   *ecdsa.PrivateKey
	ed25519 ed25519.PrivateKey
	dsa     *dsa.PrivateKey
}

func hexInt(t *testing.T, s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatalf("bad hex %q", s)
	}
	return n
}

func newTestKeys(t *testing.T) *testKeys {
	t.Helper()
	var k testKeys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ecdsa, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, k.ed25519, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	// L1024N160 parameters made once with dsa.GenerateParameters (which
	// takes seconds); the key is new each run.
	k.dsa = &dsa.PrivateKey{PublicKey: dsa.PublicKey{Parameters: dsa.Parameters{
		P: hexInt(t, "a8f7bb4a48349bf14095172b3d663585c0bbe07a8b520331fa1c3813ef5dba42c1f82091ec717a5026c15c0e10f27e612342223405d7a3b63d2b12f8c3d959000a23368dd5e74ad84d64e4e8e31d93ff98a95676e8728f13916cd2d2ec8de6e50163c64663bff6b39dbd648610913a0aef3f16aa1c0d38d44c7adda227b95757"),
		Q: hexInt(t, "d96efc25c530b51550a3de32a514c254de621bc7"),
		G: hexInt(t, "dc20279ed105e6acd593b5cc3860b6ee15c9583335cf27de5e95fa55162c2c300f53a1b7fa2399ccec080db76e73ca18d1deb41be88352dc6c7a4315679fd38ecf48b9c3258877b050ba2f484d5c569c538ffc34f364cc6bf3265f29d5199f0768f58d6449157556f4183b555bdf0bf3262e5ad51de97274dbeb7f971c5d3ea"),
	}}}
	if err := dsa.GenerateKey(k.dsa, rand.Reader); err != nil {
		t.Fatal(err)
	}
	return &k
}

// sign signs message under a with the key of its scheme.
func (k *testKeys) sign(t *testing.T, a Algorithm, message []byte) (crypto.PublicKey, []byte) {
	t.Helper()
	if a.Scheme == Ed25519 {
		return k.ed25519.Public(), ed25519.Sign(k.ed25519, message)
	}
	h := a.Hash.New()
	h.Write(message)
	digest := h.Sum(nil)
	var sig []byte
	var err error
	var pub crypto.PublicKey
	switch a.Scheme {
	case PKCS1v15:
		pub = k.rsa.Public()
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.rsa, a.Hash, digest)
	case PSS:
		pub = k.rsa.Public()
		sig, err = rsa.SignPSS(rand.Reader, k.rsa, a.Hash, digest, &rsa.PSSOptions{SaltLength: a.SaltLength})
	case ECDSA:
		pub = k.ecdsa.Public()
		sig, err = ecdsa.SignASN1(rand.Reader, k.ecdsa, digest)
	case DSA:
		pub = &k.dsa.PublicKey
		var r, s *big.Int
		if r, s, err = dsa.Sign(rand.Reader, k.dsa, digest[:min(len(digest), 20)]); err == nil {
			sig, err = asn1.Marshal(struct{ R, S *big.Int }{r, s})
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return pub, sig
}

// wantErr fails unless err matches target, and only target of the two.
func wantErr(t *testing.T, what string, err, target error, substr string) {
	t.Helper()
	other := ErrInvalid
	if target == ErrInvalid {
		other = ErrRefused
	}
	if !errors.Is(err, target) || errors.Is(err, other) || !strings.Contains(errString(err), substr) {
		t.Errorf("%s: got %v, want %v containing %q", what, err, target, substr)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// Each scheme verifies its signatures over the message and, but for
// Ed25519, over the message's digest; an altered message or signature,
// or a key of another scheme, is invalid.
func TestSchemes(t *testing.T) {
	k := newTestKeys(t)
	msg := []byte("signed attributes")
	for _, a := range []Algorithm{
		{Scheme: PKCS1v15, Hash: crypto.SHA256},
		{Scheme: PKCS1v15, Hash: crypto.SHA512},
		{Scheme: PSS, Hash: crypto.SHA256, SaltLength: 32},
		{Scheme: PSS, Hash: crypto.SHA384, SaltLength: 20},
		{Scheme: ECDSA, Hash: crypto.SHA256},
		{Scheme: ECDSA, Hash: crypto.SHA384},
		{Scheme: Ed25519},
		{Scheme: DSA, Hash: crypto.SHA256},
	} {
		pub, sig := k.sign(t, a, msg)
		if err := a.Verify(pub, msg, sig, Policy{}); err != nil {
			t.Errorf("%v: %v", a, err)
		}
		altered := append([]byte{}, sig...)
		altered[len(altered)/2] ^= 1
		wantErr(t, a.String()+" altered signature", a.Verify(pub, msg, altered, Policy{}), ErrInvalid, "bad "+a.String()+" signature")
		wantErr(t, a.String()+" altered message", a.Verify(pub, []byte("signed attributeS"), sig, Policy{}), ErrInvalid, "bad")
		other := crypto.PublicKey(k.ecdsa.Public())
		if a.Scheme == ECDSA {
			other = k.rsa.Public()
		}
		wantErr(t, a.String()+" with another scheme's key", a.Verify(other, msg, sig, Policy{}), ErrInvalid, "signature but the key is")
		if a.Scheme == Ed25519 {
			wantErr(t, "Ed25519 over a digest", a.VerifyDigest(pub, msg, sig, Policy{}), ErrRefused, "not a digest")
			continue
		}
		h := a.Hash.New()
		h.Write(msg)
		if err := a.VerifyDigest(pub, h.Sum(nil), sig, Policy{}); err != nil {
			t.Errorf("%v over the digest: %v", a, err)
		}
		wantErr(t, a.String()+" short digest", a.VerifyDigest(pub, h.Sum(nil)[1:], sig, Policy{}), ErrInvalid, "digest of")
	}
}

// What policy or this package refuses is refused, whether the signature
// would verify or not, and never taken for an invalid signature.
func TestRefused(t *testing.T) {
	k := newTestKeys(t)
	msg := []byte("signed attributes")
	sha1 := Algorithm{Scheme: ECDSA, Hash: crypto.SHA1}
	pub, sig := k.sign(t, sha1, msg)
	wantErr(t, "SHA-1", sha1.Verify(pub, msg, sig, Policy{}), ErrRefused, "SHA-1 is refused by policy")
	if err := sha1.Verify(pub, msg, sig, Policy{AllowSHA1: true}); err != nil {
		t.Errorf("SHA-1 allowed: %v", err)
	}
	md5 := Algorithm{Scheme: PKCS1v15, Hash: crypto.MD5}
	wantErr(t, "MD5", md5.Verify(k.rsa.Public(), msg, nil, Policy{AllowSHA1: true}), ErrRefused, "MD5 is refused")
	wantErr(t, "no hash", Algorithm{Scheme: ECDSA}.Verify(pub, msg, sig, Policy{}), ErrRefused, "not supported")
	wantErr(t, "no scheme", Algorithm{Hash: crypto.SHA256}.Verify(pub, msg, sig, Policy{}), ErrRefused, "not supported")

	a := Algorithm{Scheme: PKCS1v15, Hash: crypto.SHA256}
	pub, sig = k.sign(t, a, msg)
	wantErr(t, "small RSA key", a.Verify(pub, msg, sig, Policy{MinRSABits: 3072}), ErrRefused, "RSA key of 2048 bits, policy requires 3072")
	wantErr(t, "small RSA key, digest", a.VerifyDigest(pub, make([]byte, 32), sig, Policy{MinRSABits: 3072}), ErrRefused, "RSA key of 2048 bits")
	if err := a.Verify(pub, msg, sig, Policy{MinRSABits: 2048}); err != nil {
		t.Errorf("RSA key of the minimum size: %v", err)
	}
	// crypto/rsa reads 0 as "any salt length" and -1 as "the hash's".
	pss := Algorithm{Scheme: PSS, Hash: crypto.SHA256, SaltLength: 32}
	pub, sig = k.sign(t, pss, msg)
	for _, salt := range []int{0, -1} {
		pss.SaltLength = salt
		wantErr(t, "PSS salt length", pss.Verify(pub, msg, sig, Policy{}), ErrRefused, "empty salt")
	}
	// Another salt length than the signature's is invalid.
	pss.SaltLength = 20
	wantErr(t, "PSS other salt length", pss.Verify(pub, msg, sig, Policy{}), ErrInvalid, "bad SHA256-RSAPSS signature")
}

// The callers' constructors classify as they say.
func TestConstructors(t *testing.T) {
	wantErr(t, "Refusedf", Refusedf("unsupported %s", "x"), ErrRefused, "unsupported x")
	wantErr(t, "Invalidf", Invalidf("malformed %s", "y"), ErrInvalid, "malformed y")
}

package pgp

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/lineartest"
)

// binarySig is sign's signature without its armor, so that signatures
// can be put one after another.
func binarySig(t testing.TB, e *Engine, signer *openpgp.Entity, data []byte) []byte {
	t.Helper()
	sig := sign(t, e, signer, data)
	if !bytes.HasPrefix(sig, []byte("-----")) {
		return sig
	}
	return dearmor(t, sig)
}

// Signatures that hash the signed data alike share one hash: each is
// still checked on its own (all good, in order), and many copies of one
// signature cost one pass over the data, not one each (an attacker's
// read: 4,000 copies over 4 MiB took ten seconds). At most maxSignatures
// packets are read, and at most maxSigHashes hashes made.
func TestVerifySignaturesShareHashes(t *testing.T) {
	e := testEngine()
	alice := genKey(t, "Alice", "alice@example.org", keyOpts{})
	bob := genKey(t, "Bob", "bob@example.org", keyOpts{hash: crypto.SHA256})
	carol := genKey(t, "Carol", "carol@example.org", keyOpts{v6: true})
	certs := openpgp.EntityList{publicOf(t, alice), publicOf(t, bob), publicOf(t, carol)}
	data := make([]byte, 4<<20)
	rand.Read(data)
	sa, sb := binarySig(t, e, alice, data), binarySig(t, e, bob, data)
	var sc [][]byte // version 6: each with its own salt
	for range maxSigHashes + 1 {
		sc = append(sc, binarySig(t, e, carol, data))
	}
	verify := func(sig []byte) (signers []core.Signature, took time.Duration, err error) {
		took = lineartest.CPU(func() {
			signers, _, err = e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), certs)
		})
		return signers, took, err
	}
	allGood := func(what string, signers []core.Signature, want int) {
		t.Helper()
		if len(signers) != want {
			t.Fatalf("%s: %d signers, want %d", what, len(signers), want)
		}
		for i, s := range signers {
			if s.Status != core.SignerGood {
				t.Fatalf("%s: signer %d: %s %s", what, i, s.Status, s.Error)
			}
		}
	}

	mixed := bytes.Join([][]byte{sa, sb, sc[0], sa, sc[1], sb}, nil)
	signers, _, err := verify(mixed)
	if err != nil {
		t.Fatal(err)
	}
	allGood("mixed", signers, 6)
	for i, want := range []string{"alice@example.org", "bob@example.org", "carol@example.org", "alice@example.org", "carol@example.org", "bob@example.org"} {
		if len(signers[i].Emails) != 1 || signers[i].Emails[0] != want {
			t.Errorf("signer %d: %q, want %s", i, signers[i].Emails, want)
		}
	}
	// One altered copy among good ones is bad alone.
	bad := bytes.Clone(sa)
	bad[len(bad)-3] ^= 1
	signers, _, err = verify(bytes.Join([][]byte{sa, bad, sa}, nil))
	if err != nil || len(signers) != 3 || signers[0].Status != core.SignerGood || signers[1].Status != core.SignerBad || signers[2].Status != core.SignerGood {
		t.Fatalf("a bad copy between good ones: %v %+v", err, signers)
	}

	_, one, err := verify(sa)
	if err != nil {
		t.Fatal(err)
	}
	many := bytes.Repeat(sa, maxSignatures)
	signers, took, err := verify(many)
	if err != nil {
		t.Fatal(err)
	}
	allGood("copies", signers, maxSignatures)
	_, one2, _ := verify(sa)
	if one = min(one, one2); took > 8*one {
		t.Errorf("%d copies of a signature took %v, one %v", maxSignatures, took, one)
	}
	if _, _, err := verify(append(many, sa...)); !errors.Is(err, core.ErrInput) {
		t.Errorf("%d signatures: %v, want ErrInput", maxSignatures+1, err)
	}

	signers, _, err = verify(bytes.Join(sc, nil))
	if err != nil {
		t.Fatal(err)
	}
	allGood("salted", signers[:maxSigHashes], maxSigHashes)
	if last := signers[maxSigHashes]; last.Status != core.SignerBad || !strings.Contains(last.Error, "not checked") {
		t.Errorf("signature %d, past the hashes: %s %q", maxSigHashes+1, last.Status, last.Error)
	}
}

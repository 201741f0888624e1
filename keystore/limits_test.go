package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

func newKey(t testing.TB, uids ...string) *openpgp.Entity {
	t.Helper()
	e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: uids})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func publicBytes(t testing.TB, e *openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func uidList(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// importRefused checks that an import fails as bad input with an error
// naming every one of want, and that the stored certificate of fpr is
// then as before (before nil: none).
func importRefused(t *testing.T, s *Store, data []byte, fpr string, before []byte, want ...string) {
	t.Helper()
	_, err := s.ImportPGP(bytes.NewReader(data), nil)
	if !errors.Is(err, core.ErrInput) {
		t.Fatalf("import: %v, want a refusal as bad input", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("the error %q does not say %q", err, w)
		}
	}
	after, err := os.ReadFile(s.certPath(strings.ToLower(fpr)))
	if (before == nil) != os.IsNotExist(err) || !bytes.Equal(before, after) {
		t.Fatalf("the stored certificate changed (%v)", err)
	}
}

// An import keeps a certificate within the limits: user IDs, subkeys,
// signatures per component and size, each named with its limit when
// exceeded, whether by one import or by merging into the stored key.
func TestImportLimits(t *testing.T) {
	s := newStore(t)

	// User IDs: 1000 import, 1001 do not, in one import or by a merge.
	e := newKey(t, uidList(maxUserIDs+1, "U%[1]d <u%[1]d@example.org>")...)
	fpr := fingerprintOf(e)
	importRefused(t, s, publicBytes(t, e), fpr, nil, "more than 1000 user IDs", "at most 1000")
	extra := e.Identities["U1000 <u1000@example.org>"]
	delete(e.Identities, extra.Name)
	if res := importBytes(t, s, publicBytes(t, e)); len(res[0].UserIDs) != maxUserIDs {
		t.Fatalf("%d user IDs stored", len(res[0].UserIDs))
	}
	stored, _ := os.ReadFile(s.certPath(strings.ToLower(fpr)))
	e.Identities[extra.Name] = extra
	importRefused(t, s, publicBytes(t, e), fpr, stored, "more than 1000 user IDs")

	// Subkeys.
	e = newKey(t, "Subkeys <subkeys@example.org>")
	for len(e.Subkeys) <= maxSubkeys {
		if err := e.AddEncryptionSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}); err != nil {
			t.Fatal(err)
		}
	}
	importRefused(t, s, publicBytes(t, e), fingerprintOf(e), nil, "more than 256 subkeys", "at most 256")

	// Self-signatures of one user ID (each made at another time).
	e = newKey(t, "Sigs <sigs@example.org>")
	id := e.Identities["Sigs <sigs@example.org>"]
	first := id.SelfCertifications[0].Packet
	for i := 1; i <= maxComponentSigs; i++ {
		sig := *first
		sig.CreationTime = first.CreationTime.Add(-time.Duration(i) * time.Second)
		if err := sig.SignUserId(id.Name, e.PrimaryKey, e.PrivateKey, &packet.Config{}); err != nil {
			t.Fatal(err)
		}
		id.SelfCertifications = append(id.SelfCertifications, packet.NewVerifiableSig(&sig))
	}
	importRefused(t, s, publicBytes(t, e), fingerprintOf(e), nil, `"Sigs <sigs@example.org>" has more than 500 self-signatures`, "at most 500")

	// Size: 900 user IDs of 1,200 characters.
	e = newKey(t, uidList(900, "%04d"+strings.Repeat("x", 1196))...)
	importRefused(t, s, publicBytes(t, e), fingerprintOf(e), nil, "more than 1024 KiB", "at most 1024 KiB")
}

// keyPacket is a v4 key packet with the given algorithm and MPIs.
func keyPacket(tag int, algo packet.PublicKeyAlgorithm, mpis ...*big.Int) []byte {
	body := []byte{4, 0x5f, 0, 0, 0, byte(algo)}
	for _, m := range mpis {
		body = append(body, byte(m.BitLen()>>8), byte(m.BitLen()))
		body = append(body, m.Bytes()...)
	}
	return append(packetHeader(tag, len(body)), body...)
}

// bits is a number of exactly n bits.
func bits(n int) *big.Int {
	v := new(big.Int).Lsh(big.NewInt(1), uint(n-1))
	return v.Add(v, big.NewInt(12345))
}

// DSA and ElGamal keys beyond 4096-bit primes (or a DSA subgroup beyond
// 512 bits) are refused before any signature is checked or secret parsed.
func TestDSAElGamalSizeLimits(t *testing.T) {
	legacy, err := binaryStreams(readKeyData(t, filepath.Join(legacyKeys, "dsa3072-elg3072.asc")))
	if err != nil {
		t.Fatal(err)
	}
	cert := legacy[0]
	const fpr = "BF7E71F11DB008E471AD214F1C6E132FE20DCA28"
	s := newStore(t)
	// A 4096-bit ElGamal subkey passes the size check (and, unbound, is
	// dropped); one bit more is refused, naming the key and the limit.
	ok := append(bytes.Clone(cert), keyPacket(tagPublicSubkey, packet.PubKeyAlgoElGamal, bits(4096), big.NewInt(2), bits(4000))...)
	if res, err := s.ImportPGP(bytes.NewReader(ok), nil); err != nil || len(res) != 1 {
		t.Fatalf("a 4096-bit ElGamal subkey: %v", err)
	}
	stored, _ := os.ReadFile(s.certPath(strings.ToLower(fpr)))
	toobig := append(bytes.Clone(cert), keyPacket(tagPublicSubkey, packet.PubKeyAlgoElGamal, bits(4097), big.NewInt(2), bits(4000))...)
	importRefused(t, s, toobig, fpr, stored, "ElGamal subkey", "4097-bit prime", "at most 4096 bits")

	// A DSA primary key with a large prime, or a large subgroup order.
	for _, c := range []struct {
		p, q int
		want string
	}{
		{4097, 256, "4097-bit prime"},
		{3072, 513, "513-bit subgroup order"},
	} {
		key := keyPacket(tagPublicKey, packet.PubKeyAlgoDSA, bits(c.p), bits(c.q), big.NewInt(2), bits(c.p-1))
		_, err := s.ImportPGP(bytes.NewReader(key), nil)
		if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "DSA primary key") || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("DSA %d/%d: %v", c.p, c.q, err)
		}
	}
}

// A certificate flooded with third-party certifications (as keyservers
// served them, CVE-2019-13050) imports without them, and so does a secret
// key: what is stored is what the key's own signatures bind.
func TestFloodedCertificate(t *testing.T) {
	alice := corpusEntity(t, "samples/alice-secret.pgp")
	var clean bytes.Buffer
	if err := alice.SerializePrivateWithoutSigning(&clean, nil); err != nil {
		t.Fatal(err)
	}
	flooder := newKey(t, "Flooder <flood@example.org>")
	var uid string
	for name := range alice.Identities {
		uid = name
	}
	for i := 0; i < 2000; i++ {
		if err := alice.SignIdentity(uid, flooder, &packet.Config{}); err != nil {
			t.Fatal(err)
		}
	}
	var flooded bytes.Buffer
	if err := alice.SerializePrivateWithoutSigning(&flooded, nil); err != nil {
		t.Fatal(err)
	}
	want := newStore(t)
	importBytes(t, want, clean.Bytes())
	s := newStore(t)
	importBytes(t, s, flooded.Bytes())
	for _, path := range []func(*Store) string{
		func(s *Store) string { return s.certPath(strings.ToLower(aliceFpr)) },
		func(s *Store) string { return s.secretPath(strings.ToLower(aliceFpr)) },
	} {
		got, want := readKeyData(t, path(s)), readKeyData(t, path(want))
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes stored from %d bytes of flooded key, want the %d bytes of the key without the flood",
				filepath.Base(filepath.Dir(path(s))), len(got), flooded.Len(), len(want))
		}
	}
}

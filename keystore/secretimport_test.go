package keystore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mailseal/mailseal/core"
)

const legacyKeys = "testdata/openpgp"

func readKeyData(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// secretPackets returns the secret key packets of key data.
func secretPackets(t testing.TB, data []byte) []rawPacket {
	t.Helper()
	streams, err := binaryStreams(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []rawPacket
	for _, st := range streams {
		pkts, err := splitPackets(st)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if p.tag == tagSecretKey || p.tag == tagSecretSubkey {
				out = append(out, p)
			}
		}
	}
	return out
}

// The public key packet the keystore reads from the front of a secret key
// packet, without its secret part, is the one a full parse gives, and so
// is whether the secret part is unprotected.
func TestPublicPartOfSecretKeys(t *testing.T) {
	files := []string{
		filepath.Join(corpus, "samples/alice-secret.pgp"),
		filepath.Join(corpus, "samples/bob-secret.pgp"),
		filepath.Join(corpus, "samples/carol-secret.pgp"),
		filepath.Join(corpus, "rfc9580/v6-minimal-secret.key"),
		filepath.Join(corpus, "rfc9580/v6-minimal-secret-locked.key"),
		filepath.Join(legacyKeys, "dsa3072-elg3072-secret.pgp"),
		filepath.Join(legacyKeys, "dsa3072-elg3072-secret-locked.asc"),
	}
	var protected, unprotected int
	for _, name := range files {
		for _, p := range secretPackets(t, readKeyData(t, name)) {
			parsed, err := packet.Read(bytes.NewReader(p.raw))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			full := parsed.(*packet.PrivateKey)
			var want bytes.Buffer
			if err := full.PublicKey.Serialize(&want); err != nil {
				t.Fatal(err)
			}
			got, key, err := publicPacket(p)
			if err != nil || !bytes.Equal(got.raw, want.Bytes()) || !bytes.Equal(key.Fingerprint, full.Fingerprint) {
				t.Fatalf("%s: the public part read alone differs from a full parse (%v)", name, err)
			}
			clear := !full.Encrypted && !full.Dummy()
			if secretUnprotected(p) != clear {
				t.Fatalf("%s: unprotected %v, a full parse says %v", name, !clear, clear)
			}
			if clear {
				unprotected++
			} else {
				protected++
			}
		}
	}
	if protected == 0 || unprotected == 0 {
		t.Fatalf("%d protected and %d unprotected secret keys: the test covers too little", protected, unprotected)
	}
}

// damageSecrets flips a bit of the secret exponent of every unprotected
// secret key packet (fixing the checksum), so that the secret no longer
// matches the public key and any parse of it fails.
func damageSecrets(t testing.TB, data []byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	n := 0
	for _, p := range secretPackets(t, out) {
		pub, _, err := publicPacket(p)
		if err != nil || p.body[len(pub.body)] != 0 {
			t.Fatalf("not an unprotected secret key: %v", err)
		}
		// v4: public fields, 0 (unprotected), MPI x, 2-octet checksum.
		body := p.body // aliases out
		last := len(body) - 3
		old := body[last]
		body[last] ^= 1
		sum := binary.BigEndian.Uint16(body[len(body)-2:]) - uint16(old) + uint16(body[last])
		binary.BigEndian.PutUint16(body[len(body)-2:], sum)
		n++
	}
	if n != 2 {
		t.Fatalf("%d secret keys damaged, want 2", n)
	}
	return out
}

// An import reads the structure of a secret key, and whether it needs a
// passphrase, from the public fields alone: the secret key material is
// parsed, and so validated (slow for DSA and ElGamal keys, see
// BenchmarkImportDSAElGamal), once, when the secret key is stored. Shown
// with a key whose secret parts do not match its public keys: it is
// recognised as an unprotected key, split into its primary key and subkey,
// and refused only when stored.
func TestSecretKeyMaterialParsedOnce(t *testing.T) {
	bad := damageSecrets(t, readKeyData(t, filepath.Join(legacyKeys, "dsa3072-elg3072-secret.pgp")))
	if !HasUnprotectedSecrets(bad) {
		t.Fatal("the key was not recognised as unprotected: its secret part was parsed")
	}
	pkts, err := splitPackets(bad)
	if err != nil {
		t.Fatal(err)
	}
	certs, _, err := groupCerts(pkts)
	if err != nil || len(certs) != 1 || certs[0].unsupported != nil || len(certs[0].subkeys) != 1 {
		t.Fatalf("the key was not read from its public fields: %v", err)
	}
	s := newStore(t)
	_, err = s.ImportPGP(bytes.NewReader(bad), []byte("pw"))
	if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "secret key") {
		t.Fatalf("a secret key not matching its public key: %v", err)
	}
	if _, err := s.PGPSecret("BF7E71F11DB008E471AD214F1C6E132FE20DCA28"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("the damaged secret key was stored: %v", err)
	}

	// The genuine key imports, protected, and lists as such.
	good := readKeyData(t, filepath.Join(legacyKeys, "dsa3072-elg3072-secret.pgp"))
	res, err := s.ImportPGP(bytes.NewReader(good), []byte("pw"))
	if err != nil || !res[0].Secret {
		t.Fatalf("%v %+v", err, res)
	}
	info, err := s.ListPGP("t@example.org")
	if err != nil || !info[0].HasSecret || !info[0].Protected || len(info[0].Subkeys) != 1 {
		t.Fatalf("%v %+v", err, info)
	}
}

// BenchmarkImportDSAElGamal imports a DSA-3072 key with an ElGamal-3072
// subkey as the CLI does (HasUnprotectedSecrets, then ImportPGP), into an
// empty keystore: the certificate; the unprotected secret key, protected
// on import (one validation of each secret key, then the S2K of the
// protection, 65M SHA-256 bytes); the same stored unprotected; and the
// secret key protected by gpg (no validation).
func BenchmarkImportDSAElGamal(b *testing.B) {
	for _, c := range []struct {
		name, file string
		protect    []byte
	}{
		{"public", "dsa3072-elg3072.asc", nil},
		{"secret", "dsa3072-elg3072-secret.pgp", []byte("pw")},
		{"secret-no-passphrase", "dsa3072-elg3072-secret.pgp", nil},
		{"secret-locked", "dsa3072-elg3072-secret-locked.asc", nil},
	} {
		data := readKeyData(b, filepath.Join(legacyKeys, c.file))
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := newStore(b)
				b.StartTimer()
				protect := c.protect
				if !HasUnprotectedSecrets(data) {
					protect = nil
				}
				if _, err := s.ImportPGP(bytes.NewReader(data), protect); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

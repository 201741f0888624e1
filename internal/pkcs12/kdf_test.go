package pkcs12

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	mrand "math/rand"
	"os/exec"
	"strings"
	"testing"
)

// The PKCS#12 key derivation agrees with openssl's PKCS12KDF on random
// salts, passwords, iteration counts and sizes (sizes above the hash size
// go through step 6's big-endian additions), and on the published vector
// for "smeg".
func TestDeriveKeyMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (scripts/test.sh installs it)")
	}
	smeg := deriveKey(sha1.New, kdfKey, bmpPassword("smeg"), mustHex("0a58cf64530d823f"), 1, 24)
	if hex.EncodeToString(smeg) != "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3" {
		t.Fatalf("smeg vector: %x", smeg)
	}
	rng := mrand.New(mrand.NewSource(1))
	hashes := []struct {
		name string
		h    func() hash.Hash
	}{{"SHA1", sha1.New}, {"SHA256", sha256.New}, {"SHA512", sha512.New}}
	for n := 0; n < 40; n++ {
		hh := hashes[n%len(hashes)]
		salt := make([]byte, 8+rng.Intn(16))
		rand.Read(salt)
		password := bmpPassword(strings.Repeat("pässword", rng.Intn(3)))
		id := byte(1 + rng.Intn(3))
		iter := 1 + rng.Intn(3000)
		size := []int{5, 8, 16, 20, 24, 32, 64, 100}[rng.Intn(8)]
		want := openssl(t, "kdf", "-keylen", fmt.Sprint(size), "-kdfopt", "digest:"+hh.name, "-kdfopt", "hexpass:"+hex.EncodeToString(password),
			"-kdfopt", "hexsalt:"+hex.EncodeToString(salt), "-kdfopt", fmt.Sprintf("iter:%d", iter), "-kdfopt", fmt.Sprintf("id:%d", id), "PKCS12KDF")
		got := deriveKey(hh.h, id, password, salt, iter, size)
		if !strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(want), ":", ""), hex.EncodeToString(got)) {
			t.Fatalf("%s id %d iter %d size %d salt %x password %x:\n got %x\nwant %s", hh.name, id, iter, size, salt, password, got, want)
		}
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

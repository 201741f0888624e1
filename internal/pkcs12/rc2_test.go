package pkcs12

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"os/exec"
	"testing"
)

// The eight test vectors of RFC 2268 section 5.
func TestRC2Vectors(t *testing.T) {
	for _, v := range []struct {
		key  string
		bits int
		pt   string
		ct   string
	}{
		{"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
		{"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
		{"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
		{"88", 64, "0000000000000000", "61a8a244adacccf0"},
		{"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
		{"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
		{"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", 129, "0000000000000000", "5b78d3a43dfff1f1"},
	} {
		key, _ := hex.DecodeString(v.key)
		pt, _ := hex.DecodeString(v.pt)
		c, err := newRC2(key, v.bits)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 8)
		c.Encrypt(got, pt)
		if hex.EncodeToString(got) != v.ct {
			t.Errorf("key %s, %d bits: encrypt %x, want %s", v.key, v.bits, got, v.ct)
		}
		back := make([]byte, 8)
		c.Decrypt(back, got)
		if !bytes.Equal(back, pt) {
			t.Errorf("key %s, %d bits: decrypt %x, want %s", v.key, v.bits, back, v.pt)
		}
	}
}

// openssl's RC2-CBC (legacy provider; effective bits = key bits) encrypts
// what newRC2 decrypts, for the key sizes of PKCS#12 (40 and 128 bits).
func TestRC2MatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (scripts/test.sh installs it)")
	}
	pt := []byte("RC2 in CBC mode, as PKCS#12 files from Windows use it: 48 bytes.")[:48]
	iv, _ := hex.DecodeString("0102030405060708")
	for _, c := range []struct{ name, key string }{
		{"rc2-40-cbc", "a1b2c3d4e5"},
		{"rc2-cbc", "00112233445566778899aabbccddeeff"},
	} {
		cmd := exec.Command("openssl", "enc", "-provider", "legacy", "-provider", "default", "-"+c.name, "-nopad",
			"-K", c.key, "-iv", hex.EncodeToString(iv))
		cmd.Stdin = bytes.NewReader(pt)
		ct, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl enc -%s: %v", c.name, err)
		}
		key, _ := hex.DecodeString(c.key)
		block, err := newRC2(key, 8*len(key))
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(got, ct)
		if !bytes.Equal(got, pt) {
			t.Errorf("%s: decrypted %q", c.name, got)
		}
		again := make([]byte, len(pt))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(again, pt)
		if !bytes.Equal(again, ct) {
			t.Errorf("%s: encrypted %x, openssl %x", c.name, again, ct)
		}
	}
}

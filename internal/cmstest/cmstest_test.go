package cmstest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/internal/cms"
)

var nssDir = filepath.Join("..", "cms", "testdata", "nss-interop")

func pemBlock(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(nssDir, name))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	return b.Bytes
}

func decrypt(t *testing.T, der []byte, id cms.Identity) []byte {
	t.Helper()
	d, err := cms.Decrypt(bytes.NewReader(der), []cms.Identity{id}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := io.ReadAll(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FlipCBC finds the IV and the ciphertext in BER (mailseal's writer:
// indefinite lengths, a constructed encryptedContent) and DER (OpenSSL's),
// as decryption shows: an IV flip flips the same plaintext bit; a block
// flip garbles that block and flips the same bit of the next.
func TestFlipCBC(t *testing.T) {
	cert, err := x509.ParseCertificate(pemBlock(t, "fran.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(pemBlock(t, "fran.key"))
	if err != nil {
		t.Fatal(err)
	}
	id := cms.Identity{Cert: cert, Key: key}

	var ber bytes.Buffer
	w, err := cms.Encrypt(&ber, []*x509.Certificate{cert}, cms.EncryptOptions{Cipher: cms.AES256CBC})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.Repeat("0123456789abcdef", 40)))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"mailseal AES-256": ber.Bytes()}
	for name, file := range map[string]string{
		"openssl AES-128": "fran-oaep-sha256hash_ossl.env",
		"openssl AES-192": "fran-oaep-sha384hash_ossl.env",
		"openssl AES-256": "fran-oaep-label_ossl.env",
	} {
		der, err := os.ReadFile(filepath.Join(nssDir, file))
		if err != nil {
			t.Fatal(err)
		}
		cases[name] = der
	}
	for name, der := range cases {
		plain := decrypt(t, der, id)
		if len(plain) < 32 {
			t.Fatalf("%s: %d bytes of plaintext", name, len(plain))
		}
		for _, tc := range []struct {
			where      string
			garbled    int // the plaintext block garbled, -1 for none
			flippedBit int // the plaintext byte whose bit 0 flips
		}{
			{"iv", -1, 5},
			{"block0", 0, 16 + 5},
		} {
			flipped := bytes.Clone(der)
			if err := FlipCBC(flipped, tc.where, 5); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := decrypt(t, flipped, id)
			want := bytes.Clone(plain)
			want[tc.flippedBit] ^= 0x01
			if tc.garbled >= 0 {
				g := 16 * tc.garbled
				if bytes.Equal(got[g:g+16], plain[g:g+16]) {
					t.Errorf("%s, %s: block %d not garbled", name, tc.where, tc.garbled)
				}
				copy(want[g:g+16], got[g:g+16])
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, %s: plaintext %q, want %q", name, tc.where, got, want)
			}
		}
	}

	// Not AES-CBC, or no such block: an error.
	des, err := os.ReadFile(filepath.Join(nssDir, "fran-oaep_ossl.env"))
	if err != nil {
		t.Fatal(err)
	}
	if err := FlipCBC(des, "iv", 0); err == nil {
		t.Error("3DES: no error")
	}
	if err := FlipCBC(bytes.Clone(ber.Bytes()), "block9999", 0); err == nil {
		t.Error("block 9999: no error")
	}
}

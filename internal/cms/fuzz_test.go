package cms

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailseal/mailseal/core"
)

// TestWriteFuzzSeeds regenerates testdata/seeds (openssl's and our
// messages to the Fran identities) when CMSENC_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("CMSENC_WRITE_SEEDS") != "1" {
		t.Skip("set CMSENC_WRITE_SEEDS=1 to regenerate testdata/seeds")
	}
	dir := filepath.Join("testdata", "seeds")
	os.MkdirAll(dir, 0o755)
	ids := franIdentities(t)
	plaintext := []byte(franPlaintext + "\n")
	for _, c := range allCiphers {
		for i, id := range ids {
			kind := []string{"rsa", "ec"}[i]
			certPath := filepath.Join("testdata", "nss-interop", []string{"fran.crt", "fran-ec.crt"}[i])
			for _, stream := range []bool{false, true} {
				msg, err := opensslEncrypt(t, t.TempDir(), c, certPath, false, stream, plaintext)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("openssl-%s-%s-stream=%v.der", c, kind, stream)), msg, 0o644)
			}
			ours := encryptBytes(t, []*x509.Certificate{id.Cert}, EncryptOptions{Cipher: c, RSAOAEP: c == AES128GCM}, plaintext, 7)
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("mailseal-%s-%s.ber", c, kind)), ours, 0o644)
		}
	}
}

func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, pattern := range []string{"nss-interop/*.env", "seeds/*"} {
		files, _ := filepath.Glob(filepath.Join("testdata", pattern))
		for _, f := range files {
			if filepath.Ext(f) == ".md" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	return seeds
}

func TestSeedsDecrypt(t *testing.T) {
	ids := franIdentities(t)
	seeds := fuzzSeeds(t)
	if len(seeds) < 17+24 {
		t.Fatalf("only %d seeds", len(seeds))
	}
	for i, s := range seeds {
		body, _, err := decryptAll(s, ids)
		if err != nil || !bytes.HasPrefix(body, []byte(franPlaintext)) {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
}

func FuzzDecrypt(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	ids := franIdentities(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decrypt(bytes.NewReader(data), ids, 1<<16)
		if err != nil {
			if !errors.Is(err, core.ErrInput) && !errors.Is(err, core.ErrNoKey) && !errors.Is(err, core.ErrIntegrity) {
				t.Fatalf("error of no kind: %v", err)
			}
			if d != nil {
				t.Fatal("Decrypted with an error")
			}
			return
		}
		defer d.Close()
		if _, err := io.ReadAll(d.Body); err != nil {
			t.Fatal(err)
		}
	})
}

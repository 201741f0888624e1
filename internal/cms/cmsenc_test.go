package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

const franPlaintext = "This is a test message to Fran."

func readPEMCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func readPEMKey(t testing.TB, path string) crypto.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// franIdentities are the two NSS test identities (RSA and EC P-384).
func franIdentities(t testing.TB) []Identity {
	dir := filepath.Join("testdata", "nss-interop")
	return []Identity{
		{Cert: readPEMCert(t, filepath.Join(dir, "fran.crt")), Key: readPEMKey(t, filepath.Join(dir, "fran.key"))},
		{Cert: readPEMCert(t, filepath.Join(dir, "fran-ec.crt")), Key: readPEMKey(t, filepath.Join(dir, "fran-ec.key"))},
	}
}

func decryptAll(data []byte, ids []Identity) ([]byte, *Decrypted, error) {
	d, err := Decrypt(bytes.NewReader(data), ids, 1<<20)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	body, err := io.ReadAll(d.Body)
	return body, d, err
}

func TestNSSInteropCorpus(t *testing.T) {
	ids := franIdentities(t)
	files, _ := filepath.Glob(filepath.Join("testdata", "nss-interop", "*.env"))
	if len(files) != 17 {
		t.Fatalf("expected the 17 OpenSSL-made .env files, found %d", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// try with both identities and with only the matching one
		want := ids[0]
		if strings.Contains(f, "fran-ec") {
			want = ids[1]
		}
		for _, set := range [][]Identity{ids, {want}} {
			body, d, err := decryptAll(data, set)
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			// the files were made from a text file: the plaintext ends with a newline
			if strings.TrimRight(string(body), "\r\n") != franPlaintext {
				t.Fatalf("%s: got %q", filepath.Base(f), body)
			}
			if d.Integrity != core.IntegrityNone || d.Recipient != want.Cert || d.Cipher == "" {
				t.Fatalf("%s: integrity %q cipher %q recipient %v", filepath.Base(f), d.Integrity, d.Cipher, d.Recipient.Subject)
			}
		}
		// the other identity alone is not a recipient
		other := ids[1]
		if want.Cert == ids[1].Cert {
			other = ids[0]
		}
		_, _, err = decryptAll(data, []Identity{other})
		if !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "serial=") {
			t.Fatalf("%s: wrong identity: %v", filepath.Base(f), err)
		}
	}
	t.Logf("%d corpus messages decrypted", len(files))
}

// requireOpenSSL returns the openssl binary or fails: the interop tests
// must not be skipped silently.
func requireOpenSSL(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl not found: install it (apt-get install openssl); the CMS interop tests need openssl 3")
	}
	return path
}

func runOpenSSL(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(requireOpenSSL(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(err.Error() + ": " + stderr.String())
	}
	return out, nil
}

// writeIdentity writes id's certificate and PKCS #8 key as PEM files.
func writeIdentity(t testing.TB, dir string, id Identity) (certPath, keyPath string) {
	t.Helper()
	name := id.Cert.Subject.CommonName
	certPath = filepath.Join(dir, name+".crt")
	keyPath = filepath.Join(dir, name+".key")
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Cert.Raw}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certPath, keyPath
}

func encryptBytes(t testing.TB, to []*x509.Certificate, opts EncryptOptions, plaintext []byte, pieces int) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := Encrypt(&out, to, opts)
	if err != nil {
		t.Fatal(err)
	}
	for p := plaintext; len(p) > 0; {
		n := min(pieces, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

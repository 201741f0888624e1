package cms

import (
	"bytes"
	"crypto/x509"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

// A 1 MiB message with one flipped ciphertext byte releases nothing.
func TestTampered1MiBReleasesNothing(t *testing.T) {
	keys := newTestKeys(t)
	plaintext := randomBytes(1 << 20)
	for _, c := range []Cipher{AES256GCM, AES128GCM} {
		msg := encryptBytes(t, []*x509.Certificate{keys.rsa.Cert}, EncryptOptions{Cipher: c}, plaintext, 1<<16)
		for _, pos := range []int{len(msg) / 3, len(msg) - 40} {
			bad := bytes.Clone(msg)
			bad[pos] ^= 0x80
			d, err := Decrypt(bytes.NewReader(bad), []Identity{keys.rsa}, 64<<10)
			if d != nil || !errors.Is(err, core.ErrIntegrity) {
				t.Fatalf("%s pos %d: got %v, %v", c, pos, d, err)
			}
		}
		// truncation anywhere after the header is the same generic failure or malformed input, never plaintext
		for _, cut := range []int{len(msg) / 2, len(msg) - 30, len(msg) - 1} {
			d, err := Decrypt(bytes.NewReader(msg[:cut]), []Identity{keys.rsa}, 64<<10)
			if d != nil || !errors.Is(err, core.ErrIntegrity) {
				t.Fatalf("%s cut at %d: got %v, %v", c, cut, d, err)
			}
		}
	}
}

// A wrong RSA key whose certificate names the recipient (v1.5: implicit
// rejection) fails with the same generic error as a bad tag.
func TestWrongRSAKeyIsGenericFailure(t *testing.T) {
	keys := newTestKeys(t)
	other := newTestKeys(t)
	msg := encryptBytes(t, []*x509.Certificate{keys.rsa.Cert}, EncryptOptions{}, []byte("secret"), 10)
	for _, oaep := range []bool{false, true} {
		msg = encryptBytes(t, []*x509.Certificate{keys.rsa.Cert}, EncryptOptions{RSAOAEP: oaep}, []byte("secret"), 10)
		d, err := Decrypt(bytes.NewReader(msg), []Identity{{Cert: keys.rsa.Cert, Key: other.rsa.Key}}, 1<<20)
		if d != nil || !errors.Is(err, core.ErrIntegrity) || core.ExitCode(err) != core.ExitVerification ||
			!strings.HasSuffix(err.Error(), "damaged, tampered with, or not for this key") {
			t.Fatalf("oaep=%v: %v", oaep, err)
		}
	}
}

// Encrypt's memory does not grow with the content.
func TestEncryptMemoryDoesNotGrow(t *testing.T) {
	keys := newTestKeys(t)
	chunk := randomBytes(1 << 20)
	for _, c := range allCiphers {
		w, err := Encrypt(io.Discard, []*x509.Certificate{keys.p256.Cert}, EncryptOptions{Cipher: c})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < 64; i++ {
			w.Write(chunk)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
			t.Fatalf("%s: heap grew by %d bytes for 64 MiB of content", c, grown)
		}
	}
}

func benchmarkEncrypt(b *testing.B, size int, c Cipher) {
	keys := newTestKeys(b)
	data := randomBytes(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		w, err := Encrypt(io.Discard, []*x509.Certificate{keys.p256.Cert}, EncryptOptions{Cipher: c})
		if err != nil {
			b.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkDecrypt(b *testing.B, size int, c Cipher) {
	keys := newTestKeys(b)
	msg := encryptBytes(b, []*x509.Certificate{keys.p256.Cert}, EncryptOptions{Cipher: c}, randomBytes(size), 1<<20)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		d, err := Decrypt(bytes.NewReader(msg), []Identity{keys.p256}, 8<<20)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, d.Body)
		d.Close()
	}
}

func BenchmarkEncrypt4KiB(b *testing.B)     { benchmarkEncrypt(b, 4<<10, AES256GCM) }
func BenchmarkEncrypt10MiB(b *testing.B)    { benchmarkEncrypt(b, 10<<20, AES256GCM) }
func BenchmarkEncrypt10MiBCBC(b *testing.B) { benchmarkEncrypt(b, 10<<20, AES256CBC) }
func BenchmarkDecrypt4KiB(b *testing.B)     { benchmarkDecrypt(b, 4<<10, AES256GCM) }
func BenchmarkDecrypt10MiB(b *testing.B)    { benchmarkDecrypt(b, 10<<20, AES256GCM) }
func BenchmarkDecrypt10MiBCBC(b *testing.B) { benchmarkDecrypt(b, 10<<20, AES256CBC) }

// When the spool cannot take the plaintext (no temporary directory), the
// error says so, and no plaintext comes out: for content that goes to
// the file before the spool's goroutine starts, after it, and only with
// its last bytes (the failure then shows when the goroutine finishes).
func TestDecryptSpoolFailure(t *testing.T) {
	keys := newTestKeys(t)
	t.Setenv("TMPDIR", t.TempDir()+"/missing")
	for _, tc := range []struct{ size, memLimit int }{
		{100 << 10, 16 << 10}, {4 << 20, 16 << 10}, {4 << 20, 4<<20 - 100}, {1 << 20, 1<<20 - 1},
	} {
		for _, c := range []Cipher{AES256GCM, AES256CBC} {
			msg := encryptBytes(t, []*x509.Certificate{keys.p256.Cert}, EncryptOptions{Cipher: c}, randomBytes(tc.size), 1<<16)
			d, err := Decrypt(bytes.NewReader(msg), []Identity{keys.p256}, int64(tc.memLimit))
			if d != nil || err == nil || !strings.Contains(err.Error(), "spool") || errors.Is(err, core.ErrIntegrity) {
				t.Fatalf("%s, %d bytes, %d in memory: got %v, %v", c, tc.size, tc.memLimit, d, err)
			}
		}
	}
}

package smime

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{4 << 10, 10 << 20}

func benchName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkSMIME measures the engine on message bodies of 4 KiB and 10 MiB:
// detached RSA-2048 signing and verification, opaque verification, and
// AES-256-GCM encryption to and decryption with an EC P-256 recipient.
func BenchmarkSMIME(b *testing.B) {
	p := getPKI(b)
	e, trust := testEngine(b), testTrust(b)
	signer := p.identity(b, rsaKey(b, 2048), leafSpec{})
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rcpt := p.identity(b, ec, leafSpec{email: "bob@example.org"})
	for _, n := range benchSizes {
		body := make([]byte, n)
		rand.Read(body)
		b.Run("sign/"+benchName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				w, _ := e.Sign(io.Discard, []Identity{signer}, SignOptions{})
				w.Write(body)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		sig := sign(b, e, []Identity{signer}, SignOptions{}, string(body))
		b.Run("verify/"+benchName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				s, _, err := e.VerifyDetached(bytes.NewReader(body), bytes.NewReader(sig), trust)
				if err != nil || len(s) != 1 || !s[0].Valid {
					b.Fatal(s, err)
				}
			}
		})
		opaque := sign(b, e, []Identity{signer}, SignOptions{Opaque: true}, string(body))
		b.Run("verify-opaque/"+benchName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				v, err := e.VerifyOpaque(bytes.NewReader(opaque), trust)
				if err != nil || !v.Signers[0].Valid {
					b.Fatal(err)
				}
				io.Copy(io.Discard, v.Content)
				v.Close()
			}
		})
		b.Run("encrypt/"+benchName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				w, err := e.Encrypt(io.Discard, []*x509.Certificate{rcpt.Cert}, EncryptOptions{})
				if err != nil {
					b.Fatal(err)
				}
				w.Write(body)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
		var enc bytes.Buffer
		w, _ := e.Encrypt(&enc, []*x509.Certificate{rcpt.Cert}, EncryptOptions{})
		w.Write(body)
		w.Close()
		id := Identity{Cert: rcpt.Cert, Key: ec}
		b.Run("decrypt/"+benchName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				d, err := e.Decrypt(bytes.NewReader(enc.Bytes()), []Identity{id})
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, d.Body)
				d.Close()
			}
		})
	}
}

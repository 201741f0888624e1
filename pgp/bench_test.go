package pgp

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

var benchSizes = []int{4 << 10, 10 << 20}

func benchName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

func BenchmarkSignDetached(b *testing.B) {
	e := testEngine()
	key := genKey(b, "B", "b@example.org", keyOpts{})
	for _, n := range benchSizes {
		data := make([]byte, n)
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				w, err := e.SignDetached(io.Discard, key)
				if err != nil {
					b.Fatal(err)
				}
				w.Write(data)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyDetached(b *testing.B) {
	e := testEngine()
	key := genKey(b, "B", "b@example.org", keyOpts{})
	certs := openpgp.EntityList{publicOf(b, key)}
	for _, n := range benchSizes {
		data := make([]byte, n)
		sig := sign(b, e, key, data)
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				if _, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), certs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncrypt(b *testing.B) {
	e := testEngine()
	key := genKey(b, "B", "b@example.org", keyOpts{})
	to := []*openpgp.Entity{publicOf(b, key)}
	for _, n := range benchSizes {
		data := make([]byte, n)
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				w, err := e.Encrypt(io.Discard, to, nil)
				if err != nil {
					b.Fatal(err)
				}
				w.Write(data)
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	e := testEngine()
	key := genKey(b, "B", "b@example.org", keyOpts{})
	kr := Keyring{Secrets: openpgp.EntityList{key}}
	for _, n := range benchSizes {
		data := make([]byte, n)
		ct := encrypt(b, e, data, nil, publicOf(b, key))
		b.Run(benchName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				d, err := e.Decrypt(bytes.NewReader(ct), kr)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, d.Body)
				d.Close()
			}
		})
	}
}

// BenchmarkFindBlocks scans 64 MiB texts: BEGIN lines without an END
// (quadratic before), empty lines, lines of a single dash (each looked at as
// a possible marker), and ordinary text.
func BenchmarkFindBlocks(b *testing.B) {
	const size = 64 << 20
	for _, c := range []struct{ name, line string }{
		{"unclosed-begin", beginMessage + "\r\n"},
		{"empty-lines", "\r\n"},
		{"dash-lines", "-\r\n"},
		{"text", "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"},
	} {
		text := bytes.Repeat([]byte(c.line), size/len(c.line))
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				if blocks := FindBlocks(text); len(blocks) != 0 {
					b.Fatal(blocks)
				}
			}
		})
	}
}

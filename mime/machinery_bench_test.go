package mime

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"os"
	"testing"
)

// BenchmarkBodyStaged compares decoding a 64 MiB base64 attachment with
// Body (one goroutine: decoding and the consumer's SHA-256 take turns) and
// BodyStaged (two decoding workers beside the consumer). The gain is what
// the other cores take over; on one free core the two are alike.
func BenchmarkBodyStaged(b *testing.B) {
	raw := make([]byte, 64<<20)
	rand.Read(raw)
	msg := append([]byte("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"), encodedLines(raw, 76, "\r\n")...)
	m, err := ParseAt(bytes.NewReader(msg), int64(len(msg)), DefaultLimits(), 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, c := range []struct {
		name string
		open func() io.ReadCloser
	}{
		{"Body", func() io.ReadCloser { return io.NopCloser(m.Root.Body()) }},
		{"BodyStaged", m.Root.BodyStaged},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				r := c.open()
				h := sha256.New()
				if _, err := io.Copy(h, r); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkHashSignedPart compares the two ways to get the digest of the
// signed part of a 64 MiB multipart/signed message read from a stream:
// parse, then read the part again and hash it ("after"), or hash it
// during the parse (HashSignedPart, "beside").
func BenchmarkHashSignedPart(b *testing.B) {
	msg := []byte(signedMessage(64<<20, "sha-256"))
	for _, c := range []struct {
		name   string
		beside bool
	}{{"after", false}, {"beside", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var opts []ParseOption
				if c.beside {
					opts = append(opts, HashSignedPart(micalgHashes))
				}
				m, err := Parse(bytes.NewReader(msg), DefaultLimits(), 32<<20, opts...)
				if err != nil {
					b.Fatal(err)
				}
				part := m.Root.Children[0]
				if c.beside {
					if _, ok := part.Digest(crypto.SHA256); !ok {
						b.Fatal("not hashed during the parse")
					}
				} else {
					h := sha256.New()
					if _, err := io.Copy(h, part.Raw()); err != nil {
						b.Fatal(err)
					}
				}
				m.Close()
			}
		})
	}
}

// BenchmarkSpoolPipe is what a message piped into the command-line tool
// costs before it can be parsed: a 32 MiB message (CRLF, and LF, which is
// canonicalised on the way) read from an OS pipe into the spool, which
// spills to its encrypted file, and parsed there.
func BenchmarkSpoolPipe(b *testing.B) {
	lf, err := io.ReadAll(bigMessage(32 << 20))
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []struct {
		name string
		data []byte
	}{{"CRLF", referenceCRLF(lf)}, {"LF", lf}} {
		b.Run(form.name, func(b *testing.B) {
			b.SetBytes(int64(len(form.data)))
			for i := 0; i < b.N; i++ {
				r, w, err := os.Pipe()
				if err != nil {
					b.Fatal(err)
				}
				go func() { w.Write(form.data); w.Close() }()
				m, err := Parse(r, DefaultLimits(), 2<<20)
				r.Close()
				if err != nil {
					b.Fatal(err)
				}
				if len(m.Root.Children) != 2 {
					b.Fatal("wrong structure")
				}
				m.Close()
			}
		})
	}
}

package mime

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailseal/mailseal/internal/stage"
)

// signedMessage is a multipart/signed message whose signed part (a
// multipart/mixed with a base64 attachment) has about size bytes.
func signedMessage(size int, micalg string) string {
	line := "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n"
	return "From: a@example.org\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=\"" + micalg + "\"; boundary=\"outer\"\r\n\r\n" +
		"preamble\r\n--outer\r\nContent-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--inner\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Repeat(line, size/len(line)) + "--inner--\r\n" +
		"\r\n--outer\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n--outer--\r\n"
}

func micalgHashes(params map[string]string) []crypto.Hash {
	switch params["micalg"] {
	case "sha-256":
		return []crypto.Hash{crypto.SHA256}
	case "sha-256,sha-512":
		return []crypto.Hash{crypto.SHA256, crypto.SHA512}
	}
	return nil
}

// The signed part of a large multipart/signed is hashed during the parse:
// its digests are those of the bytes Raw returns, in place and spooled.
func TestHashSignedPart(t *testing.T) {
	msg := signedMessage(2<<20, "sha-256,sha-512")
	parsers := map[string]func() (*Message, error){
		"in place": func() (*Message, error) {
			return ParseAt(strings.NewReader(msg), int64(len(msg)), DefaultLimits(), 1<<20, HashSignedPart(micalgHashes))
		},
		"spooled": func() (*Message, error) {
			return Parse(strings.NewReader(msg), DefaultLimits(), 64<<10, HashSignedPart(micalgHashes))
		},
		"file": func() (*Message, error) {
			name := filepath.Join(t.TempDir(), "msg.eml")
			if err := os.WriteFile(name, []byte(msg), 0o600); err != nil {
				return nil, err
			}
			f, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			return ParseFile(f, DefaultLimits(), 1<<20, HashSignedPart(micalgHashes))
		},
		"LF line endings": func() (*Message, error) {
			lf := strings.ReplaceAll(msg, "\r\n", "\n")
			return ParseAt(strings.NewReader(lf), int64(len(lf)), DefaultLimits(), 64<<10, HashSignedPart(micalgHashes))
		},
	}
	for name, parse := range parsers {
		t.Run(name, func(t *testing.T) {
			m, err := parse()
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			part := m.Root.Children[0]
			raw := readString(t, part.Raw())
			if !strings.HasPrefix(raw, "Content-Type: multipart/mixed") || !strings.HasSuffix(raw, "--inner--\r\n") {
				t.Fatalf("signed part is %q...%q", raw[:40], raw[len(raw)-20:])
			}
			want256, want512 := sha256.Sum256([]byte(raw)), sha512.Sum512([]byte(raw))
			if got, ok := part.Digest(crypto.SHA256); !ok || !bytes.Equal(got, want256[:]) {
				t.Fatalf("SHA-256 digest %x, %v; want %x", got, ok, want256)
			}
			if got, ok := part.Digest(crypto.SHA512); !ok || !bytes.Equal(got, want512[:]) {
				t.Fatalf("SHA-512 digest %x, %v", got, ok)
			}
			if _, ok := part.Digest(crypto.SHA384); ok {
				t.Fatal("a digest that was not asked for")
			}
			for _, e := range append(m.Entities()[:1], m.Entities()[2:]...) {
				if _, ok := e.Digest(crypto.SHA256); ok {
					t.Fatalf("entity %q has a digest", e.Path)
				}
			}
		})
	}
}

// Nothing is hashed where nothing should be: a small part, a root that is
// not multipart/signed, a signed part below the root, no hash asked for.
func TestHashSignedPartOnlyWhereAsked(t *testing.T) {
	big := signedMessage(1<<20, "sha-256")
	for name, msg := range map[string]string{
		"small":         signedMessage(stage.BufferSize/2, "sha-256"),
		"mixed root":    strings.Replace(big, "multipart/signed", "multipart/mixed", 1),
		"nested":        "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" + big + "\r\n--x--\r\n",
		"unknown hash":  signedMessage(1<<20, "sha-3"),
		"no option set": big,
	} {
		opts := []ParseOption{HashSignedPart(micalgHashes)}
		if name == "no option set" {
			opts = nil
		}
		m, err := ParseAt(strings.NewReader(msg), int64(len(msg)), DefaultLimits(), 1<<20, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range m.Entities() {
			if _, ok := e.Digest(crypto.SHA256); ok {
				t.Errorf("%s: entity %q has a digest", name, e.Path)
			}
		}
		m.Close()
	}
}

// The hasher goes only as far as the parser has cleared, then to the end
// the parser found; one that got past the end (which the parser never
// allows) or was stopped early gives no digest.
func TestPartHasher(t *testing.T) {
	data := make([]byte, 3<<20)
	rand.New(rand.NewSource(1)).Read(data)

	src := &watchedReaderAt{r: bytes.NewReader(data), mark: 2 << 20, reached: make(chan struct{})}
	h := startHasher(src, 100, []crypto.Hash{crypto.SHA256})
	h.advance(1 << 20)
	time.Sleep(20 * time.Millisecond)
	select {
	case <-src.reached:
		t.Fatal("the hasher read past what the parser cleared")
	default:
	}
	h.advance(3<<20 - 7)
	<-src.reached
	h.setEnd(2<<20 - 1)
	if _, ok := h.sum(crypto.SHA256); ok {
		t.Fatal("digest after the hashing passed the part's end")
	}

	h = startHasher(bytes.NewReader(data), 100, []crypto.Hash{crypto.SHA256})
	h.advance(1 << 20)
	h.setEnd(int64(len(data)) - 7)
	want := sha256.Sum256(data[100 : len(data)-7])
	if got, ok := h.sum(crypto.SHA256); !ok || !bytes.Equal(got, want[:]) {
		t.Fatalf("digest %x, %v; want %x", got, ok, want)
	}

	h = startHasher(bytes.NewReader(data), 0, []crypto.Hash{crypto.SHA256})
	h.stop() // waiting for the parser
	h.setEnd(0)
	if _, ok := h.sum(crypto.SHA256); !ok {
		t.Fatal("no digest of an empty part")
	}
	slow := &slowReaderAt{r: bytes.NewReader(data), delay: time.Millisecond}
	h = startHasher(slow, 0, []crypto.Hash{crypto.SHA256})
	h.advance(int64(len(data)))
	h.stop()
	h.setEnd(int64(len(data)))
	if _, ok := h.sum(crypto.SHA256); ok {
		t.Fatal("digest from a stopped hasher")
	}
}

// A read error leaves the part without digests.
func TestPartHasherReadError(t *testing.T) {
	data := make([]byte, 1<<20)
	h := startHasher(&failingReaderAt{r: bytes.NewReader(data), failAt: 600 << 10}, 0, []crypto.Hash{crypto.SHA256})
	h.setEnd(int64(len(data)))
	if _, ok := h.sum(crypto.SHA256); ok {
		t.Fatal("digest despite a read error")
	}
}

// watchedReaderAt closes reached on the first read that ends past mark.
type watchedReaderAt struct {
	r       io.ReaderAt
	mark    int64
	once    sync.Once
	reached chan struct{}
}

func (w *watchedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > w.mark {
		w.once.Do(func() { close(w.reached) })
	}
	return w.r.ReadAt(p, off)
}

// Closing a message stops its hashing goroutine; a failed parse stops it
// too.
func TestHashSignedPartNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	msg := signedMessage(4<<20, "sha-256")
	for i := 0; i < 5; i++ {
		slow := &slowReaderAt{r: strings.NewReader(msg), delay: 200 * time.Microsecond}
		m, err := ParseAt(slow, int64(len(msg)), DefaultLimits(), 1<<20, HashSignedPart(micalgHashes))
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		lim := DefaultLimits()
		lim.MaxParts = 3 // the signed part's children are too many
		if _, err := ParseAt(slow, int64(len(msg)), lim, 1<<20, HashSignedPart(micalgHashes)); err == nil {
			t.Fatal("parse within MaxParts 3 succeeded")
		}
	}
	// A stopped hasher has closed done; its goroutine may still be on its
	// way out.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type slowReaderAt struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s *slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

type failingReaderAt struct {
	r      io.ReaderAt
	failAt int64
}

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.failAt {
		return 0, io.ErrUnexpectedEOF
	}
	return f.r.ReadAt(p, off)
}

package mime

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	mrand "math/rand"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/internal/stage"
)

func base64Entity(t *testing.T, body []byte) *Entity {
	t.Helper()
	msg := append([]byte("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"), body...)
	m, err := ParseAt(bytes.NewReader(msg), int64(len(msg)), DefaultLimits(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.Root
}

func encodedLines(raw []byte, width int, eol string) []byte {
	s := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + eol)
		s = s[width:]
	}
	b.WriteString(s + eol)
	return []byte(b.String())
}

// readAllIn reads r in pieces of n bytes.
func readAllIn(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// BodyStaged decodes a large base64 body on two workers, another large
// body on one goroutine, and a smaller one where it is read.
func TestBodyStagedDispatch(t *testing.T) {
	big := base64Entity(t, encodedLines(make([]byte, parallelMin*3/4+1000), 76, "\r\n"))
	small := base64Entity(t, encodedLines(make([]byte, 100000), 76, "\r\n"))
	for name, tc := range map[string]struct {
		e        *Entity
		parallel bool
	}{
		"large base64": {big, true},
		"small base64": {small, false},
	} {
		r := tc.e.BodyStaged()
		_, parallel := r.(*parallelBase64)
		_, staged := r.(*stage.Reader)
		if parallel != tc.parallel || staged {
			t.Errorf("%s: %T", name, r)
		}
		want, _ := io.ReadAll(tc.e.Body())
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; Body gives %d", name, len(got), err, len(want))
		}
		r.Close()
	}
}

// The two-worker decoder gives exactly what Body gives, for clean bodies
// (decoded in parallel) and for bodies with a defect anywhere (from there
// on, in order).
func TestBodyStagedMatchesBody(t *testing.T) {
	rng := mrand.New(mrand.NewSource(3))
	raw := make([]byte, 3<<20+12345)
	rand.Read(raw)
	clean := encodedLines(raw, 76, "\r\n")
	cases := map[string][]byte{
		"clean":       clean,
		"clean-lf":    encodedLines(raw, 64, "\n"),
		"no-last-eol": bytes.TrimSuffix(clean, []byte("\r\n")),
		"odd-width":   encodedLines(raw, 75, "\r\n"),
	}
	for i := 0; i < 12; i++ {
		b := bytes.Clone(clean)
		pos := rng.Intn(len(b))
		switch i % 4 {
		case 0:
			b[pos] = '*'
		case 1:
			b[pos] = '='
		case 2:
			b = append(b[:pos:pos], append([]byte(" "), b[pos:]...)...)
		case 3:
			b = append(b[:pos:pos], b[pos+1:]...) // a character less: groups shift
		}
		cases[string(rune('a'+i))] = b
	}
	for name, body := range cases {
		e := base64Entity(t, body)
		want, err := io.ReadAll(e.Body())
		if err != nil {
			t.Fatal(err)
		}
		r := newParallelBase64(e.RawBody(), parallelChunk)
		got := readAllIn(t, r, 1000+rng.Intn(100000))
		r.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, Body gives %d", name, len(got), len(want))
		}
	}
}

// Closing before the end leaves no goroutine behind.
func TestBodyStagedClose(t *testing.T) {
	raw := make([]byte, 4<<20)
	e := base64Entity(t, encodedLines(raw, 76, "\r\n"))
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		r := newParallelBase64(e.RawBody(), parallelChunk)
		io.CopyN(io.Discard, r, int64(i)*100000)
		r.Close()
		r.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left", runtime.NumGoroutine()-before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With tiny chunks, whatever the input, the two-worker decoder gives
// exactly what the lenient decoder gives.
func FuzzParallelBase64(f *testing.F) {
	f.Add([]byte("QUJD\r\nREVG\r\n"), uint8(3))
	f.Add([]byte("QUJD\r\nRE*VG\r\nR0hJ\r\n"), uint8(7))
	f.Add([]byte("QQ==\r\nQUJD\r\nQUI=\r\n"), uint8(5))
	f.Add([]byte("QUJ\r\nDREVG\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8) {
		want, err := io.ReadAll(newBase64Decoder(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		d := newParallelBase64(bytes.NewReader(body), 1+int(chunk))
		got, err := io.ReadAll(d)
		d.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%v: %x, want %x", err, got, want)
		}
	})
}

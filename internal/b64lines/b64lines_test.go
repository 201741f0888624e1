package b64lines

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func TestWriterMatchesStdlib(t *testing.T) {
	data := make([]byte, 100_003)
	rand.Read(data)
	for _, tc := range []struct {
		width int
		eol   string
	}{{64, "\n"}, {76, "\r\n"}, {4, "\n"}} {
		for _, chunk := range []int{1, 7, 57, 4096, len(data)} {
			var out bytes.Buffer
			w := NewWriter(&out, tc.width, tc.eol)
			for p := data; len(p) > 0; {
				k := min(chunk, len(p))
				if n, err := w.Write(p[:k]); err != nil || n != k {
					t.Fatalf("Write = %d, %v", n, err)
				}
				p = p[k:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), tc.eol), tc.eol)
			for i, l := range lines[:len(lines)-1] {
				if len(l) != tc.width {
					t.Fatalf("width %d chunk %d: line %d has %d chars", tc.width, chunk, i, len(l))
				}
			}
			got, err := base64.StdEncoding.DecodeString(strings.Join(lines, ""))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("width %d chunk %d: round trip failed: %v", tc.width, chunk, err)
			}
			if !strings.HasSuffix(out.String(), tc.eol) {
				t.Fatalf("output does not end with the line ending")
			}
		}
	}
}

// encode writes what encoding/base64 writes, for every length up to a
// few steps past a line and for a large input, on random bytes and on
// the bytes that reach the table's edges.
func TestEncodeMatchesStdlib(t *testing.T) {
	random := make([]byte, 1<<16)
	rand.Read(random)
	ones := bytes.Repeat([]byte{0xFF}, 200)
	zeros := make([]byte, 200)
	for _, data := range [][]byte{random, ones, zeros} {
		for n := 0; n <= 200; n++ {
			checkEncode(t, data[:n])
		}
	}
	checkEncode(t, random)
}

func checkEncode(t *testing.T, src []byte) {
	t.Helper()
	want := base64.StdEncoding.EncodeToString(src)
	got := make([]byte, len(want)+3) // spare bytes must stay untouched
	copy(got[len(want):], "xyz")
	encode(got, src)
	if string(got) != want+"xyz" {
		t.Fatalf("%d bytes %x...: encode %q, encoding/base64 %q", len(src), src[:min(len(src), 8)], got, want)
	}
}

// encode agrees with encoding/base64 on every input.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "a", "ab", "abc", "abcdef", "abcdefgh", "\xff\xff\xff\xff\xff\xff\xff\xff\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkEncode(t, in) })
}

func TestEmptyAndWriteAfterClose(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, 76, "\r\n")
	if err := w.Close(); err != nil || out.Len() != 0 {
		t.Fatalf("empty: %q, %v", out.String(), err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func BenchmarkWriter(b *testing.B) {
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w := NewWriter(discard{}, 76, "\r\n")
		w.Write(data)
		w.Close()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkDecodeLines(b *testing.B) {
	raw := make([]byte, 48<<10)
	rand.Read(raw)
	var enc bytes.Buffer
	w := NewWriter(&enc, 76, "\r\n")
	w.Write(raw)
	w.Close()
	in := enc.Bytes()
	out := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, ok := DecodeLines(out[:0], in); !ok {
			b.Fatal("not decoded")
		}
	}
}

func TestDecodeLines(t *testing.T) {
	raw := make([]byte, 10000)
	rand.Read(raw)
	for _, eol := range []string{"\r\n", "\n"} {
		var enc bytes.Buffer
		w := NewWriter(&enc, 64, eol)
		w.Write(raw)
		w.Close()
		got, ok := DecodeLines([]byte("prefix"), enc.Bytes())
		if !ok || !bytes.Equal(got, append([]byte("prefix"), raw...)) {
			t.Fatalf("eol %q: ok %v, %d bytes", eol, ok, len(got))
		}
	}
	for _, bad := range []string{"QUJD\r\nQU*D\r\n", "QQ==\r\nQUJD\r\n", "QUJ\r\n", "QUJD \r\n"} {
		dst := []byte("keep")
		if got, ok := DecodeLines(dst, []byte(bad)); ok || string(got) != "keep" {
			t.Errorf("%q: ok %v, dst %q", bad, ok, got)
		}
	}
}

// DecodeLines agrees with encoding/base64 (which ignores CR and LF
// anywhere) on every input: the same bytes when it decodes, and it refuses
// exactly what encoding/base64 refuses.
func FuzzDecodeLines(f *testing.F) {
	raw := make([]byte, 300)
	rand.Read(raw)
	for _, n := range []int{0, 1, 2, 3, 57, 58, 300} {
		for _, eol := range []string{"\r\n", "\n"} {
			var enc bytes.Buffer
			w := NewWriter(&enc, 76, eol)
			w.Write(raw[:n])
			w.Close()
			f.Add(enc.Bytes())
		}
	}
	for _, s := range []string{"QUJD\r\nQU*D\r\n", "QQ==\r\nQUJD\r\n", "QUJ\r\n", "QUJD \r\n", "QU\r\nJD", "QR==", "Q===", "QUJD\r\r\n", "QQ==\n\n", "=QUJ"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want := make([]byte, base64.StdEncoding.DecodedLen(len(in)))
		m, err := base64.StdEncoding.Decode(want, in)
		got, ok := DecodeLines([]byte("pre"), in)
		if ok != (err == nil) {
			t.Fatalf("%q: ok %v, encoding/base64: %v", in, ok, err)
		}
		if !ok && string(got) != "pre" {
			t.Fatalf("%q: refused but dst changed to %q", in, got)
		}
		if ok && !bytes.Equal(got, append([]byte("pre"), want[:m]...)) {
			t.Fatalf("%q: decoded %x, encoding/base64 %x", in, got[3:], want[:m])
		}
	})
}

// Values gives each byte what encoding/base64 makes of it.
func TestValues(t *testing.T) {
	values := Values()
	for c := 0; c < 256; c++ {
		want := byte(0xFF)
		if c == '=' {
			want = 0xFE
		} else if d, err := base64.StdEncoding.DecodeString(string([]byte{byte(c), 'A', 'A', 'A'})); err == nil {
			want = d[0] >> 2
		}
		if values[c] != want {
			t.Errorf("Values[%q] = %#x, want %#x", byte(c), values[c], want)
		}
	}
}

package b64lines

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// stdLines is src encoded by encoding/base64 in lines of lineChars
// characters, each ended by eol: what the kernels must write.
func stdLines(src []byte, lineChars int, eol string) string {
	enc := base64.StdEncoding.EncodeToString(src)
	var b strings.Builder
	for len(enc) > 0 {
		k := min(lineChars, len(enc))
		b.WriteString(enc[:k] + eol)
		enc = enc[k:]
	}
	return b.String()
}

func needAVX2(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2 kernels here (another architecture, the purego tag, or a processor without AVX2)")
	}
}

// The decoding kernel agrees with encoding/base64 on every width it
// takes, and stops before exactly the line where any byte, put in any
// place of a line or its ending, is not what it decodes.
func TestSIMDDecodeLines(t *testing.T) {
	needAVX2(t)
	for _, width := range []int{32, 36, 44, 60, 64, 76, 96, 100} {
		for _, eol := range []string{"\n", "\r\n"} {
			const lines = 3
			raw := make([]byte, lines*width/4*3)
			rand.Read(raw)
			src := []byte(stdLines(raw, width, eol))
			out := make([]byte, len(raw)+32)
			read, written := simdDecodeLines(out, src, width, eol == "\r\n")
			if read != len(src) || written != len(raw) || !bytes.Equal(out[:written], raw) {
				t.Fatalf("width %d eol %q: read %d of %d, wrote %d of %d, equal %v", width, eol, read, len(src), written, len(raw), bytes.Equal(out[:written], raw))
			}
			lineLen := width + len(eol)
			for pos := lineLen; pos < 2*lineLen; pos++ { // every place of the second line
				for c := 0; c < 256; c++ {
					damaged := bytes.Clone(src)
					damaged[pos] = byte(c)
					for i := range out {
						out[i] = 0xAA
					}
					read, written := simdDecodeLines(out, damaged, width, eol == "\r\n")
					valid := byte(c) == src[pos] // a line ending takes only itself
					if pos < lineLen+width {
						valid = c != '=' && strings.IndexByte(alphabet, byte(c)) >= 0
					}
					want, wantRead := raw[:width/4*3], lineLen // stops before the second line
					if valid {
						want, _ = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(damaged)))
						wantRead = len(src)
					}
					if read != wantRead || written != len(want) || !bytes.Equal(out[:written], want) {
						t.Fatalf("width %d eol %q, byte %#x at %d: read %d, wrote %d (%x), want %d and %d bytes", width, eol, c, pos, read, written, out[:written], wantRead, len(want))
					}
					// A line it stops in may be partly written, but
					// nothing past the lines it may take.
					for _, b := range out[len(raw):] {
						if b != 0xAA {
							t.Fatalf("width %d eol %q, byte %#x at %d: wrote past the output's lines", width, eol, c, pos)
						}
					}
				}
			}
		}
	}
}

// The encoding kernel writes what encoding/base64 does, for widths that
// are and are not multiples of its 24-byte groups, encodes only the lines
// followed by the 8 bytes it reads past them within the capacity, and
// writes nothing past what it reports.
func TestSIMDEncodeLines(t *testing.T) {
	needAVX2(t)
	for _, lineBytes := range []int{24, 27, 33, 45, 48, 57, 72, 75, 96} {
		for _, eol := range []string{"\n", "\r\n"} {
			lineChars := lineBytes / 3 * 4
			for extra := 0; extra <= 10; extra++ {
				const lines = 4
				buf := make([]byte, lines*lineBytes+extra)
				rand.Read(buf)
				for _, src := range [][]byte{buf, buf[: lines*lineBytes : lines*lineBytes+extra]} {
					dst := bytes.Repeat([]byte{0xAA}, lines*(lineChars+len(eol))+64)
					read, written := simdEncodeLines(dst, src, lineBytes, eol)
					want := min(len(src)/lineBytes, (cap(src)-8)/lineBytes)
					if read != want*lineBytes || written != want*(lineChars+len(eol)) {
						t.Fatalf("lineBytes %d eol %q, len %d cap %d: read %d, wrote %d; want %d lines", lineBytes, eol, len(src), cap(src), read, written, want)
					}
					if got, exp := string(dst[:written]), stdLines(src[:read], lineChars, eol); got != exp {
						t.Fatalf("lineBytes %d eol %q: wrote\n%q\nencoding/base64:\n%q", lineBytes, eol, got, exp)
					}
					if len(bytes.Trim(dst[written:], "\xAA")) != 0 {
						t.Fatalf("lineBytes %d eol %q: wrote past %d", lineBytes, eol, written)
					}
				}
			}
		}
	}
}

// The Writer, whichever way it encodes, writes what encoding/base64 does
// in lines, for any input, width, line ending and size of writes.
func FuzzWriter(f *testing.F) {
	raw := make([]byte, 1000)
	rand.Read(raw)
	f.Add(raw, uint8(76), true, uint16(100))
	f.Add(raw, uint8(64), false, uint16(1000))
	f.Add(raw[:100], uint8(32), false, uint16(57))
	f.Add([]byte{}, uint8(4), true, uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, width uint8, crlf bool, chunk uint16) {
		lineChars := max(int(width)/4*4, 4)
		eol := "\n"
		if crlf {
			eol = "\r\n"
		}
		var out bytes.Buffer
		w := NewWriter(&out, int(width), eol)
		for p := data; len(p) > 0; {
			k := min(max(int(chunk), 1), len(p))
			if _, err := w.Write(p[:k]); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if want := stdLines(data, lineChars, eol); out.String() != want {
			t.Fatalf("width %d eol %q chunk %d: wrote\n%q\nencoding/base64:\n%q", width, eol, chunk, out.String(), want)
		}
	})
}

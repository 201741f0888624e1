package crlf

import (
	"bytes"
	"math/rand"
	"testing"
)

// checkExpand runs ExpandLF and checks what it wrote: the start of src
// with each LF made CRLF, no more than dst holds, and progress where a
// whole line fits.
func checkExpand(t *testing.T, dst, src []byte) {
	t.Helper()
	nd, ns := ExpandLF(dst, src)
	if ns < 0 || ns > len(src) || nd > len(dst) {
		t.Fatalf("%d bytes into %d: wrote %d, read %d", len(src), len(dst), nd, ns)
	}
	if want := bytes.ReplaceAll(src[:ns], []byte("\n"), []byte("\r\n")); !bytes.Equal(dst[:nd], want) {
		t.Fatalf("%d bytes into %d, read %d: wrote %q, want %q", len(src), len(dst), ns, dst[:nd], want)
	}
	if i := bytes.IndexByte(src[ns:], '\n'); i >= 0 && nd+i+2 <= len(dst) {
		t.Fatalf("%d bytes into %d: stopped at %d, before a line that fits", len(src), len(dst), ns)
	}
}

// ExpandLF, with the assembly and without, for every length up to a few
// blocks, at every alignment, with LF dense, sparse, absent or in runs,
// into room that is short, tight or ample.
func TestExpandLF(t *testing.T) {
	if !haveLinesAsm {
		t.Log("no assembly here: ExpandLF is the Go code")
	}
	rng := rand.New(rand.NewSource(2))
	for n := 0; n <= 300; n++ {
		for _, density := range []int{0, 3, 30, 100} {
			buf := make([]byte, n+40)
			for i := range buf {
				buf[i] = 'a' + byte(rng.Intn(26))
				if rng.Intn(100) < density {
					buf[i] = '\n'
				}
			}
			for off := 0; off < 40; off += 13 {
				src := buf[off : off+n]
				for _, room := range []int{0, 1, n / 2, n, n + 95, 2*n + 96, 2*n + 200} {
					checkExpand(t, make([]byte, room), src)
				}
			}
		}
	}
}

func FuzzExpandLF(f *testing.F) {
	f.Add(bytes.Repeat([]byte("line of text\n"), 20), uint16(300))
	f.Add(bytes.Repeat([]byte("\n"), 100), uint16(150))
	f.Fuzz(func(t *testing.T, src []byte, room uint16) {
		checkExpand(t, make([]byte, room), bytes.ReplaceAll(src, []byte("\r"), nil))
	})
}

// BenchmarkExpandLF: 256 KiB of text lines of uneven widths and of base64
// lines, with the assembly and without.
func BenchmarkExpandLF(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	var text []byte
	for len(text) < 256<<10 {
		text = append(append(text, bytes.Repeat([]byte("w"), rng.Intn(100))...), '\n')
	}
	b64 := bytes.Repeat([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n"), 256<<10/74)
	for _, c := range []struct {
		name string
		data []byte
	}{{"text", text}, {"base64", b64}} {
		dst := make([]byte, 2*len(c.data)+96)
		for _, f := range []struct {
			name string
			f    func(dst, src []byte) (int, int)
		}{{"", ExpandLF}, {"/generic", expandLines}} {
			b.Run(c.name+f.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.data)))
				for b.Loop() {
					f.f(dst, c.data)
				}
			})
		}
	}
}

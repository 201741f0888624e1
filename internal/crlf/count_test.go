package crlf

import (
	"bytes"
	"math/rand"
	"testing"
)

// countCRLF counts what bytes.Count counts, for every length up to a few
// blocks, at every alignment, with CR and LF dense, sparse or absent, and
// past the largest run it hands the assembly at once.
func TestCountCRLF(t *testing.T) {
	if !haveCountAsm {
		t.Log("no assembly here: countCRLF is bytes.Count")
	}
	rng := rand.New(rand.NewSource(1))
	alphabet := []byte("\r\n\r\nab-")
	for n := 0; n <= 300; n++ {
		for _, density := range []int{0, 1, 10, 100} {
			buf := make([]byte, n+40)
			for i := range buf {
				buf[i] = byte(rng.Intn(256))
				if density > 0 && rng.Intn(100) < density {
					buf[i] = alphabet[rng.Intn(len(alphabet))]
				}
			}
			for off := 0; off < 33; off += 8 {
				data := buf[off : off+n]
				cr, lf := countCRLF(data)
				wcr, wlf := countCRLFGeneric(data)
				if cr != wcr || lf != wlf {
					t.Fatalf("n=%d off=%d density %d: %d CR %d LF, want %d %d", n, off, density, cr, lf, wcr, wlf)
				}
			}
		}
	}
	// All CR, all LF: the byte lanes count 255 blocks before they are summed.
	for _, b := range []byte{'\r', '\n'} {
		for _, n := range []int{255 * 32, 256 * 32, 3*countRun + 77} {
			data := bytes.Repeat([]byte{b}, n)
			cr, lf := countCRLF(data)
			if wcr, wlf := countCRLFGeneric(data); cr != wcr || lf != wlf {
				t.Fatalf("%d bytes of %q: %d CR %d LF, want %d %d", n, b, cr, lf, wcr, wlf)
			}
		}
	}
}

func FuzzCountCRLF(f *testing.F) {
	f.Add([]byte("a\r\nb\rc\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, off uint8) {
		data = data[min(int(off), len(data)):]
		cr, lf := countCRLF(data)
		if wcr, wlf := countCRLFGeneric(data); cr != wcr || lf != wlf {
			t.Fatalf("%d CR %d LF, want %d %d", cr, lf, wcr, wlf)
		}
	})
}

// BenchmarkCountCRLF: 256 KiB of base64 lines, counted in one pass
// (countCRLF) and with bytes.Count twice.
func BenchmarkCountCRLF(b *testing.B) {
	line := []byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n")
	data := bytes.Repeat(line, 256<<10/len(line))
	for _, c := range []struct {
		name  string
		count func([]byte) (int, int)
	}{{"one-pass", countCRLF}, {"bytes.Count", countCRLFGeneric}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				c.count(data)
			}
		})
	}
}

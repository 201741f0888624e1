package crlf

import (
	"bytes"
	"math/rand"
	"testing"
)

// reference: CRLF line endings only, not ending in a lone CR.
func reference(b []byte) bool {
	for i, c := range b {
		switch c {
		case '\r':
			if i+1 == len(b) || b[i+1] != '\n' {
				return false
			}
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				return false
			}
		}
	}
	return true
}

func TestCheckMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	line := bytes.Repeat([]byte("Q"), 76)
	for i := 0; i < 3000; i++ {
		var in []byte
		if i%2 == 0 { // regular lines, maybe with one defect
			for n := rng.Intn(200); n > 0; n-- {
				in = append(append(in, line...), '\r', '\n')
			}
			if len(in) > 0 && rng.Intn(3) == 0 {
				in[rng.Intn(len(in))] = "\r\nx"[rng.Intn(3)]
			}
		} else { // anything
			in = make([]byte, rng.Intn(300))
			for j := range in {
				in[j] = "ab\r\n"[rng.Intn(4)]
			}
		}
		var c Check
		for rest := in; len(rest) > 0; {
			k := 1 + rng.Intn(len(rest))
			c.Write(rest[:k])
			rest = rest[k:]
		}
		if got, want := c.Canonical(), reference(in); got != want {
			t.Fatalf("%q: Canonical %v, want %v", in, got, want)
		}
		if c.Failed() && reference(in) {
			t.Fatalf("%q: failed", in)
		}
	}
}

// BenchmarkCheck: 256 KiB of base64 lines (the bulk of a message), and of
// text lines of uneven widths, with the assembly and without.
func BenchmarkCheck(b *testing.B) {
	line := []byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n")
	rng := rand.New(rand.NewSource(1))
	var text []byte
	for len(text) < 256<<10 {
		text = append(append(text, bytes.Repeat([]byte("w"), rng.Intn(100))...), '\r', '\n')
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"base64", bytes.Repeat(line, 256<<10/len(line))}, {"text", text}} {
		for _, f := range []struct {
			name string
			f    func([]byte, bool) (bool, bool)
		}{{"", checkLines}, {"/generic", checkLinesGeneric}} {
			b.Run(c.name+f.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.data)))
				for b.Loop() {
					if ok, _ := f.f(c.data, false); !ok {
						b.Fatal("not canonical")
					}
				}
			})
		}
	}
}

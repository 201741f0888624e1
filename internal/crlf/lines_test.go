package crlf

import (
	"bytes"
	"math/rand"
	"testing"
)

// linesReference is checkLines one byte at a time: every LF follows a CR
// and every CR is followed by a LF (or is the last byte).
func linesReference(data []byte, prevCR bool) (ok, endsCR bool) {
	for _, b := range data {
		if (b == '\n') != prevCR {
			return false, false
		}
		prevCR = b == '\r'
	}
	return true, prevCR
}

// checkLines and checkLinesGeneric answer as the reference does, for
// every length up to a few blocks, at every alignment, with CR and LF
// dense, sparse or absent, in pairs or not, after a CR or not, and past
// the largest run checkLines hands the assembly at once.
func TestCheckLines(t *testing.T) {
	if !haveLinesAsm {
		t.Log("no assembly here: checkLines is checkLinesGeneric")
	}
	check := func(t *testing.T, data []byte, prevCR bool, what string) {
		t.Helper()
		wok, wcr := linesReference(data, prevCR)
		for _, f := range []struct {
			name string
			f    func([]byte, bool) (bool, bool)
		}{{"checkLines", checkLines}, {"checkLinesGeneric", checkLinesGeneric}} {
			if ok, cr := f.f(data, prevCR); ok != wok || ok && cr != wcr {
				t.Fatalf("%s, %s, after CR %v: %v %v, want %v %v", f.name, what, prevCR, ok, cr, wok, wcr)
			}
		}
	}
	rng := rand.New(rand.NewSource(1))
	for n := 0; n <= 300; n++ {
		for _, density := range []int{0, 1, 10, 100} {
			buf := make([]byte, n+40)
			for i := range buf {
				buf[i] = byte(rng.Intn(256))
				if density > 0 && rng.Intn(100) < density {
					buf[i] = "\r\n\r\nab-"[rng.Intn(7)]
				}
			}
			// Mostly good lines: each LF given its CR, then perhaps one
			// ending broken.
			good := bytes.ReplaceAll(bytes.ReplaceAll(buf, []byte("\r"), []byte("x")), []byte("\n"), []byte("\r\n"))[:len(buf)]
			if rng.Intn(2) == 0 {
				good[rng.Intn(len(good))] = "\r\n"[rng.Intn(2)]
			}
			for off := 0; off < 33; off += 8 {
				for _, prevCR := range []bool{false, true} {
					check(t, buf[off:off+n], prevCR, "random")
					check(t, good[off:off+n], prevCR, "lines")
				}
			}
		}
	}
	// Long runs, with one fault placed at each side of a run's edge.
	long := bytes.Repeat([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"), 3*asmRun/74+1)
	check(t, long, false, "long")
	for _, at := range []int{asmRun - 1, asmRun, asmRun + 1, 2*asmRun + 31, len(long) - 1} {
		for _, b := range []byte{'\r', '\n', 'x'} {
			bad := bytes.Clone(long)
			bad[at] = b
			check(t, bad, false, "long, one byte changed")
		}
	}
}

func FuzzCheckLines(f *testing.F) {
	f.Add([]byte("a\r\nb\rc\n"), uint8(3), false)
	f.Add(bytes.Repeat([]byte("ab\r\n"), 40), uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, off uint8, prevCR bool) {
		data = data[min(int(off), len(data)):]
		wok, wcr := linesReference(data, prevCR)
		if ok, cr := checkLines(data, prevCR); ok != wok || ok && cr != wcr {
			t.Fatalf("%v %v, want %v %v", ok, cr, wok, wcr)
		}
	})
}

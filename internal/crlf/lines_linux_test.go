//go:build linux

package crlf

import (
	"math/rand"
	"syscall"
	"testing"
)

// guardedPages returns n pages of memory, each with an unmapped page
// before and after it, unmapped when the test ends.
func guardedPages(t *testing.T, n int) [][]byte {
	t.Helper()
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, (2*n+1)*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	var pages [][]byte
	for p := 0; p <= 2*n; p++ {
		if p%2 == 1 {
			pages = append(pages, mem[p*ps:(p+1)*ps])
		} else if err := syscall.Mprotect(mem[p*ps:(p+1)*ps], syscall.PROT_NONE); err != nil {
			t.Fatal(err)
		}
	}
	return pages
}

// checkLines reads nothing past the end of data, nor before its start:
// every length up to a few blocks, against an unmapped page on each side.
func TestCheckLinesBounds(t *testing.T) {
	page := guardedPages(t, 1)[0]
	for i := range page {
		page[i] = "ab\r\n"[i%4]
	}
	for n := 0; n <= 200; n++ {
		for _, data := range [][]byte{page[:n], page[len(page)-n:]} {
			for _, prevCR := range []bool{false, true} {
				wok, wcr := linesReference(data, prevCR)
				if ok, cr := checkLines(data, prevCR); ok != wok || ok && cr != wcr {
					t.Fatalf("n=%d: %v %v, want %v %v", n, ok, cr, wok, wcr)
				}
			}
		}
	}
}

// ExpandLF reads nothing past the end of src, nor before its start, and
// writes nothing past the end of dst: both against unmapped pages.
func TestExpandLFBounds(t *testing.T) {
	pages := guardedPages(t, 2)
	srcPage, dstPage := pages[0], pages[1]
	for i := range srcPage {
		srcPage[i] = "ab\ncd\n\n"[i%7]
	}
	for n := 0; n <= 300; n++ {
		for _, src := range [][]byte{srcPage[:n], srcPage[len(srcPage)-n:]} {
			for _, room := range []int{n, 2*n + 96, 2*n + 200} {
				room = min(room, len(dstPage))
				for _, dst := range [][]byte{dstPage[:room], dstPage[len(dstPage)-room:]} {
					checkExpand(t, dst, src)
				}
			}
		}
	}
}

// As TestExpandLFBounds, with the contents that reach the assembly's
// extremes (a review found the pattern above never did): a block whose
// last byte is a LF (the rest of the block is then loaded from 32 bytes
// further, the read that reaches src+64), a block of LFs only (the
// 96-byte write), and random densities; src against a guard page after
// it, dst against one after it, every length and every room near the
// limits.
func TestExpandLFBoundsExtremes(t *testing.T) {
	pages := guardedPages(t, 2)
	srcPage, dstPage := pages[0], pages[1]
	rng := rand.New(rand.NewSource(9))
	fillers := []func(b []byte){
		func(b []byte) { // all LF
			for i := range b {
				b[i] = '\n'
			}
		},
		func(b []byte) { // LF every 32nd byte, at each phase
			ph := rng.Intn(32)
			for i := range b {
				b[i] = 'a'
				if i%32 == ph {
					b[i] = '\n'
				}
			}
		},
		func(b []byte) { // random density
			d := rng.Intn(101)
			for i := range b {
				b[i] = 'a'
				if rng.Intn(100) < d {
					b[i] = '\n'
				}
			}
		},
	}
	for n := 64; n <= 200; n++ {
		for _, fill := range fillers {
			for rep := 0; rep < 4; rep++ {
				src := srcPage[len(srcPage)-n:]
				fill(src)
				for room := 96; room <= 2*n+100; room++ {
					dst := dstPage[len(dstPage)-room:]
					checkExpand(t, dst, src)
				}
			}
		}
	}
}

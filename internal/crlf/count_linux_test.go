//go:build linux

package crlf

import (
	"syscall"
	"testing"
)

// countCRLF reads nothing past the end of data, nor before its start:
// every length up to a few blocks, against an unmapped page on each side.
func TestCountCRLFBounds(t *testing.T) {
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[:ps], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[2*ps:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	page := mem[ps : 2*ps]
	for i := range page {
		page[i] = "\r\nx"[i%3]
	}
	for n := 0; n <= 200; n++ {
		for _, data := range [][]byte{page[:n], page[len(page)-n:]} {
			cr, lf := countCRLF(data)
			if wcr, wlf := countCRLFGeneric(data); cr != wcr || lf != wlf {
				t.Fatalf("n=%d: %d CR %d LF, want %d %d", n, cr, lf, wcr, wlf)
			}
		}
	}
}

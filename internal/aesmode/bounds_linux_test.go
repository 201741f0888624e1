//go:build linux

package aesmode

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns an n-byte slice ending right before a PROT_NONE page,
// or with low starting right after one, so that any read or write past
// its end (before its start) faults.
func guarded(t *testing.T, n int, low bool) []byte {
	b, free := guardedFree(t, n, low)
	t.Cleanup(free)
	return b
}

// guardedFree is guarded, with the function that unmaps it (a test that
// makes thousands of them unmaps as it goes: each is two mappings, and a
// process may have 65,530).
func guardedFree(t *testing.T, n int, low bool) ([]byte, func()) {
	ps := syscall.Getpagesize()
	size := (n+ps-1)/ps*ps + ps
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	free := func() { syscall.Munmap(mem) }
	if low {
		if err := syscall.Mprotect(mem[:ps], syscall.PROT_NONE); err != nil {
			t.Fatal(err)
		}
		return mem[ps : ps+n : ps+n], free
	}
	if err := syscall.Mprotect(mem[size-ps:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return mem[size-ps-n : size-ps : size-ps], free
}

// TestBounds runs the assembly on buffers that end at a guard page, and on
// buffers that start right after one, for every key size and every length
// up to 40 blocks (the 256-bit key stream's 16 blocks, the 128-bit one's 8
// and single blocks after them), with ks, ct, src and dst each against
// the page; CFB and CTR.
func TestBounds(t *testing.T) {
	for _, kl := range []int{16, 24, 32} {
		key := bytes.Repeat([]byte{byte(kl)}, kl)
		block, _ := aes.NewCipher(key)
		for name, c := range ciphers(t, key) {
			for i := 0; i <= 2*(40*BlockSize+1)+1; i++ {
				n, low := i/2, i%2 == 1
				var frees []func()
				guarded := func(t *testing.T, n int) []byte {
					b, free := guardedFree(t, n, low)
					frees = append(frees, free)
					return b
				}
				src := guarded(t, n)
				for i := range src {
					src[i] = byte(i)
				}
				iv := make([]byte, BlockSize)
				want := make([]byte, n)
				cipher.NewCFBEncrypter(block, iv).XORKeyStream(want, src)
				dst := guarded(t, n)
				c.NewEncrypter(iv).XORKeyStream(dst, src) // not in place
				if !bytes.Equal(dst, want) {
					t.Fatalf("%s AES-%d n=%d: encryption differs", name, kl*8, n)
				}
				ct := guarded(t, n)
				copy(ct, want)
				ks := guarded(t, n)
				var prev [BlockSize]byte
				c.KeyStream(ks, ct, &prev)
				if !bytes.Equal(xor(ct, ks), src) {
					t.Fatalf("%s AES-%d n=%d: decryption differs", name, kl*8, n)
				}
				// CTR, from a block edge and from inside a block.
				for _, off := range []uint64{0, 5} {
					var ctr [BlockSize]byte
					ref := cipher.NewCTR(block, ctr[:])
					ref.XORKeyStream(make([]byte, off), make([]byte, off))
					ref.XORKeyStream(want, src)
					c.XORKeyStreamAt(dst, src, &ctr, off)
					if !bytes.Equal(dst, want) {
						t.Fatalf("%s AES-%d n=%d off=%d: CTR differs", name, kl*8, n, off)
					}
				}
				for _, free := range frees {
					free()
				}
			}
		}
	}
}

// TestPartialWritesNotInPlace: the encrypter's partial-block path with
// dst != src (every other test encrypts in place).
func TestPartialWritesNotInPlace(t *testing.T) {
	for _, kl := range []int{16, 24, 32} {
		key := bytes.Repeat([]byte{3}, kl)
		block, _ := aes.NewCipher(key)
		src := make([]byte, 1000)
		for i := range src {
			src[i] = byte(i * 7)
		}
		iv := make([]byte, BlockSize)
		want := make([]byte, len(src))
		cipher.NewCFBEncrypter(block, iv).XORKeyStream(want, src)
		for name, c := range ciphers(t, key) {
			for _, w := range []int{1, 5, 15, 17, 33, 200} {
				e := c.NewEncrypter(iv)
				dst := make([]byte, len(src))
				for i := 0; i < len(src); i += w {
					j := min(i+w, len(src))
					e.XORKeyStream(dst[i:j], src[i:j])
				}
				if !bytes.Equal(dst, want) {
					t.Fatalf("%s AES-%d writes of %d: differs", name, kl*8, w)
				}
			}
		}
	}
}

// The assembly does nothing when given no groups: it neither reads nor
// writes (the buffers are empty, between guard pages).
func TestAssemblyNoGroups(t *testing.T) {
	c, err := New(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	if c.rounds == 0 {
		t.Skip("no assembly here")
	}
	var prev [BlockSize]byte
	for _, low := range []bool{false, true} {
		a, b := guarded(t, 0, low), guarded(t, 0, low)
		p, q := unsafe.SliceData(a[:0:0]), unsafe.SliceData(b[:0:0])
		keyStream8AESNI(c.rounds, &c.xk[0], &prev[0], p, q, 0)
		encryptBlocksAESNI(c.rounds, &c.xk[0], &prev[0], p, q, 0)
		if c.xk2 != nil {
			keyStream16VAES(c.rounds, &c.xk2[0], &prev[0], p, q, 0)
			ctr16VAES(c.rounds, &c.xk2[0], 0, 0, p, q, 0)
		}
	}
}

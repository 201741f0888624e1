//go:build linux

package aesmode

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"syscall"
	"testing"
)

// guarded returns an n-byte slice ending right before a PROT_NONE page, so
// that any read or write past its end faults.
func guarded(t *testing.T, n int) []byte {
	ps := syscall.Getpagesize()
	size := (n+ps-1)/ps*ps + ps
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size-ps:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	return mem[size-ps-n : size-ps : size-ps]
}

// TestBounds runs the assembly on buffers that end at a guard page, for
// every key size and every length up to 40 blocks (the 256-bit key
// stream's 16 blocks, the 128-bit one's 8 and single blocks after them),
// with ks, ct, src and dst each ending at the page; CFB and CTR.
func TestBounds(t *testing.T) {
	for _, kl := range []int{16, 24, 32} {
		key := bytes.Repeat([]byte{byte(kl)}, kl)
		block, _ := aes.NewCipher(key)
		for name, c := range ciphers(t, key) {
			for n := 0; n <= 40*BlockSize+1; n++ {
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

//go:build amd64 && !purego

package aesmode

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"
	"unsafe"
)

// The assembly reads round keys from memory with VEX-encoded
// instructions, which do not need 16-byte alignment: with xk at every
// 4-byte offset it encrypts as crypto/cipher does (a legacy-SSE AESENC
// with a memory operand faulted on the offsets that are not multiples of
// 16; the allocator happened to align xk, so no other test saw it).
// Every key size.
func TestUnalignedRoundKeys(t *testing.T) {
	for _, size := range []int{16, 24, 32} {
		checkUnalignedRoundKeys(t, bytes.Repeat([]byte{7}, size))
	}
}

func checkUnalignedRoundKeys(t *testing.T, key []byte) {
	c, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	if c.rounds == 0 {
		t.Skip("no assembly here")
	}
	for shift := 0; shift < 4; shift++ {
		buf := make([]uint32, len(c.xk)+8)
		// first element at an address that is shift*4 mod 16
		start := 0
		for uintptr(unsafe.Pointer(&buf[start]))%16 != uintptr(shift*4) {
			start++
		}
		xk := buf[start : start+len(c.xk)]
		copy(xk, c.xk)
		u := &Cipher{block: c.block, rounds: c.rounds, xk: xk}
		src := bytes.Repeat([]byte("0123456789abcdef"), 4)
		iv := make([]byte, BlockSize)
		want := make([]byte, len(src))
		blk, _ := aes.NewCipher(key)
		cipher.NewCFBEncrypter(blk, iv).XORKeyStream(want, src)
		got := make([]byte, len(src))
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("xk at %d mod 16: %v", shift*4, r)
				}
			}()
			u.NewEncrypter(iv).XORKeyStream(got, src)
			if !bytes.Equal(got, want) {
				t.Errorf("xk at %d mod 16: wrong ciphertext", shift*4)
			}
		}()
	}
}

package aesmode

import (
	"crypto/cipher"
	"encoding/binary"
	"math"
)

// XORKeyStreamAt XORs src into dst with AES's CTR key stream (NIST SP
// 800-38A, section 6.5) from the initial counter block iv (a 128-bit
// big-endian number, incremented by one a block), starting off bytes into
// the stream: what cipher.NewCTR(block, iv) gives after off bytes were
// discarded. dst may be src itself but must not overlap it otherwise; it
// panics if dst is shorter than src.
//
// Where the processor has 256-bit VAES, sixteen blocks at a time go
// through the rounds side by side; elsewhere, crypto/cipher's CTR (with
// crypto/aes's own assembly on processors with AES-NI) does all of it.
func (c *Cipher) XORKeyStreamAt(dst, src []byte, iv *[BlockSize]byte, off uint64) {
	if len(dst) < len(src) {
		panic("aesmode: output smaller than input")
	}
	if inexactOverlap(dst[:len(src)], src) {
		panic("aesmode: invalid buffer overlap")
	}
	dst = dst[:len(src)]
	hi, lo := binary.BigEndian.Uint64(iv[:8]), binary.BigEndian.Uint64(iv[8:])
	add := func(n uint64) { // the counter block n blocks on, modulo 2^128
		var carry uint64
		if lo+n < lo {
			carry = 1
		}
		lo += n
		hi += carry
	}
	add(off / BlockSize)
	if skip := int(off % BlockSize); skip > 0 {
		n := min(len(src), BlockSize-skip)
		var pad [BlockSize]byte
		copy(pad[skip:], src[:n])
		c.generic(pad[:], pad[:], hi, lo)
		copy(dst, pad[skip:skip+n])
		dst, src = dst[n:], src[n:]
		add(1)
	}
	for c.xk2 != nil && len(src) >= 16*BlockSize {
		// Runs of whole groups in which the low half does not wrap, at
		// most maxRun bytes a call.
		groups := uint64(min(len(src), maxRun) / (16 * BlockSize))
		if room := math.MaxUint64 - lo; room < groups*16 {
			groups = room / 16 // what is left before the wrap goes below
			if groups == 0 {
				break
			}
		}
		asmCalls.Called(int(groups) * 16 * BlockSize)
		ctr16VAES(c.rounds, &c.xk2[0], lo, hi, &dst[0], &src[0], int(groups))
		n := int(groups) * 16 * BlockSize
		dst, src = dst[n:], src[n:]
		add(groups * 16)
	}
	if len(src) > 0 {
		c.generic(dst, src, hi, lo)
	}
}

// generic is XORKeyStreamAt through crypto/cipher, from counter block hi:lo.
func (c *Cipher) generic(dst, src []byte, hi, lo uint64) {
	var ctr [BlockSize]byte
	binary.BigEndian.PutUint64(ctr[:8], hi)
	binary.BigEndian.PutUint64(ctr[8:], lo)
	cipher.NewCTR(c.block, ctr[:]).XORKeyStream(dst, src)
}

// Block is the key as a cipher.Block (crypto/aes's), for what this
// package does not do.
func (c *Cipher) Block() cipher.Block { return c.block }

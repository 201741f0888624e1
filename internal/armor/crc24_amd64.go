//go:build !purego

package armor

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/cpu"

	"github.com/mailseal/mailseal/internal/asmrun"
)

// haveCLMUL says whether this processor runs crc24FoldCLMUL.
var haveCLMUL = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSSE3 && cpu.X86.HasSSE41

//go:noescape
func crc24FoldCLMUL(first *[16]byte, p *byte, blocks int, k *[8]uint64) (hi, lo uint64)

// crc24FoldKeys are x^n modulo the CRC-24 polynomial for n = 128, 192,
// ..., 576 (crc24FoldCLMUL's k).
var crc24FoldKeys = sync.OnceValue(func() *[8]uint64 {
	var k [8]uint64
	for i := range k {
		k[i] = xPowMod(128 + 64*i)
	}
	return &k
})

// crc24Blocks folds the leading whole 16-byte blocks of p into crc with
// carry-less multiplication and returns the new crc and how many bytes it
// took: none without PCLMULQDQ or for less than 64 bytes. The register
// crc is XORed into the first three bytes (what it adds to the message),
// the blocks folded into 128 bits congruent to the message, and those
// 16 bytes taken through the table code from a zero register.
//
//go:noinline
func crc24Blocks(crc uint32, p []byte) (uint32, int) {
	if !haveCLMUL || len(p) < 64 {
		return crc, 0
	}
	asmCalls.Called(len(p))
	n := len(p) &^ 15
	var first [16]byte
	copy(first[:], p)
	first[0] ^= byte(crc >> 16)
	first[1] ^= byte(crc >> 8)
	first[2] ^= byte(crc)
	hi, lo := crc24FoldCLMUL(&first, &p[16], n/16-1, crc24FoldKeys())
	var r [16]byte
	binary.BigEndian.PutUint64(r[:8], hi)
	binary.BigEndian.PutUint64(r[8:], lo)
	return crc24Table(0, r[:]), n
}

// asmCalls is told the bytes of each call of the assembly
// (TestCRC24Runs).
var asmCalls asmrun.Hook

//go:build !purego

package aesmode

import (
	"sync"

	"golang.org/x/sys/cpu"
)

// haveAESNI says whether this processor runs the assembly: AES-NI, and AVX
// for the VEX-encoded instructions that read unaligned memory.
var haveAESNI = cpu.X86.HasAES && cpu.X86.HasAVX

//go:noescape
func encryptBlocksAESNI(rounds int, xk *uint32, reg *byte, dst, src *byte, blocks int)

//go:noescape
func keyStream8AESNI(rounds int, xk *uint32, prev, ct, ks *byte, groups int)

//go:noescape
func subWordAESNI(w uint32) uint32

//go:noescape
func keyStream16VAES(rounds int, xk2 *uint32, prev, ct, ks *byte, groups int)

func cpuid7ecx() uint32

// haveVAES says whether this processor has 256-bit VAES (and AVX2, with
// the operating system saving the YMM registers). It is asked on first
// use: CPUID is slow in a virtual machine, and most runs use no AES here.
var haveVAES = sync.OnceValue(func() bool {
	return haveAESNI && cpu.X86.HasAVX2 && cpuid7ecx()&(1<<9) != 0
})

//go:noescape
func ctr16VAES(rounds int, xk2 *uint32, lo, hi uint64, dst, src *byte, groups int)

//go:build !purego

package aescfb

import "golang.org/x/sys/cpu"

// haveAESNI says whether this processor runs the assembly: AES-NI, and AVX
// for the VEX-encoded instructions that read unaligned memory.
var haveAESNI = cpu.X86.HasAES && cpu.X86.HasAVX

//go:noescape
func encryptBlocksAESNI(rounds int, xk *uint32, reg *byte, dst, src *byte, blocks int)

//go:noescape
func keyStream8AESNI(rounds int, xk *uint32, prev, ct, ks *byte, groups int)

//go:noescape
func subWordAESNI(w uint32) uint32

//go:build !purego

#include "textflag.h"

// func crc24FoldCLMUL(first *[16]byte, p *byte, blocks int, k *[2]uint64) (hi, lo uint64)
//
// Folds the 16 bytes at first, then blocks blocks of 16 bytes at p, into
// a 128-bit polynomial congruent to them (read most significant bit
// first) modulo the CRC-24 polynomial: R = R*x^128 + B, with R*x^128
// taken as R.hi*(x^192 mod P) + R.lo*(x^128 mod P), k[1] and k[0].
TEXT ·crc24FoldCLMUL(SB), NOSPLIT, $0-48
	MOVQ  first+0(FP), AX
	MOVQ  p+8(FP), SI
	MOVQ  blocks+16(FP), CX
	MOVQ  k+24(FP), DX
	MOVOU bswap16<>(SB), X14
	MOVOU (DX), X13
	MOVOU (AX), X0
	PSHUFB X14, X0           // byte 0 in the top byte: bit 127 is x^127

loop:
	TESTQ CX, CX
	JZ    done
	MOVOU (SI), X1
	PSHUFB X14, X1
	MOVO  X0, X2
	PCLMULQDQ $0x11, X13, X0 // R.hi * (x^192 mod P)
	PCLMULQDQ $0x00, X13, X2 // R.lo * (x^128 mod P)
	PXOR  X2, X0
	PXOR  X1, X0
	ADDQ  $16, SI
	DECQ  CX
	JMP   loop

done:
	PEXTRQ $1, X0, AX
	MOVQ   X0, BX
	MOVQ   AX, hi+32(FP)
	MOVQ   BX, lo+40(FP)
	RET

// bswap16 reverses the 16 bytes of a register (PSHUFB).
DATA bswap16<>+0x00(SB)/8, $0x08090A0B0C0D0E0F
DATA bswap16<>+0x08(SB)/8, $0x0001020304050607
GLOBL bswap16<>(SB), RODATA|NOPTR, $16

//go:build !purego

#include "textflag.h"

// func crc24FoldCLMUL(first *[16]byte, p *byte, blocks int, k *[8]uint64) (hi, lo uint64)
//
// Folds the 16 bytes at first, then blocks blocks of 16 bytes at p, into
// a 128-bit polynomial congruent to them (read most significant bit
// first) modulo the CRC-24 polynomial. One block at a time that is
// R = R*x^128 + B, with R*x^128 taken as R.hi*(x^192 mod P) +
// R.lo*(x^128 mod P). Each step waits for the multiplication before it,
// so while four blocks or more are left, four registers take alternate
// blocks (R_j = R_j*x^512 + B) and are joined at the end (R_0*x^384 +
// R_1*x^256 + R_2*x^128 + R_3). k holds x^n mod P for n = 128, 192, 256,
// 320, 384, 448, 512 and 576.
TEXT ·crc24FoldCLMUL(SB), NOSPLIT, $0-48
	MOVQ   first+0(FP), AX
	MOVQ   p+8(FP), SI
	MOVQ   blocks+16(FP), CX
	MOVQ   k+24(FP), DX
	MOVOU  bswap16<>(SB), X14
	MOVOU  (DX), X13         // x^128, x^192
	MOVOU  (AX), X0
	PSHUFB X14, X0           // byte 0 in the top byte: bit 127 is x^127
	CMPQ   CX, $7
	JB     loop              // fewer than eight blocks in all: one register

	// Four registers: the first block and the next three.
	MOVOU  (SI), X1
	MOVOU  16(SI), X2
	MOVOU  32(SI), X3
	PSHUFB X14, X1
	PSHUFB X14, X2
	PSHUFB X14, X3
	ADDQ   $48, SI
	SUBQ   $3, CX
	MOVOU  48(DX), X12       // x^512, x^576

// FOLD4(R, T, B, off): R = R*x^512 + the block at off(SI).
#define FOLD4(R, T, B, off) \
	MOVOU     off(SI), B     \
	PSHUFB    X14, B         \
	MOVO      R, T           \
	PCLMULQDQ $0x11, X12, R  \
	PCLMULQDQ $0x00, X12, T  \
	PXOR      T, R           \
	PXOR      B, R

loop4:
	CMPQ CX, $4
	JB   join
	FOLD4(X0, X4, X8, 0)
	FOLD4(X1, X5, X9, 16)
	FOLD4(X2, X6, X10, 32)
	FOLD4(X3, X7, X11, 48)
	ADDQ $64, SI
	SUBQ $4, CX
	JMP  loop4

// MULK(R, T, K): R = R*x^n by the key pair K (x^n, x^(n+64)).
#define MULK(R, T, K) \
	MOVO      R, T    \
	PCLMULQDQ $0x11, K, R \
	PCLMULQDQ $0x00, K, T \
	PXOR      T, R

join:
	MOVOU 32(DX), X8         // x^384, x^448
	MOVOU 16(DX), X9         // x^256, x^320
	MULK(X0, X4, X8)
	MULK(X1, X5, X9)
	MULK(X2, X6, X13)
	PXOR  X1, X0
	PXOR  X2, X0
	PXOR  X3, X0

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

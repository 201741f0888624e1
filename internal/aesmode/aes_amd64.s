//go:build !purego

#include "textflag.h"

// Round keys are read from memory with VEX-encoded instructions, which do
// not need 16-byte alignment.

// func encryptBlocksAESNI(rounds int, xk *uint32, reg *byte, dst, src *byte, blocks int)
//
// CFB encryption of blocks whole blocks: each block's key stream is the
// AES encryption of reg (the ciphertext block before it), its ciphertext
// is the key stream XOR its plaintext, and that becomes reg. rounds is 10,
// 12 or 14 and xk holds rounds+1 round keys in memory order; reg is
// updated. dst and src may be the same. Each block waits for the one
// before: this is latency-bound, so the round keys are kept in registers
// and the chain holds nothing but the rounds. X0 holds the next block's
// input already XORed with round key 0 (K0); the last round's key is
// taken as Klast XOR K0 XOR the plaintext block (worked out beside the
// rounds), so that AESENCLAST gives the ciphertext block XOR K0, the next
// input, at once, and the ciphertext is that XOR K0, off the chain.
TEXT ·encryptBlocksAESNI(SB), NOSPLIT, $0-48
	VZEROUPPER // no dirty upper halves while legacy SSE and VEX instructions mix
	MOVQ rounds+0(FP), CX
	MOVQ xk+8(FP), AX
	MOVQ reg+16(FP), DX
	MOVQ dst+24(FP), DI
	MOVQ src+32(FP), SI
	MOVQ blocks+40(FP), BX
	MOVUPS (DX), X0
	MOVUPS 0(AX), X1  // K0
	PXOR   X1, X0
	// K1 is read from memory (VEX-encoded: no alignment needed), to leave
	// X2 for the plaintext block.
	MOVUPS 32(AX), X3
	MOVUPS 48(AX), X4
	MOVUPS 64(AX), X5
	MOVUPS 80(AX), X6
	MOVUPS 96(AX), X7
	MOVUPS 112(AX), X8
	MOVUPS 128(AX), X9
	MOVUPS 144(AX), X10
	CMPQ   CX, $12
	JB     key10
	MOVUPS 160(AX), X11
	MOVUPS 176(AX), X12
	JE     key12
	MOVUPS 192(AX), X13
	MOVUPS 208(AX), X14
	MOVUPS 224(AX), X15
	JMP    keylast

key10:
	MOVUPS 160(AX), X15
	JMP    keylast

key12:
	MOVUPS 192(AX), X15

keylast:
	PXOR X1, X15 // Klast XOR K0
	CMPQ CX, $12
	JB   enc10
	JE   enc12
	JMP  enc14

// The plaintext block XOR Klast XOR K0 into X2, then rounds 1-9 of X0.
#define CFB_FIRST_ROUNDS \
	MOVUPS (SI), X2     \
	PXOR   X15, X2      \
	VAESENC 16(AX), X0, X0 \
	AESENC X3, X0       \
	AESENC X4, X0       \
	AESENC X5, X0       \
	AESENC X6, X0       \
	AESENC X7, X0       \
	AESENC X8, X0       \
	AESENC X9, X0       \
	AESENC X10, X0

// The last round gives the ciphertext block XOR K0 (the next input); the
// ciphertext block is stored; on to the next block.
#define CFB_LAST_STORE_NEXT \
	AESENCLAST X2, X0 \
	MOVO   X0, X2     \
	PXOR   X1, X2     \
	MOVUPS X2, (DI)   \
	ADDQ   $16, SI    \
	ADDQ   $16, DI    \
	DECQ   BX

enc10:
	TESTQ BX, BX
	JE    encdone
	CFB_FIRST_ROUNDS
	CFB_LAST_STORE_NEXT
	JMP   enc10

enc12:
	TESTQ BX, BX
	JE    encdone
	CFB_FIRST_ROUNDS
	AESENC X11, X0
	AESENC X12, X0
	CFB_LAST_STORE_NEXT
	JMP   enc12

enc14:
	TESTQ BX, BX
	JE    encdone
	CFB_FIRST_ROUNDS
	AESENC X11, X0
	AESENC X12, X0
	AESENC X13, X0
	AESENC X14, X0
	CFB_LAST_STORE_NEXT
	JMP   enc14

encdone:
	PXOR   X1, X0 // the last ciphertext block
	MOVUPS X0, (DX)
	VZEROUPPER
	RET

// op (VAESENC or VAESENCLAST) with the round key at off(AX) on each of
// eight registers.
#define ON8(op, off, r0, r1, r2, r3, r4, r5, r6, r7) \
	op off(AX), r0, r0 \
	op off(AX), r1, r1 \
	op off(AX), r2, r2 \
	op off(AX), r3, r3 \
	op off(AX), r4, r4 \
	op off(AX), r5, r5 \
	op off(AX), r6, r6 \
	op off(AX), r7, r7

// One AES round (the last) of the eight blocks in X0-X7 with the round key
// at off(AX).
#define ROUND8(off) ON8(VAESENC, off, X0, X1, X2, X3, X4, X5, X6, X7)
#define LAST8(off) ON8(VAESENCLAST, off, X0, X1, X2, X3, X4, X5, X6, X7)

// func keyStream8AESNI(rounds int, xk *uint32, prev, ct, ks *byte, groups int)
//
// The CFB decryption key stream of groups*8 whole ciphertext blocks at ct:
// block i's is the AES encryption of the ciphertext block before it, ct
// block i-1, or prev for the first. The blocks are independent, so eight
// go through the rounds side by side. ks must not overlap ct.
TEXT ·keyStream8AESNI(SB), NOSPLIT, $0-48
	VZEROUPPER
	MOVQ   rounds+0(FP), CX
	MOVQ   xk+8(FP), AX
	MOVQ   prev+16(FP), DX
	MOVQ   ct+24(FP), SI
	MOVQ   ks+32(FP), DI
	MOVQ   groups+40(FP), BX
	MOVUPS (AX), X8
	MOVUPS (DX), X0

ks8loop:
	TESTQ  BX, BX
	JE     ks8done
	MOVUPS 0(SI), X1
	MOVUPS 16(SI), X2
	MOVUPS 32(SI), X3
	MOVUPS 48(SI), X4
	MOVUPS 64(SI), X5
	MOVUPS 80(SI), X6
	MOVUPS 96(SI), X7
	PXOR   X8, X0
	PXOR   X8, X1
	PXOR   X8, X2
	PXOR   X8, X3
	PXOR   X8, X4
	PXOR   X8, X5
	PXOR   X8, X6
	PXOR   X8, X7
	ROUND8(16)
	ROUND8(32)
	ROUND8(48)
	ROUND8(64)
	ROUND8(80)
	ROUND8(96)
	ROUND8(112)
	ROUND8(128)
	ROUND8(144)
	CMPQ   CX, $12
	JB     ks8last10
	ROUND8(160)
	ROUND8(176)
	JE     ks8last12
	ROUND8(192)
	ROUND8(208)
	LAST8(224)
	JMP    ks8store

ks8last10:
	LAST8(160)
	JMP ks8store

ks8last12:
	LAST8(192)

ks8store:
	MOVUPS X0, 0(DI)
	MOVUPS X1, 16(DI)
	MOVUPS X2, 32(DI)
	MOVUPS X3, 48(DI)
	MOVUPS X4, 64(DI)
	MOVUPS X5, 80(DI)
	MOVUPS X6, 96(DI)
	MOVUPS X7, 112(DI)
	MOVUPS 112(SI), X0
	ADDQ   $128, SI
	ADDQ   $128, DI
	DECQ   BX
	JMP    ks8loop

ks8done:
	VZEROUPPER
	RET

// func subWordAESNI(w uint32) uint32
//
// AES's SubWord: the S-box applied to each byte of w. AESENCLAST with a
// zero round key is ShiftRows(SubBytes(state)); with w in all four columns
// ShiftRows moves nothing, so any column is SubWord(w). No table is read,
// so the time does not depend on w (the key, during key expansion).
TEXT ·subWordAESNI(SB), NOSPLIT, $0-12
	MOVL       w+0(FP), AX
	MOVL       AX, X0
	PSHUFD     $0, X0, X0
	PXOR       X1, X1
	AESENCLAST X1, X0
	MOVL       X0, AX
	MOVL       AX, ret+8(FP)
	RET

// func cpuid7ecx() uint32
//
// ECX of CPUID leaf 7, subleaf 0 (bit 9: VAES), which golang.org/x/sys/cpu
// reports only on processors with AVX-512.
TEXT ·cpuid7ecx(SB), NOSPLIT, $0-4
	MOVL $7, AX
	MOVL $0, CX
	CPUID
	MOVL CX, ret+0(FP)
	RET

// One AES round (the last) of the sixteen blocks in Y0-Y7 (two to a
// register) with the round key, doubled, at off(AX).
#define ROUND16(off) ON8(VAESENC, off, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
#define LAST16(off) ON8(VAESENCLAST, off, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)

// Y0-Y7 to the group at DI, then on to the next group at loop.
#define STORE16_NEXT(loop) \
	VMOVDQU Y0, 0(DI) \
	VMOVDQU Y1, 32(DI) \
	VMOVDQU Y2, 64(DI) \
	VMOVDQU Y3, 96(DI) \
	VMOVDQU Y4, 128(DI) \
	VMOVDQU Y5, 160(DI) \
	VMOVDQU Y6, 192(DI) \
	VMOVDQU Y7, 224(DI) \
	ADDQ    $256, SI \
	ADDQ    $256, DI \
	DECQ    BX \
	JMP     loop

// AES of the sixteen blocks in Y0-Y7: the first round key (doubled) in Y8,
// the rest at 32(AX) on, by the count in CX (10, 12 or 14). The results
// are in Y0-Y7 at the label out, which follows the macro; l10 and l12 are
// labels of the caller's for the macro's own use.
#define ENCRYPT16(l10, l12, out) \
	VPXOR  Y8, Y0, Y0 \
	VPXOR  Y8, Y1, Y1 \
	VPXOR  Y8, Y2, Y2 \
	VPXOR  Y8, Y3, Y3 \
	VPXOR  Y8, Y4, Y4 \
	VPXOR  Y8, Y5, Y5 \
	VPXOR  Y8, Y6, Y6 \
	VPXOR  Y8, Y7, Y7 \
	ROUND16(32) \
	ROUND16(64) \
	ROUND16(96) \
	ROUND16(128) \
	ROUND16(160) \
	ROUND16(192) \
	ROUND16(224) \
	ROUND16(256) \
	ROUND16(288) \
	CMPQ   CX, $12 \
	JB     l10 \
	ROUND16(320) \
	ROUND16(352) \
	JE     l12 \
	ROUND16(384) \
	ROUND16(416) \
	LAST16(448) \
	JMP    out \
l10: \
	LAST16(320) \
	JMP    out \
l12: \
	LAST16(384)

// func keyStream16VAES(rounds int, xk2 *uint32, prev, ct, ks *byte, groups int)
//
// keyStream8AESNI with 256-bit VAES: sixteen blocks a group, two to a
// register. xk2 holds each round key twice in a row (32 bytes a round).
TEXT ·keyStream16VAES(SB), NOSPLIT, $0-48
	VZEROUPPER
	MOVQ   rounds+0(FP), CX
	MOVQ   xk2+8(FP), AX
	MOVQ   prev+16(FP), DX
	MOVQ   ct+24(FP), SI
	MOVQ   ks+32(FP), DI
	MOVQ   groups+40(FP), BX
	TESTQ   BX, BX
	JE      ks16done
	VMOVDQU (AX), Y8
	// The first group's first register: prev, then ct's first block.
	VMOVDQU (DX), X0
	VINSERTI128 $1, (SI), Y0, Y0
	JMP     ks16first

ks16loop:
	TESTQ  BX, BX
	JE     ks16done
	VMOVDQU -16(SI), Y0

ks16first:
	VMOVDQU 16(SI), Y1
	VMOVDQU 48(SI), Y2
	VMOVDQU 80(SI), Y3
	VMOVDQU 112(SI), Y4
	VMOVDQU 144(SI), Y5
	VMOVDQU 176(SI), Y6
	VMOVDQU 208(SI), Y7
	ENCRYPT16(ks16last10, ks16last12, ks16store)

ks16store:
	STORE16_NEXT(ks16loop)

ks16done:
	VZEROUPPER
	RET

// The byte order of a counter block, twice: VPSHUFB with it turns the two
// 64-bit halves of a counter kept as numbers (low, then high) into the
// big-endian block, in each 128-bit lane.
DATA ctrSwap<>+0x00(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrSwap<>+0x08(SB)/8, $0x0001020304050607
DATA ctrSwap<>+0x10(SB)/8, $0x08090a0b0c0d0e0f
DATA ctrSwap<>+0x18(SB)/8, $0x0001020304050607
GLOBL ctrSwap<>(SB), RODATA|NOPTR, $32

// Counter block pairs of the next group into Y0-Y7 from Y9 (the counters
// as numbers, two blocks apart per call), stepping Y9 by Y10.
#define CTR_NEXT(Y) \
	VPSHUFB Y11, Y9, Y \
	VPADDQ  Y10, Y9, Y9

// func ctr16VAES(rounds int, xk2 *uint32, lo, hi uint64, dst, src *byte, groups int)
//
// CTR mode over groups*16 whole blocks: block i of src is XORed with the
// AES encryption of the big-endian counter block hi:lo+i into dst (which
// may be src). The caller makes sure lo+i does not wrap. xk2 holds each
// round key twice in a row, as for keyStream16VAES.
TEXT ·ctr16VAES(SB), NOSPLIT, $0-56
	VZEROUPPER
	MOVQ    rounds+0(FP), CX
	MOVQ    xk2+8(FP), AX
	MOVQ    lo+16(FP), R8
	MOVQ    hi+24(FP), R9
	MOVQ    dst+32(FP), DI
	MOVQ    src+40(FP), SI
	MOVQ    groups+48(FP), BX
	VMOVDQU (AX), Y8
	VMOVDQU ctrSwap<>(SB), Y11
	// Y9: (lo, hi) in the low lane, (lo+1, hi) in the high one.
	VMOVQ   R8, X9
	VPINSRQ $1, R9, X9, X9
	INCQ    R8
	VMOVQ   R8, X12
	VPINSRQ $1, R9, X12, X12
	VINSERTI128 $1, X12, Y9, Y9
	// Y10: 2 in the low half of each lane.
	MOVQ    $2, R10
	VMOVQ   R10, X10
	VINSERTI128 $1, X10, Y10, Y10

ctr16loop:
	TESTQ   BX, BX
	JE      ctr16done
	CTR_NEXT(Y0)
	CTR_NEXT(Y1)
	CTR_NEXT(Y2)
	CTR_NEXT(Y3)
	CTR_NEXT(Y4)
	CTR_NEXT(Y5)
	CTR_NEXT(Y6)
	CTR_NEXT(Y7)
	ENCRYPT16(ctr16last10, ctr16last12, ctr16xor)

ctr16xor:
	VPXOR   0(SI), Y0, Y0
	VPXOR   32(SI), Y1, Y1
	VPXOR   64(SI), Y2, Y2
	VPXOR   96(SI), Y3, Y3
	VPXOR   128(SI), Y4, Y4
	VPXOR   160(SI), Y5, Y5
	VPXOR   192(SI), Y6, Y6
	VPXOR   224(SI), Y7, Y7
	STORE16_NEXT(ctr16loop)

ctr16done:
	VZEROUPPER
	RET

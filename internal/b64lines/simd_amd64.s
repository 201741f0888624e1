//go:build !purego

#include "textflag.h"

// The AVX2 base64 kernels of simd_amd64.go, after W. Muła and D. Lemire,
// "Faster Base64 Encoding and Decoding Using AVX2 Instructions", ACM
// TOMS 44(3), 2018. Operands are in Go's order: sources first, the
// destination last.

// DECODE32 decodes the 32 characters at src into 24 bytes at dst+idx, or
// jumps to bad if one of them is outside the alphabet ('=' included).
// It needs the constants LOADDEC loads.
#define DECODE32(src, dst, idx, bad) \
	VMOVDQU src, Y0 \
	VPSRLD  $4, Y0, Y1 \
	VPAND   Y11, Y1, Y1 \
	VPAND   Y11, Y0, Y2 \
	VPSHUFB Y1, Y9, Y3 \
	VPSHUFB Y2, Y8, Y4 \
	VPTEST  Y3, Y4 \
	JNZ     bad \
	VPCMPEQB Y11, Y0, Y5 \
	VPADDB  Y5, Y1, Y5 \
	VPSHUFB Y5, Y10, Y5 \
	VPADDB  Y5, Y0, Y0 \
	VPMADDUBSW Y14, Y0, Y0 \
	VPMADDWD   Y15, Y0, Y0 \
	VPSHUFB Y12, Y0, Y0 \
	VPERMD  Y0, Y13, Y0 \
	VMOVDQU X0, (dst)(idx*1) \
	VEXTRACTI128 $1, Y0, X1 \
	VMOVQ   X1, 16(dst)(idx*1)

// In DECODE32: Y1 the high nibbles (bit 5, from the next byte, is ignored
// by VPSHUFB), Y2 the low nibbles; a character is outside the alphabet
// when declo[low] & dechi[high] != 0. '/' is the one character its high
// nibble misplaces in decroll, what to add to a character for its value.
// VPMADDUBSW joins pairs of 6-bit values into 12 bits, VPMADDWD pairs of
// those into 24; VPSHUFB takes three bytes of each four, big-endian, and
// VPERMD puts the two lanes' 12 bytes together.
#define LOADDEC \
	VMOVDQU declo<>(SB), Y8 \
	VMOVDQU dechi<>(SB), Y9 \
	VMOVDQU decroll<>(SB), Y10 \
	VMOVDQU dec2f<>(SB), Y11 \
	VMOVDQU decpack<>(SB), Y12 \
	VMOVDQU decperm<>(SB), Y13 \
	VMOVDQU decmerge1<>(SB), Y14 \
	VMOVDQU decmerge2<>(SB), Y15

// func decodeLinesAVX2(dst, src *byte, lines, width, eol int) int
//
// Decodes up to lines lines of width characters (a multiple of 4, at
// least 32), each followed by "\r\n" (eol 2) or "\n" (eol 1), into
// width/4*3 bytes each at dst, and returns how many it decoded: it stops
// before the first line with a byte outside the alphabet ('=' included)
// or another line ending. The blocks of 32 characters of a line start
// every 32 characters; where the width is not a multiple of 32 the last
// block ends at the line's end, overlapping the one before (both decode
// those characters alike).
TEXT ·decodeLinesAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lines+16(FP), CX
	MOVQ width+24(FP), DX
	MOVQ eol+32(FP), BX
	XORQ AX, AX
	LOADDEC
	MOVQ DX, R13
	SUBQ $32, R13            // where a line's last block starts
	MOVQ DX, R14
	SHRQ $2, R14
	LEAQ (R14)(R14*2), R14   // bytes a line decodes to

dline:
	CMPQ AX, CX
	JGE  ddone
	CMPQ BX, $2
	JNE  dlf
	CMPB (SI)(DX*1), $0x0D
	JNE  ddone
	CMPB 1(SI)(DX*1), $0x0A
	JNE  ddone
	JMP  dblocks
dlf:
	CMPB (SI)(DX*1), $0x0A
	JNE  ddone

dblocks:
	XORQ R9, R9              // characters into the line
	XORQ R10, R10            // bytes into its output
dblock:
	CMPQ R9, R13
	JG   dlast
	DECODE32((SI)(R9*1), DI, R10, ddone)
	ADDQ $32, R9
	ADDQ $24, R10
	JMP  dblock
dlast:
	CMPQ R9, DX
	JE   dnext
	MOVQ R14, R10
	SUBQ $24, R10
	DECODE32((SI)(R13*1), DI, R10, ddone)

dnext:
	ADDQ DX, SI
	ADDQ BX, SI
	ADDQ R14, DI
	INCQ AX
	JMP  dline

ddone:
	VZEROUPPER
	MOVQ AX, ret+40(FP)
	RET

// ENCODE24 encodes the 24 bytes at src (read as 32) into 32 characters
// at dst. It needs the constants LOADENC loads.
#define ENCODE24(src, dst) \
	VMOVDQU src, Y0 \
	VPERMD  Y0, Y8, Y0 \
	VPSHUFB Y9, Y0, Y0 \
	VPAND    Y10, Y0, Y1 \
	VPMULHUW Y11, Y1, Y1 \
	VPAND    Y12, Y0, Y2 \
	VPMULLW  Y13, Y2, Y2 \
	VPOR     Y1, Y2, Y0 \
	VPSUBUSB Y14, Y0, Y1 \
	VPCMPGTB Y15, Y0, Y2 \
	VPSUBB   Y2, Y1, Y1 \
	VPSHUFB  Y1, Y7, Y1 \
	VPADDB   Y1, Y0, Y0 \
	VMOVDQU Y0, dst

// In ENCODE24: VPERMD moves bytes 0-11 to lane 0's 4-15 and 12-23 to
// lane 1's 0-11; VPSHUFB makes each 3 bytes a b c into the dword b a c b;
// VPMULHUW puts the first and third 6 bits into bytes 0 and 2 and VPMULLW
// the second and fourth into bytes 1 and 3. Then VPSUBUSB, VPCMPGTB and
// VPSUBB give each value the index of its range of the alphabet (0 for
// 0-25, 1 for 26-51, 2-11 for the digits, 12 for '+', 13 for '/') and
// enclut what to add to it for its character.
#define LOADENC \
	VMOVDQU encperm<>(SB), Y8 \
	VMOVDQU encshuf<>(SB), Y9 \
	VMOVDQU encmask1<>(SB), Y10 \
	VMOVDQU encmul1<>(SB), Y11 \
	VMOVDQU encmask2<>(SB), Y12 \
	VMOVDQU encmul2<>(SB), Y13 \
	VMOVDQU enc51<>(SB), Y14 \
	VMOVDQU enc25<>(SB), Y15 \
	VMOVDQU enclut<>(SB), Y7

// func encodeLinesAVX2(dst, src *byte, lines, lineBytes, eol, eolLen int)
//
// Encodes lines lines of lineBytes bytes (a multiple of 3, at least 24)
// from src, each into lineBytes/3*4 characters followed by eol (one or two
// bytes, eol's low ones) at dst. A group of 24 bytes is read as 32, so the caller makes
// sure the 8 bytes after the last line can be read. Groups start every 24
// bytes; where lineBytes is not a multiple of 24 the last group ends at
// the line's end, overlapping the one before.
TEXT ·encodeLinesAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lines+16(FP), CX
	MOVQ lineBytes+24(FP), DX
	MOVQ eol+32(FP), BX
	MOVQ eolLen+40(FP), R8
	LOADENC
	MOVQ DX, R13
	SUBQ $24, R13            // where a line's last group starts
	MOVQ DX, R14
	SHLQ $2, R14
	MOVQ R14, AX
	MOVQ $0, DX
	MOVQ $3, R11
	DIVQ R11
	MOVQ AX, R14             // characters a line encodes to
	MOVQ lineBytes+24(FP), DX

eline:
	TESTQ CX, CX
	JZ    edone
	XORQ R9, R9              // bytes into the line
	XORQ R10, R10            // characters into its output
egroup:
	CMPQ R9, R13
	JG   elast
	ENCODE24((SI)(R9*1), (DI)(R10*1))
	ADDQ $24, R9
	ADDQ $32, R10
	JMP  egroup
elast:
	CMPQ R9, DX
	JE   eeol
	MOVQ R14, R10
	SUBQ $32, R10
	ENCODE24((SI)(R13*1), (DI)(R10*1))
eeol:
	CMPQ R8, $2
	JNE  eeol1
	MOVW BX, (DI)(R14*1)
	JMP  enext
eeol1:
	MOVB BX, (DI)(R14*1)
enext:
	ADDQ DX, SI
	ADDQ R14, DI
	ADDQ R8, DI
	DECQ CX
	JMP  eline

edone:
	VZEROUPPER
	RET

// Decoding. declo and dechi: a character is outside the alphabet exactly
// when declo[its low nibble] & dechi[its high nibble] != 0.
DATA declo<>+0x00(SB)/8, $0x1111111111111115
DATA declo<>+0x08(SB)/8, $0x1A1B1B1B1A131111
DATA declo<>+0x10(SB)/8, $0x1111111111111115
DATA declo<>+0x18(SB)/8, $0x1A1B1B1B1A131111
GLOBL declo<>(SB), RODATA|NOPTR, $32

DATA dechi<>+0x00(SB)/8, $0x0804080402011010
DATA dechi<>+0x08(SB)/8, $0x1010101010101010
DATA dechi<>+0x10(SB)/8, $0x0804080402011010
DATA dechi<>+0x18(SB)/8, $0x1010101010101010
GLOBL dechi<>(SB), RODATA|NOPTR, $32

// decroll[high nibble, less one for '/']: 0, 16, 19, 4, -65, -65, -71, -71.
DATA decroll<>+0x00(SB)/8, $0xB9B9BFBF04131000
DATA decroll<>+0x08(SB)/8, $0x0000000000000000
DATA decroll<>+0x10(SB)/8, $0xB9B9BFBF04131000
DATA decroll<>+0x18(SB)/8, $0x0000000000000000
GLOBL decroll<>(SB), RODATA|NOPTR, $32

DATA dec2f<>+0x00(SB)/8, $0x2F2F2F2F2F2F2F2F
DATA dec2f<>+0x08(SB)/8, $0x2F2F2F2F2F2F2F2F
DATA dec2f<>+0x10(SB)/8, $0x2F2F2F2F2F2F2F2F
DATA dec2f<>+0x18(SB)/8, $0x2F2F2F2F2F2F2F2F
GLOBL dec2f<>(SB), RODATA|NOPTR, $32

// decpack: bytes 2 1 0, 6 5 4, 10 9 8, 14 13 12 of each lane, then zeros.
DATA decpack<>+0x00(SB)/8, $0x090A040506000102
DATA decpack<>+0x08(SB)/8, $0xFFFFFFFF0C0D0E08
DATA decpack<>+0x10(SB)/8, $0x090A040506000102
DATA decpack<>+0x18(SB)/8, $0xFFFFFFFF0C0D0E08
GLOBL decpack<>(SB), RODATA|NOPTR, $32

// decperm: dwords 0 1 2 4 5 6 (then 7 7, not stored).
DATA decperm<>+0x00(SB)/8, $0x0000000100000000
DATA decperm<>+0x08(SB)/8, $0x0000000400000002
DATA decperm<>+0x10(SB)/8, $0x0000000600000005
DATA decperm<>+0x18(SB)/8, $0x0000000700000007
GLOBL decperm<>(SB), RODATA|NOPTR, $32

// decmerge1: bytes 0x40 0x01 (a*64 + b); decmerge2: words 0x1000 0x0001.
DATA decmerge1<>+0x00(SB)/8, $0x0140014001400140
DATA decmerge1<>+0x08(SB)/8, $0x0140014001400140
DATA decmerge1<>+0x10(SB)/8, $0x0140014001400140
DATA decmerge1<>+0x18(SB)/8, $0x0140014001400140
GLOBL decmerge1<>(SB), RODATA|NOPTR, $32

DATA decmerge2<>+0x00(SB)/8, $0x0001100000011000
DATA decmerge2<>+0x08(SB)/8, $0x0001100000011000
DATA decmerge2<>+0x10(SB)/8, $0x0001100000011000
DATA decmerge2<>+0x18(SB)/8, $0x0001100000011000
GLOBL decmerge2<>(SB), RODATA|NOPTR, $32

// Encoding. encperm: dwords 0 0 1 2 3 4 5 6.
DATA encperm<>+0x00(SB)/8, $0x0000000000000000
DATA encperm<>+0x08(SB)/8, $0x0000000200000001
DATA encperm<>+0x10(SB)/8, $0x0000000400000003
DATA encperm<>+0x18(SB)/8, $0x0000000600000005
GLOBL encperm<>(SB), RODATA|NOPTR, $32

// encshuf: lane 0 5 4 6 5, 8 7 9 8, 11 10 12 11, 14 13 15 14;
// lane 1 1 0 2 1, 4 3 5 4, 7 6 8 7, 10 9 11 10.
DATA encshuf<>+0x00(SB)/8, $0x0809070805060405
DATA encshuf<>+0x08(SB)/8, $0x0E0F0D0E0B0C0A0B
DATA encshuf<>+0x10(SB)/8, $0x0405030401020001
DATA encshuf<>+0x18(SB)/8, $0x0A0B090A07080607
GLOBL encshuf<>(SB), RODATA|NOPTR, $32

DATA encmask1<>+0x00(SB)/8, $0x0FC0FC000FC0FC00
DATA encmask1<>+0x08(SB)/8, $0x0FC0FC000FC0FC00
DATA encmask1<>+0x10(SB)/8, $0x0FC0FC000FC0FC00
DATA encmask1<>+0x18(SB)/8, $0x0FC0FC000FC0FC00
GLOBL encmask1<>(SB), RODATA|NOPTR, $32

DATA encmul1<>+0x00(SB)/8, $0x0400004004000040
DATA encmul1<>+0x08(SB)/8, $0x0400004004000040
DATA encmul1<>+0x10(SB)/8, $0x0400004004000040
DATA encmul1<>+0x18(SB)/8, $0x0400004004000040
GLOBL encmul1<>(SB), RODATA|NOPTR, $32

DATA encmask2<>+0x00(SB)/8, $0x003F03F0003F03F0
DATA encmask2<>+0x08(SB)/8, $0x003F03F0003F03F0
DATA encmask2<>+0x10(SB)/8, $0x003F03F0003F03F0
DATA encmask2<>+0x18(SB)/8, $0x003F03F0003F03F0
GLOBL encmask2<>(SB), RODATA|NOPTR, $32

DATA encmul2<>+0x00(SB)/8, $0x0100001001000010
DATA encmul2<>+0x08(SB)/8, $0x0100001001000010
DATA encmul2<>+0x10(SB)/8, $0x0100001001000010
DATA encmul2<>+0x18(SB)/8, $0x0100001001000010
GLOBL encmul2<>(SB), RODATA|NOPTR, $32

DATA enc51<>+0x00(SB)/8, $0x3333333333333333
DATA enc51<>+0x08(SB)/8, $0x3333333333333333
DATA enc51<>+0x10(SB)/8, $0x3333333333333333
DATA enc51<>+0x18(SB)/8, $0x3333333333333333
GLOBL enc51<>(SB), RODATA|NOPTR, $32

DATA enc25<>+0x00(SB)/8, $0x1919191919191919
DATA enc25<>+0x08(SB)/8, $0x1919191919191919
DATA enc25<>+0x10(SB)/8, $0x1919191919191919
DATA enc25<>+0x18(SB)/8, $0x1919191919191919
GLOBL enc25<>(SB), RODATA|NOPTR, $32

// enclut: 65 ('A'), 71 ('a' - 26), -4 ten times ('0' - 52), -19 ('+' - 62),
// -16 ('/' - 63), 0, 0.
DATA enclut<>+0x00(SB)/8, $0xFCFCFCFCFCFC4741
DATA enclut<>+0x08(SB)/8, $0x0000F0EDFCFCFCFC
DATA enclut<>+0x10(SB)/8, $0xFCFCFCFCFCFC4741
DATA enclut<>+0x18(SB)/8, $0x0000F0EDFCFCFCFC
GLOBL enclut<>(SB), RODATA|NOPTR, $32

//go:build !purego

#include "textflag.h"

// func linesAVX2(p *byte, blocks int) (bad bool)
//
// Checks blocks*32 bytes at p for CRLF line endings, given the byte
// before p too (p[-1] must be readable): a byte is a LF exactly where the
// byte before it is a CR. Each 32-byte block is compared with LF, the
// same block one byte back with CR, and the two results must be equal;
// their differences are gathered and tested once at the end.
TEXT ·linesAVX2(SB), NOSPLIT, $0-17
	MOVQ         p+0(FP), SI
	MOVQ         blocks+8(FP), CX
	MOVQ         $0x0d, AX
	MOVQ         AX, X1
	VPBROADCASTB X1, Y1 // CR in every byte
	MOVQ         $0x0a, AX
	MOVQ         AX, X2
	VPBROADCASTB X2, Y2 // LF in every byte
	VPXOR        Y5, Y5, Y5 // differences
	VPXOR        Y6, Y6, Y6
	SHRQ         $1, CX
	JCC          pairs
	// An odd block first.
	VMOVDQU      (SI), Y0
	VMOVDQU      -1(SI), Y3
	VPCMPEQB     Y2, Y0, Y0
	VPCMPEQB     Y1, Y3, Y3
	VPXOR        Y3, Y0, Y5
	ADDQ         $32, SI

pairs:
	TESTQ CX, CX
	JE    done

loop:
	VMOVDQU  (SI), Y0
	VMOVDQU  -1(SI), Y3
	VMOVDQU  32(SI), Y4
	VMOVDQU  31(SI), Y7
	VPCMPEQB Y2, Y0, Y0
	VPCMPEQB Y1, Y3, Y3
	VPCMPEQB Y2, Y4, Y4
	VPCMPEQB Y1, Y7, Y7
	VPXOR    Y3, Y0, Y0
	VPXOR    Y7, Y4, Y4
	VPOR     Y0, Y5, Y5
	VPOR     Y4, Y6, Y6
	ADDQ     $64, SI
	DECQ     CX
	JNE      loop

done:
	VPOR       Y6, Y5, Y5
	VPTEST     Y5, Y5
	SETNE      AX
	VZEROUPPER
	MOVB       AX, bad+16(FP)
	RET

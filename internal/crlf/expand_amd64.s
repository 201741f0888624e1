//go:build !purego

#include "textflag.h"

// func expandLFAVX2(dst *byte, dstLen int, src *byte, srcLen int) (nd, ns int)
//
// Copies src to dst with every LF made CRLF (src holds no CR), 32 bytes
// of src at a time, while src has 64 bytes left and dst 96 (a block may
// read 32 bytes past its end and store up to 96 bytes: its lines are
// copied with overlapping 32-byte moves, each followed by CRLF). It
// returns how much it wrote and read, whole blocks. Beyond nd, up to 96
// bytes of dst may have been written over.
TEXT ·expandLFAVX2(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         dstLen+8(FP), R8
	MOVQ         src+16(FP), SI
	MOVQ         srcLen+24(FP), R9
	MOVQ         DI, R10
	MOVQ         SI, R11
	ADDQ         DI, R8               // the end of dst
	ADDQ         SI, R9               // the end of src
	MOVQ         $0x0a, AX
	MOVQ         AX, X1
	VPBROADCASTB X1, Y1               // LF in every byte
	MOVQ         $0x0a0d, R12         // CR, LF

loop:
	LEAQ      64(SI), AX
	CMPQ      AX, R9
	JA        done
	LEAQ      96(DI), AX
	CMPQ      AX, R8
	JA        done
	VMOVDQU   (SI), Y0
	VPCMPEQB  Y1, Y0, Y2
	VPMOVMSKB Y2, BX
	TESTL     BX, BX
	JNZ       lines
	VMOVDQU   Y0, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DI
	JMP       loop

lines:
	XORQ CX, CX // where the next line starts in the block

each:
	BSFL    BX, DX          // the next LF
	VMOVDQU (SI)(CX*1), Y3  // the line up to it (and more, written over next)
	VMOVDQU Y3, (DI)
	ADDQ    DX, DI
	SUBQ    CX, DI
	MOVW    R12, (DI)
	ADDQ    $2, DI
	LEAQ    1(DX), CX
	LEAL    -1(BX), AX
	ANDL    AX, BX
	JNZ     each
	VMOVDQU (SI)(CX*1), Y3  // the rest of the block
	VMOVDQU Y3, (DI)
	ADDQ    $32, DI
	SUBQ    CX, DI
	ADDQ    $32, SI
	JMP     loop

done:
	VZEROUPPER
	SUBQ R10, DI
	SUBQ R11, SI
	MOVQ DI, nd+32(FP)
	MOVQ SI, ns+40(FP)
	RET

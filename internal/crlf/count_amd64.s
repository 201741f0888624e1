//go:build !purego

#include "textflag.h"

// func countCRLFAVX2(p *byte, blocks int) (cr, lf int)
//
// The number of CR and of LF bytes in blocks*32 bytes at p, in one pass:
// each 32-byte block is compared with both, the matches counted in byte
// lanes (a match is -1, subtracted), and the lanes summed into 64-bit
// counts (VPSADBW) before they can overflow, every 255 blocks at most.
TEXT ·countCRLFAVX2(SB), NOSPLIT, $0-32
	VZEROUPPER
	MOVQ         p+0(FP), SI
	MOVQ         blocks+8(FP), CX
	MOVQ         $0x0d, AX
	MOVQ         AX, X1
	VPBROADCASTB X1, Y1               // CR in every byte
	MOVQ         $0x0a, AX
	MOVQ         AX, X2
	VPBROADCASTB X2, Y2               // LF in every byte
	VPXOR        Y7, Y7, Y7           // zero, for VPSADBW
	VPXOR        Y5, Y5, Y5           // CR count, four 64-bit lanes
	VPXOR        Y6, Y6, Y6           // LF count

outer:
	TESTQ CX, CX
	JE    done
	MOVQ  CX, DX
	CMPQ  DX, $255
	JBE   inner0
	MOVQ  $255, DX

inner0:
	SUBQ  DX, CX
	VPXOR Y3, Y3, Y3 // CR matches, per byte lane
	VPXOR Y4, Y4, Y4 // LF matches

inner:
	VMOVDQU (SI), Y0
	VPCMPEQB Y1, Y0, Y8
	VPCMPEQB Y2, Y0, Y9
	VPSUBB   Y8, Y3, Y3
	VPSUBB   Y9, Y4, Y4
	ADDQ     $32, SI
	DECQ     DX
	JNE      inner
	VPSADBW  Y7, Y3, Y3
	VPSADBW  Y7, Y4, Y4
	VPADDQ   Y3, Y5, Y5
	VPADDQ   Y4, Y6, Y6
	JMP      outer

done:
	// Sum the four lanes of each count.
	VEXTRACTI128 $1, Y5, X3
	VPADDQ       X3, X5, X5
	VPSHUFD      $0x4e, X5, X3
	VPADDQ       X3, X5, X5
	VEXTRACTI128 $1, Y6, X4
	VPADDQ       X4, X6, X6
	VPSHUFD      $0x4e, X6, X4
	VPADDQ       X4, X6, X6
	VZEROUPPER   // before the legacy-SSE MOVQs below; the low halves stay
	MOVQ         X5, AX
	MOVQ         X6, BX
	MOVQ         AX, cr+16(FP)
	MOVQ         BX, lf+24(FP)
	RET

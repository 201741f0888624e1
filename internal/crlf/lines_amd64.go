//go:build !purego

package crlf

import (
	"golang.org/x/sys/cpu"

	"github.com/mailseal/mailseal/internal/asmrun"
)

// haveLinesAsm says whether checkLines runs the assembly (AVX2, with the
// operating system saving the YMM registers).
var haveLinesAsm = cpu.X86.HasAVX2

//go:noescape
func linesAVX2(p *byte, blocks int) (bad bool)

// checkLines reports whether data has CRLF line endings only, given
// whether the byte before it was a CR (prevCR: its LF must come first),
// and whether its last byte is a CR.
func checkLines(data []byte, prevCR bool) (ok, endsCR bool) {
	if !haveLinesAsm || len(data) < 33 {
		return checkLinesGeneric(data, prevCR)
	}
	// The first byte here; the assembly checks each byte after it
	// against the byte before.
	if (data[0] == '\n') != prevCR {
		return false, false
	}
	done := 1
	for len(data)-done >= 32 {
		n := min(len(data)-done, asmRun) / 32
		if linesRun(data[done:], n) {
			return false, false
		}
		done += n * 32
	}
	return checkLinesGeneric(data[done:], data[done-1] == '\r')
}

//go:noescape
func expandLFAVX2(dst *byte, dstLen int, src *byte, srcLen int) (nd, ns int)

// ExpandLF copies the start of src, which holds no CR, to dst with every
// LF made CRLF, and returns how much it wrote and read: it stops where
// dst or src runs short, perhaps inside a line, never between a CR and
// its LF. It may write over dst beyond nd.
func ExpandLF(dst, src []byte) (nd, ns int) {
	for haveLinesAsm && len(src)-ns >= 64 && len(dst)-nd >= 96 {
		d, s := expandRun(dst[nd:], src[ns:])
		nd, ns = nd+d, ns+s
	}
	d, s := expandLines(dst[nd:], src[ns:])
	return nd + d, ns + s
}

// The assembly is called through these Go functions, at most asmRun
// bytes of input at a time: a goroutine inside the assembly is out of the
// scheduler's reach, and the entry of a function that is not inlined is
// where it can be stopped (the loops around them have no such point).

//go:noinline
func linesRun(p []byte, blocks int) bool {
	asmCalls.Called(blocks * 32)
	return linesAVX2(&p[0], blocks)
}

//go:noinline
func expandRun(dst, src []byte) (nd, ns int) {
	src = src[:min(len(src), asmRun)]
	dst = dst[:min(len(dst), 3*asmRun)]
	asmCalls.Called(len(src))
	return expandLFAVX2(&dst[0], len(dst), &src[0], len(src))
}

// asmCalls is told the input bytes of each assembly call
// (TestAssemblyRuns).
var asmCalls asmrun.Hook

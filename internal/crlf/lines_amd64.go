//go:build !purego

package crlf

import "golang.org/x/sys/cpu"

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
		n := min(len(data)-done, checkRun) / 32
		if linesAVX2(&data[done], n) {
			return false, false
		}
		done += n * 32
	}
	return checkLinesGeneric(data[done:], data[done-1] == '\r')
}

//go:build !purego

package crlf

import "golang.org/x/sys/cpu"

// haveCountAsm says whether countCRLF runs the assembly (AVX2, with the
// operating system saving the YMM registers).
var haveCountAsm = cpu.X86.HasAVX2

//go:noescape
func countCRLFAVX2(p *byte, blocks int) (cr, lf int)

// countCRLF returns the number of CR and of LF bytes in data: in one pass
// with AVX2, where bytes.Count twice read it twice.
func countCRLF(data []byte) (cr, lf int) {
	if !haveCountAsm {
		return countCRLFGeneric(data)
	}
	for len(data) >= 32 {
		n := min(len(data), countRun) / 32
		c, l := countCRLFAVX2(&data[0], n)
		cr, lf = cr+c, lf+l
		data = data[n*32:]
	}
	c, l := countCRLFGeneric(data)
	return cr + c, lf + l
}

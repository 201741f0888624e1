//go:build purego || !amd64

package crlf

// haveCountAsm: no assembly here.
const haveCountAsm = false

// countCRLF returns the number of CR and of LF bytes in data.
func countCRLF(data []byte) (cr, lf int) { return countCRLFGeneric(data) }
